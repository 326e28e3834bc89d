"""Finance → Fiscal periods (issue 16): an admin puts a period on hold, an approval's actuals wait for it, and
closing it for good (after confirming with its name) posts them late in the next open period."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.finance.posting import post_timesheet
from portal.org.services import get_settings
from tests.conftest import browser_login
from tests.factories import CostCategoryFactory, FiscalPeriodFactory, OfferingFactory, ResourceFactory, UserFactory
from tests.finance.support import timesheet

FEB_WEEK = date(2026, 2, 9)


@pytest.mark.browser
def test_hold_then_close_a_period_and_find_its_actuals_posted_late(page, committed, run_jobs):
    with committed() as session:
        settings = get_settings(session)
        settings.finance_sync_enabled = True
        settings.default_cost_category_id = CostCategoryFactory(name="Professional services").id
        UserFactory(email="admin@example.test", role="admin")
        periods = {}
        for month in (2, 3):
            start = date(2026, month, 1)
            end = date(2026, month + 1, 1) - timedelta(days=1)
            periods[month] = FiscalPeriodFactory(name=f"2026-0{month}", start_date=start, end_date=end)
        offering = OfferingFactory(project__name="Northwind")
        sheet = timesheet(session, ResourceFactory(name="Dana", rates={"cost": "50"}), FEB_WEEK,
                          [(offering, FEB_WEEK, 8)], status="approved")
        february, sheet_id = periods[2].id, sheet.id

    browser_login(page, "admin@example.test")
    page.goto("/finance/fiscal-periods")
    row = page.locator(f"#period-{february}")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button:has-text('Put on hold')").click()
    page.wait_for_selector(f"#period-{february} .period-state:has-text('On hold')")

    with committed() as session:  # the approval's posting job runs while February is on hold
        post_timesheet(session, sheet_id)
    page.reload()
    assert "1 portion · 8.00 h · 400.00" in row.locator(".holds").inner_text()

    row.locator("button:has-text('Close…')").click()
    dialog = page.locator("#close-dialog [role=dialog]")
    dialog.wait_for()
    assert "cannot be reopened, by anyone" in dialog.inner_text()
    assert "1 portion held back while it was on hold (8.00 h, 400.00)" in dialog.inner_text()
    page.fill("#confirm_name", "February")
    page.click("button:has-text('Close 2026-02 permanently')")
    page.wait_for_selector("#close-form .form-error")
    assert "type the period's name (2026-02) to confirm" in page.locator("#close-form").inner_text()
    page.fill("#confirm_name", "2026-02")
    page.click("button:has-text('Close 2026-02 permanently')")
    page.wait_for_selector("text=Closed 2026-02 for good.")
    run_jobs()
    page.reload()
    assert row.locator(".period-state").inner_text() == "Closed"
    assert row.locator("button").count() == 0 and "Nobody can reopen it" in row.inner_text()
    assert "1 posted late after it (400.00)" in row.inner_text()

    page.goto(f"/timesheets/{sheet_id}")
    late = page.locator("#timesheet-finance .split-mark:has-text('late')")
    assert "belongs to 2026-02 (closed)" in late.get_attribute("title")
    assert "Sun 01 Mar 2026" in page.locator("#timesheet-finance").inner_text()
