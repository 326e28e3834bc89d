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
SIDEWAYS = """() => {
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
