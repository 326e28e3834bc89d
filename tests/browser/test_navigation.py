"""The top bar's Admin menu: it opens, leads to its pages, and closes on a click elsewhere."""

from __future__ import annotations

import pytest

from portal.auth.models import Permission
from tests.conftest import browser_login
from tests.factories import UserFactory


@pytest.mark.browser
def test_the_admin_menu_opens_navigates_and_closes_on_an_outside_click(live_server, page, committed):
    with committed():
        UserFactory(email="admin@example.test", role="admin", permissions=[Permission.SYSTEM_SETTINGS])

    browser_login(page, "admin@example.test")
    audit_link = page.locator("nav .menu a", has_text="Audit log")
    assert not audit_link.is_visible()

    page.click("nav summary:has-text('Admin')")
    assert audit_link.is_visible()
    page.click("main h1")
    assert not audit_link.is_visible()

    page.click("nav summary:has-text('Admin')")
    audit_link.click()
    page.wait_for_url("**/audit*")
    assert page.locator("main h1").inner_text() == "Audit log"


@pytest.mark.browser
def test_my_time_tells_an_admin_without_a_resource_why_and_links_their_login(live_server, page, committed):
    """The menu's My time used to lead admins and super-admins without a resource to a 403 page."""
    with committed():
        UserFactory(email="super@example.test", role="super_admin", name="Sam Super")

    browser_login(page, "super@example.test")
    page.click("nav a:has-text('My time')")
    page.wait_for_selector("#no-resource:has-text('Your login is not linked to a resource')")
    assert "super@example.test" in page.locator("#no-resource").inner_text()

    page.click("#no-resource a:has-text('Resources')")
    page.fill("#resource-form input[name=name]", "Sam Super")
    page.fill("#resource-form input[name=email]", "sam@example.test")
    page.fill("#resource-form input[name=login_email]", "super@example.test")
    page.click("#resource-form button[type=submit]")
    page.wait_for_selector("h1:has-text('Sam Super')")
    page.click("nav a:has-text('My time')")
    page.wait_for_selector("main h1:text-is('My time')")
    assert page.locator("#week").count() == 1


@pytest.mark.browser
def test_pages_have_a_favicon_and_nothing_is_missing(live_server, page, committed):
    with committed():
        UserFactory(email="admin@example.test", role="admin", permissions=[Permission.SYSTEM_SETTINGS])
    missing = []
    page.on("response", lambda response: missing.append(response.url) if response.status == 404 else None)

    page.goto("/login")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    browser_login(page, "admin@example.test")
    for path in ("/", "/projects", "/settings/stages", "/time"):
        page.goto(path)
    answer = page.request.get(icon)
    assert answer.status == 200 and answer.headers["content-type"].startswith("image/svg+xml")
    assert missing == []


CUT_SELECTS = """() => Array.from(document.querySelectorAll('select')).filter(s => {
  const option = s.options[s.selectedIndex];
  if (!s.offsetParent || !option) return false;
  const style = getComputedStyle(s);
  const pen = document.createElement('canvas').getContext('2d');
  pen.font = style.font;
  const room = s.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 16;  // the arrow
  return pen.measureText(option.text).width > room;
}).map(s => s.name + ': ' + s.options[s.selectedIndex].text)"""


@pytest.mark.browser
def test_no_select_cuts_off_its_choice(live_server, page, committed):
    """The deals table squeezed each deal's stage to "Closed Wo"."""
    from tests.factories import DealFactory

    with committed():
        UserFactory(email="super@example.test", role="super_admin")
        for name in ("Harbour", "Depot", "Bridge"):
            DealFactory(name=f"{name} refurbishment and extension deal", stage="closed_won")
    browser_login(page, "super@example.test")
    for path in ("/deals", "/settings/organization", "/projects/new", "/projects"):
        page.goto(path)
        assert page.evaluate(CUT_SELECTS) == [], path
