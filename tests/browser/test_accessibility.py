"""Accessible, and usable on a phone (issue 15 item 23).

The walk: every page of the demo (tests/browser/demo_pages.py), as the person who sees it and through each
role's own navigation, is checked by axe-core (vendored, tests/browser/vendor) against WCAG 2.1 A and AA,
with no serious or critical violation allowed; then at 390 × 844 px nothing scrolls sideways and every tap
target is at least 24 px (axe's target-size rule, WCAG 2.2 2.5.8, which spares links inside a sentence).
"""

from __future__ import annotations

import pytest

from portal.demo import DEMO_PASSWORD
from tests.browser.demo_pages import AXE, EMAILS, ROLES, demo_world, page_list, visits
from tests.conftest import browser_login

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

AXE_RUN = """async (options) => {
  const result = await axe.run(document, options);
  return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v =>
    `${v.id} (${v.impact}): ${v.help} at ` + v.nodes.slice(0, 4).map(n => n.target.join(' ')).join(' | '));
}"""
WCAG21 = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
          "resultTypes": ["violations"]}
TARGET_SIZE = {"runOnly": {"type": "rule", "values": ["target-size"]}, "resultTypes": ["violations"]}
SIDEWAYS = """async () => {
  // After two frames the page has handled the resize (the burn-up charts redraw at the new width).
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  const width = document.documentElement.clientWidth;
  const wide = Array.from(document.querySelectorAll('body *')).filter(e => {
    const box = e.getBoundingClientRect();
    return box.width && box.right > width + 1 && !e.closest('.table-scroll, .scroll, .matrix-scroll');
  }).slice(0, 3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' +
    String(e.className).split(' ').join('.') : '') + ' ' + Math.round(e.getBoundingClientRect().right) + 'px');
  return [document.documentElement.scrollWidth, wide];
}"""


def axe_run(page, options: dict) -> list[str]:
    return page.evaluate(AXE_RUN, options)


@pytest.mark.browser
def test_every_page_passes_axe_and_fits_a_phone(app, browser, live_server, committed, run_jobs):
    with demo_world(app, committed, run_jobs) as ids:
        pages = page_list(app, ids)
        contexts = {}
        nav = {}
        for role in ROLES:
            context = contexts[role] = browser.new_context(base_url=live_server, viewport=DESKTOP)
            context.set_default_timeout(15_000)
            context.add_init_script(path=str(AXE))
            page = context.new_page()
            browser_login(page, EMAILS[role], DEMO_PASSWORD)
            nav[role] = ["/"] + [href for href in page.eval_on_selector_all(
                "header nav a[href]", "links => links.map(a => a.getAttribute('href'))") if href.startswith("/")]

        problems: list[str] = []
        checked = 0
        for visit in visits(pages, nav):
            page = contexts[visit.role].pages[0]
            page.set_viewport_size(DESKTOP)
            answer = page.goto(visit.path)
            where = f"{visit.path} as {visit.role}"
            if answer.status != 200:
                problems.append(f"{where}: answered {answer.status}")
                continue
            page.wait_for_load_state("load")
            problems += [f"{where}: {v}" for v in axe_run(page, WCAG21)]
            page.set_viewport_size(PHONE)
            width, wide = page.evaluate(SIDEWAYS)
            if width > PHONE["width"]:
                problems.append(f"{where}: {width} px wide at {PHONE['width']} px ({', '.join(wide)})")
            problems += [f"{where} (phone): {v}" for v in axe_run(page, TARGET_SIZE)]
            checked += 1
        for context in contexts.values():
            context.close()
    assert checked >= len(pages)
    assert problems == [], "\n".join(problems)


# Keyboard and focus ---------------------------------------------------------------------------------------

ACTIVE = "() => { const a = document.activeElement; return a && a !== document.body ? (a.id || a.tagName) : null; }"


def _inside(page, selector: str) -> bool:
    return page.evaluate("s => !!(document.activeElement && document.activeElement.closest(s))", selector)


@pytest.fixture
def pm_project(committed):
    """A PM's project in In Progress with one offering: (project id, offering id)."""
    from tests.factories import OfferingFactory, ProjectFactory, UserFactory

    with committed() as session:
        pm = UserFactory(email="pm@example.test", name="Pat PM", role="pm")
        offering = OfferingFactory(project=ProjectFactory(name="Harbour app", pm=pm), name="Build")
        session.flush()
        return offering.project_id, offering.id


@pytest.mark.browser
def test_after_an_htmx_swap_the_focus_is_in_the_region_that_changed(page, pm_project):
    """The swapped row used to take the focus with it to <body>, so the next Tab restarted at the top."""
    project_id, offering_id = pm_project
    row = f"#offering-{offering_id}"
    browser_login(page, "pm@example.test")
    page.goto(f"/projects/{project_id}/offerings")

    page.click(f"{row} button:has-text('Edit')")
    page.wait_for_selector(f"{row} form")
    assert _inside(page, row), page.evaluate(ACTIVE)
    page.keyboard.press("Tab")  # on into the form, not back to the top of the page
    assert page.evaluate("document.activeElement.name") == "name"

    # A refusal from the server: the focus is on the field refused, which names its error.
    page.eval_on_selector(f"{row} form", "form => { form.noValidate = true; }")  # past the browser's own check
    page.fill(f"{row} input[name=sold_hours]", "-5")
    page.click(f"{row} button:has-text('Save')")
    page.wait_for_selector(f"{row} .error")
    assert page.evaluate("document.activeElement.name") == "sold_hours"
    described = page.evaluate("document.activeElement.getAttribute('aria-describedby')")
    assert page.locator(f"#{described}").inner_text() == page.locator(f"{row} .error").inner_text()

    page.fill(f"{row} input[name=sold_hours]", "90")
    page.click(f"{row} button:has-text('Save')")
    page.wait_for_selector(f"{row} td:has-text('90.00')")
    assert _inside(page, row), page.evaluate(ACTIVE)

    page.click(f"{row} button:has-text('Edit')")
    page.click(f"{row} button:has-text('Cancel')")
    page.wait_for_selector(f"{row} button:has-text('Edit')")
    assert _inside(page, row), page.evaluate(ACTIVE)


@pytest.mark.browser
def test_a_skip_link_reaches_the_main_content(page, pm_project):
    project_id, _ = pm_project
    browser_login(page, "pm@example.test")
    page.goto(f"/projects/{project_id}")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    assert skip.is_visible() and skip.bounding_box()["y"] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate(ACTIVE) == "main"
    page.keyboard.press("Tab")
    assert _inside(page, "main")


@pytest.mark.browser
def test_the_move_dialog_is_modal(page, pm_project):
    project_id, _ = pm_project
    browser_login(page, "pm@example.test")
    page.goto(f"/projects/{project_id}")
    page.focus("#move-button")
    page.keyboard.press("Enter")
    dialog = page.locator("#move-dialog")
    dialog.wait_for()
    assert dialog.get_attribute("aria-modal") == "true" and dialog.get_attribute("role") == "dialog"
    assert _inside(page, "#move-dialog")
    for key in ["Tab"] * 8 + ["Shift+Tab"] * 12:  # round and round: the focus never leaves the dialog
        page.keyboard.press(key)
        assert _inside(page, "#move-dialog"), (key, page.evaluate(ACTIVE))
    page.locator("#main h1").click(force=True)  # a click on the page behind does nothing
    assert _inside(page, "#move-dialog")

    # Choosing a stage re-renders the dialog: the focus stays on the choice.
    choice = page.locator("#move-dialog select[name=stage_id] option:not([value=''])").first.inner_text()
    page.select_option("#move-dialog select[name=stage_id]", label=choice)
    page.wait_for_selector(f"#move-dialog button:has-text('Move to {choice}')")
    assert page.evaluate("document.activeElement.name") == "stage_id"

    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    assert page.evaluate(ACTIVE) == "move-button"


@pytest.mark.browser
def test_escape_closes_the_admin_menu(page, committed):
    from tests.factories import UserFactory

    with committed():
        UserFactory(email="admin@example.test", role="admin", permissions=["system_settings"])
    browser_login(page, "admin@example.test")
    page.focus("nav summary:has-text('Admin')")
    page.keyboard.press("Enter")
    users = page.locator("nav .menu a", has_text="Users")
    assert users.is_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Organization settings"
    page.keyboard.press("Escape")
    assert not users.is_visible()
    assert page.evaluate("document.activeElement.textContent") == "Admin"


@pytest.mark.browser
def test_on_a_phone_the_navigation_is_a_menu_and_stays_on_screen(page, committed):
    from tests.factories import UserFactory

    with committed():
        UserFactory(email="admin@example.test", role="admin", permissions=["system_settings"])
    page.set_viewport_size(PHONE)
    page.context.add_init_script(path=str(AXE))
    browser_login(page, "admin@example.test")
    toggle = page.locator("button.nav-toggle")
    projects = page.locator("nav a:has-text('Projects')")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert not projects.is_visible()

    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true" and projects.is_visible()
    page.click("nav summary:has-text('Admin')")
    targets = page.eval_on_selector_all(
        "#mainnav a, #mainnav summary, #whoami button, button.nav-toggle",
        "els => els.filter(e => e.offsetParent).map(e => [e.textContent.trim(), e.getBoundingClientRect().toJSON()])")
    assert len(targets) >= 12
    for name, box in targets:
        assert box["height"] >= 44, f"{name}: {box['height']} px tall"
        assert box["left"] >= 0 and box["right"] <= PHONE["width"], f"{name} is off the screen: {box}"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_run(page, WCAG21) == [] and axe_run(page, TARGET_SIZE) == []  # the open menu too

    page.focus("nav a:has-text('Projects')")
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false" and not projects.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('nav-toggle')")


@pytest.mark.browser
def test_the_admin_menu_stays_on_screen_when_the_bar_wraps(page, committed):
    """A long name wraps the bar and puts Admin near the left edge: the menu used to open off the screen."""
    from tests.factories import UserFactory

    with committed():
        UserFactory(email="super@example.test", role="super_admin", name="Samantha Superintendent-Longname")
    browser_login(page, "super@example.test")
    for width in (800, 1024, 1280, 1600):
        page.set_viewport_size({"width": width, "height": 800})
        page.click("nav summary:has-text('Admin')")
        # The details' toggle event (which places the menu) is dispatched after the click, as a task of its own.
        page.wait_for_function("""() => { const box = document.querySelector('.menu-items').getBoundingClientRect();
                                          return box.width > 0 && box.left >= 0 && box.right <= innerWidth; }""",
                               timeout=5_000)
        page.keyboard.press("Escape")


@pytest.mark.browser
def test_the_close_period_dialog_is_modal_too(page, committed):
    from datetime import date

    from tests.factories import FiscalPeriodFactory, UserFactory

    with committed() as session:
        UserFactory(email="admin@example.test", role="admin")
        period_id = FiscalPeriodFactory(name="2026-02", start_date=date(2026, 2, 1), end_date=date(2026, 2, 28)).id
        session.flush()
    browser_login(page, "admin@example.test")
    page.goto("/finance/fiscal-periods")
    opener = page.locator(f"#period-{period_id} button:has-text('Close…')")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#close-dialog [role=dialog][aria-modal=true]")
    dialog.wait_for()
    assert _inside(page, "#close-dialog")
    for _ in range(6):
        page.keyboard.press("Tab")
        assert _inside(page, "#close-dialog"), page.evaluate(ACTIVE)
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    assert page.evaluate("document.activeElement.textContent") == "Close…"
