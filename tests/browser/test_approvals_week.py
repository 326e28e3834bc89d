"""Approvals (issue 15 item 20): a timesheet expands into its days × projects inline, and the approver
decides from the queue without opening it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import browser_login
from tests.factories import OfferingFactory, ProjectFactory, ResourceFactory, UserFactory
from tests.finance.support import MONDAY, timesheet


@pytest.mark.browser
def test_an_approver_reads_a_week_inline_and_approves_it(page, committed):
    with committed() as session:
        UserFactory(email="approver@example.test", name="Avery", role="approver")
        build = OfferingFactory(project=ProjectFactory(name="Northwind"), name="Build")
        audit = OfferingFactory(project=ProjectFactory(name="Globex"), name="Audit")
        dana = timesheet(session, ResourceFactory(name="Dana"), MONDAY,
                         [(build, MONDAY, 8), (audit, MONDAY + timedelta(days=1), 3)], status="submitted")
        dana.entries[1].description = "Interviews"
        lee = timesheet(session, ResourceFactory(name="Lee"), MONDAY, [(build, MONDAY, 2)], status="submitted")
        dana_id, lee_id = dana.id, lee.id

    browser_login(page, "approver@example.test")
    page.goto(f"/approvals?week_from={MONDAY}&week_to={MONDAY}")
    assert page.locator(f"#week-of-{dana_id}").is_hidden()
    toggle = page.locator(f"#timesheet-row-{dana_id} [data-toggle-row]")
    toggle.click()
    grid = page.locator(f"#sheet-grid-{dana_id}")
    grid.wait_for()
    assert toggle.get_attribute("aria-expanded") == "true"
    text = grid.inner_text()
    assert "Northwind · Build" in text and "Globex · Audit" in text and "11.00" in text
    assert "Interviews" in page.locator(f"#sheet-week-{dana_id}").inner_text()
    assert page.locator(f"#sheet-grid-{lee_id}").count() == 0  # only the expanded one was fetched
    toggle.click()
    assert page.locator(f"#week-of-{dana_id}").is_hidden()

    page.check(f"#timesheet-row-{dana_id} input[name=selected]")
    page.click("button:has-text('Approve selected')")
    page.wait_for_selector("text=Approved 1 timesheet.")
    assert page.locator(f"#timesheet-row-{lee_id}").count() == 1
