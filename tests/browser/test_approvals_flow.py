"""An approver bulk-approves a week, the project's Finance tab shows the actuals, a recall removes them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.org.services import get_settings
from tests.conftest import browser_login
from tests.factories import CostCategoryFactory, OfferingFactory, ProjectFactory, ResourceFactory, UserFactory
from tests.finance.support import MONDAY, timesheet


@pytest.mark.browser
def test_bulk_approval_posts_actuals_and_a_recall_removes_them(page, committed, run_jobs):
    with committed() as session:
        settings = get_settings(session)
        settings.finance_sync_enabled = True
        settings.default_cost_category_id = CostCategoryFactory(name="Professional services").id
        UserFactory(email="approver@example.test", name="Avery", role="approver")
        project = ProjectFactory(name="Northwind")
        build = OfferingFactory(project=project, name="Build")
        week = [timesheet(session, ResourceFactory(name=name, rates={"cost": "50"}), MONDAY, [(build, MONDAY, 8)],
                          status="submitted") for name in ("Dana", "Lee")]
        later = timesheet(session, ResourceFactory(name="Sky", rates={"cost": "50"}), MONDAY + timedelta(weeks=1),
                          [(build, MONDAY + timedelta(weeks=1), 8)], status="submitted")
        project_id, dana_sheet, later_id = project.id, week[0].id, later.id

    browser_login(page, "approver@example.test")
    page.goto(f"/approvals?week_from={MONDAY}&week_to={MONDAY}")
    assert page.locator("#queue-count").inner_text() == "2"
    page.check("input[data-select-all]")
    page.click("button:has-text('Approve selected')")
    page.wait_for_selector("text=Approved 2 timesheets.")
    assert page.locator("#queue-count").inner_text() == "0"

    page.goto(f"/projects/{project_id}/finance")
    page.wait_for_selector("#posting-progress")  # the tab polls while the postings are queued
    run_jobs()
    page.wait_for_selector("#finance-actual-total:has-text('800.00')")
    assert "Dana" in page.locator("#finance-items").inner_text()

    page.goto(f"/timesheets/{dana_sheet}")
    page.fill("#reason-recall", "Booked on the wrong project")
    page.click("button:has-text('Recall approval')")
    page.wait_for_selector("text=Returned to draft after a recall")
    run_jobs()
    page.goto(f"/projects/{project_id}/finance")
    page.wait_for_selector("#finance-actual-total:has-text('400.00')")
    assert "Dana" not in page.locator("#finance-items").inner_text()

    page.goto(f"/timesheets/{later_id}")  # the other week was not touched
    page.wait_for_selector(".badge-submitted")


@pytest.mark.browser
def test_a_refused_bulk_rejection_keeps_the_ticks_and_approved_weeks_offer_no_buttons(page, committed):
    with committed() as session:
        UserFactory(email="approver@example.test", name="Avery", role="approver")
        build = OfferingFactory(project=ProjectFactory(name="Northwind"), name="Build")
        sheets = [timesheet(session, ResourceFactory(name=name), MONDAY, [(build, MONDAY, 8)], status="submitted")
                  for name in ("Dana", "Lee", "Sky")]
        timesheet(session, ResourceFactory(name="Ola"), MONDAY, [(build, MONDAY, 8)], status="approved")
        dana, lee = sheets[0].id, sheets[1].id

    browser_login(page, "approver@example.test")
    page.goto("/approvals")
    page.check(f"#timesheet-row-{dana} input[name=selected]")
    page.check(f"#timesheet-row-{lee} input[name=selected]")
    page.click("button:has-text('Reject selected')")
    page.wait_for_selector("#bulk-form .error:has-text('Enter a reason.')")
    assert page.locator(f"#timesheet-row-{dana} input[name=selected]").is_checked()
    assert page.locator(f"#timesheet-row-{lee} input[name=selected]").is_checked()
    assert page.locator("input[name=selected]:checked").count() == 2  # Sky was not ticked and is not now

    page.fill("#bulk-form textarea[name=reason]", "Split the hours by task")
    page.click("button:has-text('Reject selected')")
    page.wait_for_selector("text=Rejected 2 timesheets.")
    assert page.locator("#queue-count").inner_text() == "1"

    page.select_option("#f-status", "approved")
    page.wait_for_selector("#approval-rows td:has-text('Ola')")
    assert page.locator("button:has-text('Approve selected')").count() == 0
    assert page.locator("button:has-text('Reject selected')").count() == 0
    assert "Recall approval" in page.locator("#no-bulk").inner_text()


@pytest.mark.browser
def test_the_posting_banner_updates_itself_after_an_approval(page, committed, run_jobs):
    with committed() as session:
        settings = get_settings(session)
        settings.finance_sync_enabled = True
        settings.default_cost_category_id = CostCategoryFactory(name="Professional services").id
        UserFactory(email="approver@example.test", name="Avery", role="approver")
        build = OfferingFactory(project=ProjectFactory(name="Northwind"), name="Build")
        sheet = timesheet(session, ResourceFactory(name="Dana", rates={"cost": "50"}), MONDAY, [(build, MONDAY, 8)],
                          status="submitted")
        rateless = timesheet(session, ResourceFactory(name="Lee"), MONDAY, [(build, MONDAY, 8)], status="submitted")
        sheet_id, rateless_id = sheet.id, rateless.id

    browser_login(page, "approver@example.test")
    page.goto(f"/timesheets/{sheet_id}")
    page.click("button:has-text('Approve')")
    page.wait_for_selector("#posting-note:has-text('Posting the actuals to finance…')")
    run_jobs()  # the worker posts; the banner and the finance card follow without a reload
    page.wait_for_selector("#posting-note .note-ok:has-text('Actuals posted to finance')")
    page.wait_for_selector("#timesheet-finance td:has-text('400.00')")

    page.goto(f"/timesheets/{rateless_id}")
    page.click("button:has-text('Approve')")
    page.wait_for_selector("#posting-note:has-text('Posting the actuals to finance…')")
    run_jobs()
    page.wait_for_selector("#posting-note:has-text('Nothing was posted to finance.')")
    assert "Lee has no cost rate effective on 02 Mar" in page.locator("#posting-note").inner_text()
    assert page.locator("#posting-note .note-ok").count() == 0
