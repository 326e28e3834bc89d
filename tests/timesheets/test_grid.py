"""My time's week grid (issue 15 items 21 and 12): a cell's hours set through the entry rules, its panel, the
bounded offering search and the chosen project's tasks; the read-only grid of a timesheet."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.extensions import db
from portal.planning.models import ProjectTask
from portal.timesheets import entries, grid
from portal.timesheets.models import TimeEntry
from tests.factories import (
    AssignmentFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    TimeEntryFactory,
    TimesheetFactory,
    UserFactory,
    stage,
)
from tests.finance.support import MONDAY

WEEK = MONDAY.isoformat()
TUESDAY = MONDAY + timedelta(days=1)


@pytest.fixture
def me(login_as, session):
    user = login_as("staff")
    return user, ResourceFactory(user=user, name="Sky Staff")


def _entries(session):
    return session.execute(select(TimeEntry.work_date, TimeEntry.hours, TimeEntry.task_id)
                           .order_by(TimeEntry.work_date)).all()


@pytest.mark.parametrize("text, hours", [("7.5", Decimal("7.5")), ("7,5", Decimal("7.5")), ("7:30", Decimal("7.5")),
                                         (":45", Decimal("0.75")), (" 8 ", Decimal("8")), ("", None)])
def test_hours_are_read_as_people_type_them(text, hours):
    assert entries.parse_hours(text) == hours


@pytest.mark.parametrize("text", ["seven", "7:75", "7:3x", "1:2:3"])
def test_unreadable_hours_are_refused(text):
    with pytest.raises(InvalidInput):
        entries.parse_hours(text)


def test_typing_into_a_cell_adds_changes_and_clears_its_entry(session, me):
    user, resource = me
    offering = OfferingFactory()
    key = (offering.id, None)
    grid.set_cell(session, user, resource.id, key, TUESDAY, "7:30")
    assert _entries(session) == [(TUESDAY, Decimal("7.5"), None)]
    grid.set_cell(session, user, resource.id, key, TUESDAY, "6")
    assert _entries(session) == [(TUESDAY, Decimal("6"), None)]
    grid.set_cell(session, user, resource.id, key, TUESDAY, "0")
    assert _entries(session) == []
    grid.set_cell(session, user, resource.id, key, TUESDAY, "")  # clearing an empty cell changes nothing
    assert _entries(session) == []


def test_a_cell_follows_the_rules_of_a_native_entry(session, me):
    user, resource = me
    closed = OfferingFactory(project__stage=stage("Closed"), project__name="Archive")
    open_ = OfferingFactory(project__time_descriptions_required=True, project__name="Careful")
    with pytest.raises(NotAllowed, match="Archive is closed"):
        grid.set_cell(session, user, resource.id, (closed.id, None), TUESDAY, "2")
    with pytest.raises(InvalidInput, match="need a description"):
        grid.set_cell(session, user, resource.id, (open_.id, None), TUESDAY, "2")
    with pytest.raises(InvalidInput, match="at most 24"):
        grid.set_cell(session, user, resource.id, (OfferingFactory().id, None), TUESDAY, "25")
    other = ResourceFactory()
    with pytest.raises(NotAllowed, match="only for yourself"):
        grid.set_cell(session, user, other.id, (OfferingFactory().id, None), TUESDAY, "2")
    assert _entries(session) == []


def test_synced_and_crowded_cells_change_entry_by_entry_only(session, me):
    user, resource = me
    offering = OfferingFactory()
    sheet = TimesheetFactory(resource=resource, period_start=MONDAY)
    TimeEntryFactory(resource=resource, offering=offering, work_date=MONDAY, timesheet=sheet, source="toggl",
                     external_id="1")
    for _ in range(2):
        TimeEntryFactory(resource=resource, offering=offering, work_date=TUESDAY, timesheet=sheet)
    session.flush()
    with pytest.raises(Conflict, match="Synced from Toggl"):
        grid.set_cell(session, user, resource.id, (offering.id, None), MONDAY, "1")
    with pytest.raises(Conflict, match="holds 2 entries"):
        grid.set_cell(session, user, resource.id, (offering.id, None), TUESDAY, "1")


def test_a_submitted_week_shows_a_read_only_grid(client, session, me):
    user, resource = me
    offering = OfferingFactory()
    sheet = TimesheetFactory(resource=resource, period_start=MONDAY, status="submitted")
    TimeEntryFactory(resource=resource, offering=offering, work_date=MONDAY, timesheet=sheet, hours=Decimal("4"))
    session.flush()
    page = client.get(f"/time?week={WEEK}").get_data(as_text=True)
    assert f'id="cell-{offering.id}-0-{MONDAY:%Y%m%d}"' in page and 'class="cell-hours"' in page
    assert 'name="hours" class="cell-hours"' not in page and 'id="add-row"' not in page
    refused = client.post("/time/grid/cell", htmx=True, data={
        "offering_id": offering.id, "task_id": "", "work_date": WEEK, "hours": "5"})
    assert refused.status_code == 422 and "is submitted" in refused.get_data(as_text=True)


def _cell(client, offering_id, day, hours, task_id=""):
    return client.post("/time/grid/cell", htmx=True, data={
        "offering_id": offering_id, "task_id": task_id, "work_date": day.isoformat(), "hours": hours})


def test_a_cell_answers_with_itself_and_the_totals_it_changed(client, session, me):
    _, resource = me
    offering = OfferingFactory(name="Build")
    AssignmentFactory(offering=offering, resource=resource)
    _cell(client, offering.id, MONDAY, "8")
    response = _cell(client, offering.id, TUESDAY, "7.5")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and "HX-Request" in response.headers["Vary"]
    assert body.lstrip().startswith(f'<div id="cell-{offering.id}-0-{TUESDAY:%Y%m%d}"') and 'value="7.50"' in body
    assert f'<strong id="row-total-{offering.id}-0" hx-swap-oob="true">15.50</strong>' in body
    assert f'<span id="day-total-{TUESDAY:%Y%m%d}" hx-swap-oob="true">7.50</span>' in body
    assert '<span id="grid-total" hx-swap-oob="true">15.50</span>' in body
    assert 'id="entry-list" hx-swap-oob="true"' in body and 'id="week-actions" hx-swap-oob="true"' in body
    assert "Submit for approval" in body  # the week's card follows: the new draft can be submitted


def test_a_refused_cell_keeps_what_was_typed_with_its_own_message(client, session, me):
    offering = OfferingFactory(project__time_descriptions_required=True, project__name="Careful")
    response = _cell(client, offering.id, MONDAY, "3")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and 'value="3"' in body and 'aria-invalid="true"' in body
    assert 'class="cell-error"' in body and "need a description" in body
    response = _cell(client, OfferingFactory(project__stage=stage("Closed"), project__name="Archive").id, MONDAY,
                     "3")
    assert response.status_code == 422 and "Archive is closed" in response.get_data(as_text=True)
    response = _cell(client, offering.id, MONDAY, "8:99")
    assert response.status_code == 422 and "like 7:30" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(TimeEntry)) == 0


def test_the_cell_panel_edits_descriptions_and_billable_and_adds_entries(client, session, me):
    _, resource = me
    offering = OfferingFactory(name="Build", project__time_descriptions_required=True)
    row = f"{offering.id}-0"
    panel = client.get(f"/time/grid/panel?row={row}&day={WEEK}", htmx=True)
    assert panel.status_code == 200 and "New entry" in panel.get_data(as_text=True)
    missing = client.post(f"/time/grid/panel?row={row}&day={WEEK}", htmx=True,
                          data={"hours": "2", "description": "", "billable": "yes"})
    assert missing.status_code == 422 and "need a description" in missing.get_data(as_text=True)
    added = client.post(f"/time/grid/panel?row={row}&day={WEEK}", htmx=True,
                        data={"hours": "2", "description": "Schema", "billable": "yes"})
    body = added.get_data(as_text=True)
    assert added.status_code == 200 and "Added 2 h." in body and f'id="cell-{row}-{MONDAY:%Y%m%d}"' in body
    entry = session.scalar(select(TimeEntry))
    saved = client.post(f"/time/grid/entries/{entry.id}", htmx=True,
                        data={"hours": "2:30", "description": "Schema and seeds", "billable": "no"})
    assert saved.status_code == 200 and "Saved." in saved.get_data(as_text=True)
    session.refresh(entry)
    assert (entry.hours, entry.description, entry.billable) == (Decimal("2.5"), "Schema and seeds", False)
    deleted = client.post(f"/time/grid/entries/{entry.id}/delete", htmx=True)
    assert deleted.status_code == 200 and session.scalar(select(func.count()).select_from(TimeEntry)) == 0


def test_someone_elses_entry_cannot_be_changed_from_the_panel(client, session, me):
    stranger = TimeEntryFactory(resource=ResourceFactory())
    session.flush()
    response = client.post(f"/time/grid/entries/{stranger.id}", htmx=True,
                           data={"hours": "1", "description": "", "billable": "yes"})
    assert response.status_code == 403


def test_assignments_and_added_rows_show_before_any_time(client, session, me):
    _, resource = me
    assigned = OfferingFactory(project__name="Northwind", name="Build")
    AssignmentFactory(offering=assigned, resource=resource)
    other = OfferingFactory(project__name="Acme", name="Support")
    task = ProjectTask(project_id=other.project_id, name="Design")
    foreign = ProjectTask(project_id=ProjectFactory().id, name="Elsewhere")
    session.add_all([task, foreign])
    session.flush()
    page = client.get(f"/time?week={WEEK}&offering_id={other.id}&task_id={task.id}&row={assigned.id}-{foreign.id}")
    body = page.get_data(as_text=True)
    assert "Northwind · Build" in body and "Acme · Support · Design" in body and "Elsewhere" not in body
    assert f'id="hours-{other.id}-{task.id}-{MONDAY:%Y%m%d}"' in body  # the added row's first cell, focused
    assert f'name="row" value="{other.id}-{task.id}"' in body  # kept by the next "Add row"


def test_the_offering_search_is_bounded_and_lists_only_what_takes_time(client, session, me):
    _, resource = me
    for index in range(45):
        OfferingFactory(project__name=f"Project {'ABCDEFGHI'[index // 5]}-{index % 5}", name="Work")
    OfferingFactory(project__name="Project closed", project__stage=stage("Closed"))
    mine = OfferingFactory(project__name="Zulu", name="Mine")
    AssignmentFactory(offering=mine, resource=resource)
    session.flush()
    body = client.get("/time/offerings", htmx=True).get_data(as_text=True)
    assert len(re.findall(r'<option value="\d+"', body)) == 40 and "More match" in body
    assert body.index("Your assignments") < body.index("Zulu · Mine") < body.index("Other offerings")
    found = client.get("/time/offerings?q=work+c-", htmx=True).get_data(as_text=True)
    assert len(re.findall(r'<option value="\d+"', found)) == 5 and "closed" not in found and "More match" not in found
    nothing = client.get("/time/offerings?q=%25", htmx=True).get_data(as_text=True)
    assert "Nothing open for time matches" in nothing


def test_the_task_list_offers_the_chosen_projects_tasks_only(client, session, me):
    """Issue 15 item 12: the Add time form offered every project's tasks whatever project was chosen."""
    offering = OfferingFactory()
    other = OfferingFactory()
    session.add_all([ProjectTask(project_id=offering.project_id, name="Pipelines"),
                     ProjectTask(project_id=other.project_id, name="Elsewhere"),
                     ProjectTask(project_id=offering.project_id, name="Closed one", active=False)])
    session.flush()
    body = client.get(f"/time/tasks?offering_id={offering.id}", htmx=True).get_data(as_text=True)
    assert "Pipelines" in body and "Elsewhere" not in body and "Closed one" not in body
    page = client.get(f"/time?week={WEEK}").get_data(as_text=True)
    form = page[page.index('id="entry-form"'):]
    chosen = form[form.index('id="offering_id"'):]
    first = chosen[chosen.index('value="') + 7:].split('"')[0]
    assert ("Pipelines" in form) == (first == str(offering.id)) and ("Elsewhere" in form) == (first == str(other.id))


def test_an_admin_fills_someone_elses_grid(client, session, login_as):
    login_as("admin")
    resource = ResourceFactory(name="Dana")
    offering = OfferingFactory()
    response = client.post(f"/time/grid/cell?resource={resource.id}", htmx=True, data={
        "offering_id": offering.id, "task_id": "", "work_date": WEEK, "hours": "3"})
    assert response.status_code == 200
    assert session.scalar(select(TimeEntry.resource_id)) == resource.id
    assert f"/time/grid/cell?resource={resource.id}" in response.get_data(as_text=True)


def test_a_cells_cost_in_queries_does_not_grow_with_the_week(client, session, me):
    _, resource = me
    offerings = [OfferingFactory() for _ in range(6)]

    def cost(offering) -> int:
        statements = []
        listener = lambda *args: statements.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert _cell(client, offering.id, MONDAY, "1").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    first = cost(offerings[0])
    for offering in offerings[1:5]:
        _cell(client, offering.id, TUESDAY, "1")
    assert cost(offerings[5]) <= first + 6


def test_a_timesheet_page_shows_tasks_and_synced_time_in_its_grid(client, session, login_as):
    login_as("approver")
    resource = ResourceFactory(user=UserFactory(), name="Dana")
    offering = OfferingFactory(project__name="Northwind", name="Build")
    task = ProjectTask(project_id=offering.project_id, name="Design")
    session.add(task)
    sheet = TimesheetFactory(resource=resource, period_start=MONDAY, status="submitted")
    TimeEntryFactory(resource=resource, offering=offering, task=task, work_date=MONDAY, timesheet=sheet)
    TimeEntryFactory(resource=resource, offering=offering, work_date=TUESDAY, timesheet=sheet, source="toggl",
                     external_id="9")
    session.flush()
    body = client.get(f"/timesheets/{sheet.id}").get_data(as_text=True)
    assert "Northwind · Build · Design" in body and 'title="Synced from Toggl"' in body


def test_the_approvals_queue_opens_one_weeks_grid_for_those_who_may_see_it(client, session, login_as):
    owner, stranger, approver = UserFactory(role="staff"), UserFactory(role="staff"), UserFactory(role="approver")
    offering = OfferingFactory(project__name="Northwind", name="Build")
    sheet = TimesheetFactory(resource=ResourceFactory(user=owner, name="Dana"), period_start=MONDAY,
                             status="submitted")
    TimeEntryFactory(resource=sheet.resource, offering=offering, work_date=TUESDAY, timesheet=sheet,
                     hours=Decimal("6"), description="Schema")
    session.flush()
    client.login(stranger)
    assert client.get(f"/approvals/{sheet.id}/week", htmx=True).status_code == 403
    client.login(approver)
    queue = client.get("/approvals").get_data(as_text=True)
    assert f'hx-get="/approvals/{sheet.id}/week"' in queue and f'id="sheet-grid-{sheet.id}"' not in queue
    response = client.get(f"/approvals/{sheet.id}/week", htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert f'id="sheet-grid-{sheet.id}"' in body and "Northwind · Build" in body and "Schema" in body
    assert client.get(f"/approvals/{sheet.id}/week").get_data(as_text=True).startswith("<!doctype html>")
