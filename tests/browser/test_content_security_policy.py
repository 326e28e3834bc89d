"""The pages work under their Content-Security-Policy: no violation is reported while a PM moves through a
project's tabs (htmx swaps, its request indicator, the tab marker in static/js) and an admin opens the
admin pages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import browser_login
from tests.factories import OfferingFactory, ProjectFactory, UserFactory


@pytest.mark.browser
def test_pages_and_htmx_swaps_break_no_rule_of_the_policy(page, committed):
    with committed() as session:
        pm = UserFactory(email="pm@example.test", name="Pat PM", role="pm")
        UserFactory(email="admin@example.test", name="Ada Admin", role="admin")
        project = ProjectFactory(name="Northwind portal", pm_id=pm.id)
        OfferingFactory(project=project, name="Build", budget_amount=Decimal("1000"))
        session.flush()
        project_id = project.id
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text else None)

    browser_login(page, "pm@example.test")
    page.goto(f"/projects/{project_id}")
    for tab in ("Offerings", "Team", "Finance", "Overview"):
        page.click(f"nav.tabs >> text={tab}")
        page.wait_for_selector(f"nav.tabs a[aria-current=page]:has-text('{tab}')")  # the marker: static/js
    page.click("form.whoami button, .whoami button")
    browser_login(page, "admin@example.test")
    for path in ("/admin/users", "/settings/organization", "/settings/audit", "/projects"):
        page.goto(path)
    assert violations == []
