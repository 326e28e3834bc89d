"""Issue 16 in the browser: an approver names a stand-in who then decides on their behalf; an approver reminds a
person who has not submitted, and the person turns reminders off."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.columns import today
from portal.org.services import get_settings
from portal.timesheets.entries import week_of
from tests.conftest import browser_login
from tests.factories import OfferingFactory, ResourceFactory, TimeEntryFactory, TimesheetFactory, UserFactory


@pytest.mark.browser
def test_a_stand_in_decides_on_the_approvers_behalf_until_ended(page, committed):
    with committed():
        UserFactory(email="avery@example.test", name="Avery", role="approver")
        UserFactory(email="sam@example.test", name="Sam", role="staff")
        dana = ResourceFactory(name="Dana")
        sheet = TimesheetFactory(resource=dana, status="submitted")
        TimeEntryFactory(timesheet=sheet, resource=dana, offering=OfferingFactory(project__name="Northwind"),
                         work_date=sheet.period_start)
        sheet_id, last_day = sheet.id, today() + timedelta(days=2)

    browser_login(page, "avery@example.test")
    page.goto("/approvals")
    page.click("text=Stand-ins")
    page.fill("#stand_in_email", "sam@example.test")
    page.fill("#ends_on", last_day.isoformat())
    page.click("button:has-text('Name the stand-in')")
    page.wait_for_selector("text=Sam stands in for Avery")
    assert "Standing in now" in page.locator("#stand-ins").inner_text()
    page.click(".whoami button:has-text('Log out')")

    browser_login(page, "sam@example.test")
    waiting = page.locator(".waiting")
    assert "1 timesheet waits for approval in Avery's queue (you stand in for them until" in waiting.inner_text()
    page.click("nav a:has-text('Approvals')")
    row = page.locator(f"#timesheet-row-{sheet_id}")
    assert "In Avery's queue (you stand in)" in row.inner_text()
    row.locator("a:has-text('Dana')").click()
    page.wait_for_selector("text=You decide here on behalf of Avery")
    page.click("button:has-text('Approve')")
    page.wait_for_selector("text=Approved by Sam on behalf of Avery")
    assert "sam@example.test on behalf of avery@example.test" in page.locator(".history").inner_text()
    page.click(".whoami button:has-text('Log out')")

    browser_login(page, "avery@example.test")
    page.goto("/approvals/stand-ins")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('End now')")
    page.wait_for_selector("text=Ended: Sam no longer stands in for Avery.")
    page.click(".whoami button:has-text('Log out')")

    browser_login(page, "sam@example.test")
    assert page.locator("nav a:has-text('Approvals')").count() == 0
    assert "queue" not in page.locator("main").inner_text()


@pytest.mark.browser
def test_an_approver_reminds_a_person_who_then_turns_reminders_off(page, committed):
    with committed() as session:
        last_week = week_of(today() - timedelta(days=7), 0)[0]
        settings = get_settings(session)
        settings.reminders_enabled = True
        UserFactory(email="avery@example.test", name="Avery", role="approver")
        dana_user = UserFactory(email="dana@example.test", name="Dana")
        dana = ResourceFactory(name="Dana", user_id=dana_user.id)
        sheet = TimesheetFactory(resource=dana, period_start=last_week, status="draft")
        TimeEntryFactory(timesheet=sheet, resource=dana, work_date=last_week, hours=6)
        sheet_id = sheet.id

    browser_login(page, "avery@example.test")
    page.goto("/approvals")
    page.select_option("#f-status", "unsubmitted")
    remind = page.locator(f"#remind-{sheet_id} button:has-text('Remind')")
    remind.wait_for()
    remind.click()
    page.wait_for_selector(f"#remind-{sheet_id}:has-text('Reminded today')")
    assert "Reminded Dana to submit the week of" in page.locator("#flash").inner_text()
    page.click(".whoami button:has-text('Log out')")

    browser_login(page, "dana@example.test")
    waiting = page.locator(".waiting").inner_text()
    assert f"Your timesheet for the week of {last_week:%d %b} is not submitted: 6.00 h of 40.00 h" in waiting
    page.click(f"text=Your timesheet for the week of {last_week:%d %b}")
    page.wait_for_url(f"**/time?week={last_week.isoformat()}")
    box = page.locator("#reminder-preference input[name=on]")
    assert box.is_checked()
    box.uncheck()
    page.click("#reminder-preference button:has-text('Save')")
    page.wait_for_selector("text=Reminders off: no more reminder emails.")
    page.reload()
    assert not page.locator("#reminder-preference input[name=on]").is_checked()
