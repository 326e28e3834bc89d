"""The home page's "Waiting for you": each person sees what needs them, counted, with a link to act."""

from __future__ import annotations

from datetime import timedelta

from portal.columns import today
from portal.integrations.models import Connection, PersonLink, WaitingTimeEntry
from portal.projects.services import week_start
from portal.runs.models import MessageStatus, SyncMessage
from portal.timesheets.models import TimesheetConflict
from tests.factories import ProjectFactory, ResourceFactory, TimeEntryFactory, TimesheetFactory, UserFactory


def this_week():
    return week_start(today(), 0)  # the organization's default week start: Monday


def home(client) -> str:
    return client.get("/").get_data(as_text=True)


def waiting_section(page: str) -> str:
    if 'id="waiting-title"' not in page:
        return ""
    start = page.index('id="waiting-title"')
    return page[start:page.index("</section>", start)]


def test_staff_see_timesheets_sent_back_and_an_unsubmitted_week(client, login_as, session):
    user = login_as("staff")
    resource = ResourceFactory(user_id=user.id)
    last_week = this_week() - timedelta(days=7)
    TimesheetFactory(resource=resource, period_start=last_week, status="rejected")
    session.flush()
    waiting = waiting_section(home(client))
    assert ("1 timesheet was sent back to you: fix and submit again "
            f"(the first: week of {last_week:%d %b})") in waiting
    assert f'href="/time?week={last_week.isoformat()}"' in waiting
    assert "This week&#39;s timesheet is not submitted yet" in waiting


def test_nothing_waiting_shows_no_section(client, login_as, session):
    user = login_as("staff")
    TimesheetFactory(resource=ResourceFactory(user_id=user.id), period_start=this_week(), status="submitted")
    session.flush()
    assert waiting_section(home(client)) == ""


def test_approvers_see_the_queue_and_changes_held_after_approval(client, login_as, session):
    login_as("approver")
    TimesheetFactory(status="submitted")
    approved = TimesheetFactory(status="approved")
    other_approved = TimesheetFactory(status="approved")
    entry = TimeEntryFactory(timesheet=approved, resource=approved.resource)
    connection = Connection(kind="toggl", status="connected")
    session.add(connection)
    session.flush()
    session.add(TimesheetConflict(timesheet_id=approved.id, time_entry_id=entry.id, connection_id=connection.id,
                                  external_id="77", action="update", summary="8.00 h → 6.00 h"))
    session.flush()

    waiting = waiting_section(home(client))
    assert '<a href="/approvals">1 timesheet waits for approval</a>' in waiting
    assert "1 timesheet has changes from a timesheet tool held for a decision" in waiting
    assert 'href="/approvals?status=&amp;held=1"' in waiting

    page = client.get("/approvals?status=&held=1").get_data(as_text=True)
    assert f'id="timesheet-row-{approved.id}"' in page and "1 change held" in page
    assert f'id="timesheet-row-{other_approved.id}"' not in page


def test_admins_see_unmatched_people_and_failed_messages_per_tool(client, login_as, session):
    login_as("admin")
    connection = Connection(kind="toggl", status="connected")
    session.add(connection)
    session.flush()
    person = PersonLink(connection_id=connection.id, external_id="9", external_email="casey@example.test")
    session.add(person)
    session.flush()
    session.add_all([
        WaitingTimeEntry(connection_id=connection.id, person_link_id=person.id, external_id="1",
                         external_project_id="5", work_date=this_week(), seconds=3600),
        SyncMessage(connection_id=connection.id, direction="inbound", entity="time_entry", action="refused",
                    status=MessageStatus.FAILED, reason="Refused: closed for time"),
    ])
    session.flush()
    waiting = waiting_section(client.get("/").get_data(as_text=True))
    log = f'href="/settings/integrations/connections/{connection.id}/sync-log"'
    assert f"{log}>1 person in Toggl with time waiting for a matching resource</a>" in waiting
    assert f"{log}>1 failed sync message with Toggl this week</a>" in waiting


def test_a_pm_sees_only_their_projects_timesheets(client, login_as, session):
    pm = login_as("pm")
    mine = TimesheetFactory(status="submitted")
    TimeEntryFactory(timesheet=mine, resource=mine.resource, offering__project=ProjectFactory(pm=pm))
    TimesheetFactory(status="submitted")  # time on someone else's project
    UserFactory(role="staff")
    session.flush()
    assert "1 timesheet waits for approval" in waiting_section(home(client))
