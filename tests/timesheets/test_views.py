"""My time, the approvals queue and a timesheet's page over HTTP: fragments, 422s, rights, query counts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from flask import url_for
from sqlalchemy import event, select

from portal.extensions import db
from portal.timesheets import approvals
from portal.timesheets.models import TimeEntry, Timesheet
from tests.factories import OfferingFactory, ProjectFactory, ResourceFactory, UserFactory
from tests.finance.support import MONDAY, timesheet

WEEK = MONDAY.isoformat()


@pytest.fixture
def me(login_as, session):
    user = login_as("staff")
    resource = ResourceFactory(user=user, name="Sky Staff", rates={"cost": "50"})
    return user, resource


def _fragment(response):
    body = response.get_data(as_text=True)
    assert "<html" not in body and "HX-Request" in response.headers.get("Vary", "")
    return body


@pytest.mark.parametrize("role", ["staff", "approver", "admin", "super_admin"])
def test_my_time_without_a_linked_resource_says_why_and_where_to_go(client, login_as, role):
    """The menu's My time used to lead admins without a resource to a 403 page."""
    user = login_as(role)
    response = client.get("/time")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "not linked to a resource" in body and user.email in body
    assert ("choose <em>Time</em>" in body) is (role in ("admin", "super_admin"))
    assert client.post("/time/entries", data={"hours": "1"}).status_code == 403  # entering time is still refused


def test_an_admin_links_a_login_to_a_resource_and_it_enters_its_time(client, session, login_as):
    from portal import audit

    admin = login_as("admin")
    person = ResourceFactory(name="Ada Admin", email="ada@example.test")
    response = client.post(f"/resources/{person.id}", data={"name": "Ada Admin", "email": "ada@example.test",
                                                             "active": "y", "login_email": admin.email.upper()},
                           htmx=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    session.expire_all()
    assert person.user_id == admin.id
    assert audit.history(session, "resources", person.id)[0].after == {"user_id": admin.id}
    assert "Time of" not in client.get("/time").get_data(as_text=True)  # their own week now
    assert "My time" in client.get("/time").get_data(as_text=True)


@pytest.mark.parametrize("login,message", [
    ("nobody@example.test", "No login has the email nobody@example.test"),
    ("client", "client logins do not enter time"),
    ("taken", "already enters the time of Someone Else"),
])
def test_a_resource_refuses_a_login_it_cannot_take(client, session, login_as, login, message):
    login_as("admin")
    person = ResourceFactory(name="Ada Admin", email="ada@example.test")
    if login == "client":
        login = UserFactory(role="client", client_id=ProjectFactory().client_id).email
    elif login == "taken":
        login = ResourceFactory(name="Someone Else", user=UserFactory()).user.email
    response = client.post(f"/resources/{person.id}", data={"name": "Ada Admin", "email": "ada@example.test",
                                                             "login_email": login}, htmx=True)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    session.expire_all()
    assert person.user_id is None


def test_entering_changing_and_deleting_time_on_my_week(client, session, me):
    _, resource = me
    offering = OfferingFactory(name="Platform build")
    response = client.post("/time/entries", htmx=True, data={
        "offering_id": offering.id, "work_date": WEEK, "hours": "7.5", "description": "Schema work", "billable": ""})
    body = _fragment(response)
    assert response.status_code == 200 and "Platform build" in body and "7.50" in body
    entry = session.scalar(select(TimeEntry).where(TimeEntry.resource_id == resource.id))

    response = client.post(f"/time/entries/{entry.id}/edit", htmx=True, data={
        "work_date": WEEK, "hours": "6", "description": "Schema work", "billable": "no"})
    assert response.status_code == 200 and '<th class="num" id="week-total">6.00</th>' in _fragment(response)
    session.refresh(entry)
    assert (entry.hours, entry.billable) == (Decimal("6"), False)

    response = client.post(f"/time/entries/{entry.id}/delete", htmx=True)
    assert response.status_code == 200 and "No time this week yet." in _fragment(response)


@pytest.mark.parametrize("hours, message", [("-2", "more than 0"), ("25", "at most 24"), ("0", "more than 0"),
                                            ("lots", "Not a valid decimal value")])
def test_negative_or_absurd_hours_are_refused_with_a_422(client, session, me, hours, message):
    offering = OfferingFactory()
    response = client.post("/time/entries", htmx=True, data={
        "offering_id": offering.id, "work_date": WEEK, "hours": hours, "description": "", "billable": ""})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert session.scalars(select(TimeEntry)).all() == []


def test_submitting_my_week_and_a_stale_form_is_refused(client, session, me):
    _, resource = me
    sheet = timesheet(session, resource, MONDAY, [(OfferingFactory(), MONDAY, 8)], status="draft")
    stale = client.post(f"/timesheets/{sheet.id}/submit", htmx=True,
                        data={"version": sheet.version - 1, "view": "week"})
    assert stale.status_code == 422 and "changed since you opened it" in stale.get_data(as_text=True)
    response = client.post(f"/timesheets/{sheet.id}/submit", htmx=True, data={"version": sheet.version, "view": "week"})
    assert response.status_code == 200 and "Submitted" in _fragment(response)
    session.refresh(sheet)
    assert sheet.status == "submitted"


def _queue(session, count: int, project=None):
    project = project or ProjectFactory()
    offering = OfferingFactory(project=project)
    for index in range(count):
        person = ResourceFactory(rates={"cost": "40"})
        timesheet(session, person, MONDAY + timedelta(weeks=index % 3), [(offering, MONDAY, 8)], status="submitted")
    return project


@pytest.mark.parametrize("role, on_pm_team, expected", [
    ("pm", True, 2), ("staff", True, 2), ("staff", False, 0), ("approver", False, 5), ("admin", False, 5)])
def test_the_queue_is_scoped_to_what_the_user_may_approve(client, session, login_as, role, on_pm_team, expected):
    user = login_as(role)
    _queue(session, 2, ProjectFactory(name="Mine", pm_id=user.id if on_pm_team else None))
    _queue(session, 3, ProjectFactory(name="Theirs"))
    body = client.get("/approvals").get_data(as_text=True)
    assert f'<span id="queue-count">{expected}</span>' in body


def test_each_row_links_to_its_timesheet_its_week_and_its_reminder(app, client, session, login_as):
    """The rows' links are built from one build per route (portal.urls.url_for_each)."""
    login_as("approver")
    _queue(session, 2)
    sheet_ids = session.scalars(select(Timesheet.id)).all()
    draft = timesheet(session, ResourceFactory(), MONDAY, [], status="draft")
    body = client.get("/approvals?status=").get_data(as_text=True)
    with app.test_request_context("/"):
        for sheet_id in [*sheet_ids, draft.id]:
            assert f'<a href="{url_for("timesheets.detail", timesheet_id=sheet_id)}">' in body
            assert f'hx-get="{url_for("approvals.sheet_week", timesheet_id=sheet_id)}"' in body
        assert f'hx-post="{url_for("approvals.remind", timesheet_id=draft.id)}"' in body


def test_viewers_of_the_same_shape_each_get_their_own_queue(session):
    """The queue's statement is built once per shape of viewer and filters (approvals._page) and run with each
    viewer's values: two PMs in turn, then one with a project filter and a later page, see only their own."""
    first, second = UserFactory(role="pm"), UserFactory(role="pm")
    mine = _queue(session, 27, ProjectFactory(name="First's", pm_id=first.id))
    theirs = _queue(session, 3, ProjectFactory(name="Second's", pm_id=second.id))

    def shown(user, filters, after=None):
        queue = approvals.approval_queue(session, user, filters, after=after)
        return queue, {project.name for row in queue.rows for project, _ in row.projects}

    queue, names = shown(first, approvals.Filters())
    assert (queue.count, names, bool(queue.next_cursor)) == (27, {"First's"}, True)
    theirs_shown, names = shown(second, approvals.Filters())
    assert (theirs_shown.count, names) == (3, {"Second's"})
    rest, names = shown(first, approvals.Filters(project_id=mine.id), after=queue.next_cursor)
    assert (len(rest.rows), names) == (2, {"First's"})
    assert shown(second, approvals.Filters(project_id=mine.id))[0].rows == []  # not theirs to see
    assert shown(first, approvals.Filters(project_id=theirs.id), after=queue.next_cursor)[0].rows == []


def test_the_queue_filters_by_project_and_week(client, session, login_as):
    login_as("approver")
    mine = _queue(session, 4, ProjectFactory(name="Mine"))
    _queue(session, 3, ProjectFactory(name="Theirs"))
    body = client.get(f"/approvals?project={mine.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert '<span id="queue-count">4</span>' in body and "<html" not in body
    week = (MONDAY + timedelta(weeks=1)).isoformat()
    body = client.get(f"/approvals?week_from={week}&week_to={week}").get_data(as_text=True)
    assert '<span id="queue-count">2</span>' in body  # one of each project's in that week


def test_the_queue_shows_totals_per_project(client, session, login_as):
    login_as("approver")
    person = ResourceFactory()
    a, b = OfferingFactory(project=ProjectFactory(name="Alpha")), OfferingFactory(project=ProjectFactory(name="Beta"))
    timesheet(session, person, MONDAY, [(a, MONDAY, 8), (b, MONDAY + timedelta(days=1), "2.5")], status="submitted")
    timesheet(session, ResourceFactory(), MONDAY, [(a, MONDAY, 4)], status="submitted")
    body = client.get("/approvals").get_data(as_text=True)
    totals = body.split("Hours per project")[1]
    assert "<td>Alpha</td><td class=\"num\">2</td><td class=\"num\">12.00</td>" in totals
    assert "<td>Beta</td><td class=\"num\">1</td><td class=\"num\">2.50</td>" in totals


def test_bulk_approval_over_htmx_approves_the_selection_and_posts(client, session, login_as, org, run_jobs):
    login_as("approver")
    offering = OfferingFactory()
    sheets = [timesheet(session, ResourceFactory(rates={"cost": "50"}), MONDAY, [(offering, MONDAY, 8)],
                        status="submitted") for _ in range(3)]
    picked = [f"{s.id}:{s.version}" for s in sheets[:2]]
    response = client.post("/approvals/decide", htmx=True, data={"action": "approve", "selected": picked,
                                                                  "reason": "", "status": "submitted"})
    body = _fragment(response)
    assert response.status_code == 200 and "Approved 2 timesheets." in body
    assert '<span id="queue-count">1</span>' in body
    session.commit()
    run_jobs()
    assert [session.get(Timesheet, s.id).posting_status for s in sheets] == ["posted", "posted", "none"]


def test_bulk_reject_without_a_reason_is_a_422(client, session, login_as):
    login_as("approver")
    sheet = timesheet(session, ResourceFactory(), MONDAY, [(OfferingFactory(), MONDAY, 8)], status="submitted")
    response = client.post("/approvals/decide", htmx=True,
                           data={"action": "reject", "selected": [f"{sheet.id}:{sheet.version}"], "reason": ""})
    assert response.status_code == 422 and "Enter a reason." in response.get_data(as_text=True)
    session.refresh(sheet)
    assert sheet.status == "submitted"


def test_a_timesheet_page_shows_its_hours_and_history_to_those_who_may_see_it(client, session, org):
    owner, stranger, approver = UserFactory(role="staff"), UserFactory(role="staff"), UserFactory(role="approver")
    sheet = timesheet(session, ResourceFactory(user=owner, name="Dana"), MONDAY,
                      [(OfferingFactory(name="Build"), MONDAY, 8)], status="submitted")
    client.login(stranger)
    assert client.get(f"/timesheets/{sheet.id}").status_code == 403
    client.login(approver)
    body = client.get(f"/timesheets/{sheet.id}").get_data(as_text=True)
    assert "Dana · week of" in body and '<th class="num" id="timesheet-total">8.00</th>' in body
    assert "transition-approve" in body and "transition-reject" in body
    response = client.post(f"/timesheets/{sheet.id}/reject", htmx=True, data={"version": sheet.version, "reason": ""})
    assert response.status_code == 422 and "Enter a reason." in response.get_data(as_text=True)
    response = client.post(f"/timesheets/{sheet.id}/approve", htmx=True, data={"version": sheet.version})
    body = _fragment(response)
    assert "Approved by" in body and "Approved the timesheet of Dana" in body


def _count_queries(app, client, session, user, url) -> int:
    """Statements one request runs (each request has its own session, so each starts cold)."""
    client.login(user)
    statements = []

    def count(*_):
        statements.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def test_the_approvals_page_costs_the_same_queries_for_a_short_and_a_long_queue(app, client, session, login_as):
    user = login_as("approver")
    _queue(session, 4)
    short = _count_queries(app, client, session, user, "/approvals")
    _queue(session, 60)
    assert _count_queries(app, client, session, user, "/approvals") == short


def test_the_queue_pages_with_load_more(client, session, login_as):
    login_as("approver")
    _queue(session, 35)
    first = client.get("/approvals").get_data(as_text=True)
    assert first.count('name="selected"') == 25 and 'id="load-more"' in first
    cursor = first.split("after=")[1].split("&")[0]
    more = client.get(f"/approvals?after={cursor}&status=submitted", headers={"HX-Request": "true"})
    body = more.get_data(as_text=True)
    assert body.count('name="selected"') == 10 and 'id="load-more"' not in body and "<table" not in body
    assert client.get("/approvals?after=garbage").status_code == 400  # a query string: 400 (issue 11)


def test_time_can_name_a_task_of_its_project_only(client, session, me):
    from portal.planning.models import ProjectTask

    _, resource = me
    offering = OfferingFactory(name="Platform build")
    mine = ProjectTask(project_id=offering.project_id, name="Pipelines")
    theirs = ProjectTask(project_id=ProjectFactory().id, name="Elsewhere")
    session.add_all([mine, theirs])
    session.flush()
    page = client.get(f"/time?week={WEEK}").get_data(as_text=True)
    assert "Pipelines" in page and 'name="task_id"' in page
    data = {"offering_id": offering.id, "work_date": WEEK, "hours": "2", "billable": "", "task_id": mine.id}
    assert client.post("/time/entries", data=data, htmx=True).status_code == 200
    assert session.scalar(select(TimeEntry.task_id)) == mine.id
    wrong = client.post("/time/entries", data={**data, "task_id": theirs.id}, htmx=True)
    assert wrong.status_code == 422
    assert session.scalar(select(TimeEntry.id).where(TimeEntry.task_id == theirs.id)) is None


def test_an_entry_on_a_task_closed_since_stays_editable(client, session, me):
    from portal.planning.models import ProjectTask

    _, resource = me
    offering = OfferingFactory(name="Platform build")
    task = ProjectTask(project_id=offering.project_id, name="Pipelines")
    session.add(task)
    session.flush()
    client.post("/time/entries", htmx=True, data={"offering_id": offering.id, "work_date": WEEK, "hours": "2",
                                                  "billable": "", "task_id": task.id})
    entry = session.scalar(select(TimeEntry))
    task.active = False
    session.commit()
    response = client.post(f"/time/entries/{entry.id}/edit", htmx=True, data={
        "work_date": WEEK, "hours": "3", "description": "", "billable": "yes", "task_id": task.id})
    assert response.status_code == 200
    session.refresh(entry)
    assert (entry.hours, entry.task_id) == (Decimal("3"), task.id)


def test_messages_show_hours_with_at_most_two_decimals(client, session, me):
    _, resource = me
    offering = OfferingFactory(name="Platform build")
    from portal.projects.models import Assignment

    session.add(Assignment(offering=offering, resource=resource))
    session.flush()
    response = client.post("/time/entries", data={"offering_id": offering.id, "work_date": WEEK, "hours": "1.5",
                                                  "billable": "yes"}, htmx=True)
    body = response.get_data(as_text=True)
    assert "Added 1.5 h on" in body and "1.5000" not in body
    response = client.post("/time/entries", data={"offering_id": offering.id, "work_date": WEEK, "hours": "23",
                                                  "billable": "yes"}, htmx=True)
    assert "That makes 24.5 h on" in response.get_data(as_text=True)


def test_my_time_says_why_an_assignment_is_missing_from_the_list(client, session, me):
    """Refusals are explained (issue 15): a project not open for time is missing from Add time, and the page
    says why, with the stage's reason."""
    from portal.projects.models import Assignment
    from tests.factories import stage

    _, resource = me
    planning = OfferingFactory(name="Discovery", project=ProjectFactory(name="Harbour app", stage=stage("Planning")))
    closed = OfferingFactory(name="Build", project=ProjectFactory(name="Old depot", stage=stage("Closed")))
    open_one = OfferingFactory(name="Support", project=ProjectFactory(name="Bridge"))
    for offering in (planning, closed, open_one):
        session.add(Assignment(offering=offering, resource=resource))
    session.flush()
    body = client.get(f"/time?week={WEEK}").get_data(as_text=True)
    note = body[body.index('id="not-open-for-time"'):]
    note = note[:note.index("</div>")]
    assert "Harbour app · Discovery: Harbour app is in Planning, which is not open for time." in note
    assert "1 offering on closed projects." in note
    assert "Bridge" not in note and ">Bridge · Support</option>" in body


def test_what_a_procore_entry_was_booked_against_shows_in_my_time_and_on_time_and_costs(client, session, me,
                                                                                         login_as):
    """Procore's time type, cost code and sub job, and the project item, were stored and shown nowhere."""
    from portal.projects.items import ProjectItem
    from portal.timesheets.entries import timesheet_for

    _, resource = me
    offering = OfferingFactory(name="Fit-out works")
    item = ProjectItem(project_id=offering.project_id, code="09-200", name="Drywall")
    session.add(item)
    session.flush()
    entry = TimeEntry(resource=resource, offering=offering, project=offering.project, work_date=MONDAY,
                      hours=Decimal("7.5"), source="procore", external_id="555", project_item_id=item.id,
                      timesheet=timesheet_for(session, resource.id, MONDAY),
                      external_details={"time_type": "Overtime", "time_type_code": "OT", "cost_code": "01-100",
                                        "cost_code_name": "General Conditions", "sub_job": "Level 2"})
    session.add(entry)
    session.flush()
    expected = ("Time type: Overtime (OT)", "Cost code: 01-100 General Conditions", "Project item: 09-200",
                "Sub job: Level 2")
    my_time = client.get(f"/time?week={WEEK}&view=list").get_data(as_text=True)
    row = my_time.split(f'id="entry-{entry.id}"')[1].split("</tr>")[0]
    assert all(text in row for text in expected), row
    login_as("admin")
    tab = client.get(f"/projects/{offering.project_id}/entries?month={MONDAY:%Y-%m}").get_data(as_text=True)
    row = tab.split(f'id="entry-{entry.id}"')[1].split("</tr>")[0]
    assert all(text in row for text in expected), row
