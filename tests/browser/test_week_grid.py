"""My time's week grid (issue 15 item 21): a whole week typed into the grid, Tab along the days and Enter to
save, a row added for another project, a cell's entries opened for a description, synced time read-only, and
a refused value answered in its own cell."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.planning.models import ProjectTask
from portal.timesheets.models import TimeEntry
from tests.conftest import browser_login
from tests.factories import (
    AssignmentFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    TimeEntryFactory,
    TimesheetFactory,
    UserFactory,
)
from tests.finance.support import MONDAY

WEEK = MONDAY.isoformat()


def _cell(offering_id: int, task_id: int | None, day) -> str:
    return f"#hours-{offering_id}-{task_id or 0}-{day:%Y%m%d}"


@pytest.mark.browser
def test_a_whole_week_is_entered_through_the_grid(page, committed, app):
    with committed() as session:
        user = UserFactory(email="sky@example.test", name="Sky", role="staff")
        me = ResourceFactory(user=user, name="Sky")
        build = OfferingFactory(project=ProjectFactory(name="Northwind"), name="Build")
        AssignmentFactory(offering=build, resource=me)
        other = OfferingFactory(project=ProjectFactory(name="Acme"), name="Support")
        design = ProjectTask(project_id=other.project_id, name="Design")
        session.add(design)
        session.flush()
        ids = dict(build=build.id, other=other.id, design=design.id, me=me.id)

    browser_login(page, "sky@example.test")
    page.goto(f"/time?week={WEEK}")
    # The assignment is a row before any time exists; Tab walks Monday to Friday, Enter saves the last.
    page.click(_cell(ids["build"], None, MONDAY))
    for offset, hours in enumerate(["8", "7.5", "7:30", "8", "6"]):
        page.keyboard.type(hours)
        page.keyboard.press("Enter" if offset == 4 else "Tab")
    friday = MONDAY + timedelta(days=4)
    page.wait_for_selector(f"#day-total-{friday:%Y%m%d}:has-text('6.00')")
    page.wait_for_selector(f"#row-total-{ids['build']}-0:has-text('37.00')")
    assert page.evaluate("document.activeElement.id") == _cell(ids["build"], None, friday)[1:]
    page.wait_for_selector("#grid-total:has-text('37.00')")
    page.wait_for_selector("#week-total:has-text('37.00')")  # the entry list beside it follows

    # A row for another project, with a task of that project only.
    page.fill("#row-search", "Acme")
    page.wait_for_selector(f"#row-offering option[value='{ids['other']}']", state="attached")
    # The one match is chosen, and the task list follows it without another click.
    page.wait_for_selector(f"#row-task option[value='{ids['design']}']", state="attached")
    assert page.locator("#row-task option").all_inner_texts() == ["—", "Design"]
    page.select_option("#row-task", str(ids["design"]))
    page.click("#add-row button[type=submit]")
    saturday = MONDAY + timedelta(days=5)
    page.wait_for_selector(_cell(ids["other"], ids["design"], MONDAY))
    assert page.evaluate("document.activeElement.id") == _cell(ids["other"], ids["design"], MONDAY)[1:]
    page.fill(_cell(ids["other"], ids["design"], saturday), "2")
    page.keyboard.press("Enter")
    page.wait_for_selector("#grid-total:has-text('39.00')")

    # The cell's entries: a description and the billable flag.
    page.click(f"#cell-{ids['other']}-{ids['design']}-{saturday:%Y%m%d} .cell-open")
    page.wait_for_selector("#cell-panel h3:has-text('Acme · Support · Design')")
    entry_id = page.locator("#cell-panel form.cell-entry:not(.cell-new) input[name=hours]").get_attribute("id")
    entry_id = int(entry_id.rsplit("-", 1)[1])
    page.fill(f"#ce-description-{entry_id}", "Wireframes")
    page.select_option(f"#ce-billable-{entry_id}", "no")
    page.click(f"#ce-save-{entry_id}")
    page.wait_for_selector("#cell-panel .saved:has-text('Saved.')")
    page.wait_for_selector("#entry-list:has-text('Wireframes')")
    page.keyboard.press("Escape")
    assert page.locator("#cell-panel").is_hidden()

    # A refused value keeps what was typed, with the cell's own message.
    sunday = MONDAY + timedelta(days=6)
    page.fill(_cell(ids["build"], None, sunday), "30")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#cell-{ids['build']}-0-{sunday:%Y%m%d} .cell-error:has-text('at most 24')")
    assert page.input_value(_cell(ids["build"], None, sunday)) == "30"
    # Clearing a cell deletes its time.
    page.fill(_cell(ids["build"], None, friday), "")
    page.keyboard.press("Tab")
    page.wait_for_selector("#grid-total:has-text('33.00')")

    with app.app_context():
        rows = db.session.execute(select(TimeEntry.offering_id, TimeEntry.task_id, TimeEntry.work_date,
                                         TimeEntry.hours, TimeEntry.description, TimeEntry.billable)
                                  .where(TimeEntry.resource_id == ids["me"]).order_by(TimeEntry.work_date)).all()
    assert [(r.work_date.weekday(), r.hours) for r in rows] == [
        (0, Decimal("8")), (1, Decimal("7.5")), (2, Decimal("7.5")), (3, Decimal("8")), (5, Decimal("2"))]
    assert (rows[-1].task_id, rows[-1].description, rows[-1].billable) == (ids["design"], "Wireframes", False)


@pytest.mark.browser
def test_synced_cells_are_read_only_and_marked_with_their_tool(page, committed):
    with committed() as session:
        user = UserFactory(email="lee@example.test", name="Lee", role="staff")
        me = ResourceFactory(user=user, name="Lee")
        offering = OfferingFactory(project=ProjectFactory(name="Globex"), name="Audit")
        sheet = TimesheetFactory(resource=me, period_start=MONDAY)
        TimeEntryFactory(resource=me, offering=offering, work_date=MONDAY, hours=Decimal("3"), timesheet=sheet,
                         source="toggl", external_id="555", description="Call")
        session.flush()
        offering_id = offering.id

    browser_login(page, "lee@example.test")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"/time?week={WEEK}")
    cell = page.locator(f"#cell-{offering_id}-0-{MONDAY:%Y%m%d}")
    assert cell.locator("input").count() == 0 and "Toggl" in cell.inner_text()
    assert page.locator(f"#hours-{offering_id}-0-{(MONDAY + timedelta(days=1)):%Y%m%d}").is_editable()
    # The grid scrolls inside its card: the page itself does not scroll sideways at 390 px.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    cell.locator(".cell-open").click()
    page.wait_for_selector("#cell-panel:has-text('Call')")
    assert page.locator("#cell-panel input").count() == 0
