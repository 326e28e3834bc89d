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
