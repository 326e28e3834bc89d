"""Reminders for missing and unsubmitted time (issue 16): the weekly email on the organization's day and hour,
once per person and week; the approvers' digest N days later; Remind on the approvals list; the command; the
home page."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal import cron, jobs
from portal.audit import AuditEvent
from portal.mail import OutboundEmail
from portal.org.services import get_settings
from portal.timesheets import reminders, standins
from portal.timesheets.models import StandIn, Timesheet, TimesheetReminder
from tests.factories import ProjectFactory, ResourceFactory, TimeEntryFactory, TimesheetFactory, UserFactory

WEEK = date(2026, 3, 2)  # Mon 2 – Sun 8 Mar 2026: "last week" on Monday 9 March
MONDAY_0930 = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)


@pytest.fixture
def on(session):
    settings = get_settings(session)
    settings.reminders_enabled, settings.reminder_weekday, settings.reminder_hour = True, 0, 9
    settings.expected_hours_per_week, settings.reminder_escalate_days = Decimal("40"), 2
    session.flush()
    return settings


@pytest.fixture
def clock():
    """Travel to an instant (UTC) for the rest of the test: today(), created_at and sent_on follow it."""
    travels = []

    def to(instant: datetime):
        if travels:
            travels.pop().stop()
        travel = time_machine.travel(instant, tick=False)
        travel.start()
        travels.append(travel)
        return instant

    yield to
    for travel in travels:
        travel.stop()


def person(session, name, hours=None, status="draft", expected=None, reminders_on=True, role="staff", project=None):
    """A resource with a login, and (when `hours` is given) a timesheet for WEEK with that many hours."""
    user = UserFactory(name=name, email=f"{name.lower()}@example.test", role=role, timesheet_reminders=reminders_on)
    resource = ResourceFactory(name=name, user_id=user.id, expected_hours_per_week=expected)
    if hours is not None:
        sheet = TimesheetFactory(resource=resource, period_start=WEEK, status=status)
        left, day = Decimal(str(hours)), 0
        while left > 0:  # at most 8 h a day
            entry = dict(timesheet=sheet, resource=resource, work_date=WEEK + timedelta(days=day),
                         hours=min(left, Decimal("8")))
            TimeEntryFactory(**entry, **({"offering__project": project} if project else {}))
            left, day = left - Decimal("8"), day + 1
    session.flush()
    return resource


def emails(session, category="timesheet_reminder"):
    return list(session.scalars(select(OutboundEmail).where(OutboundEmail.category == category)
                                .order_by(OutboundEmail.id)))


def test_last_weeks_missing_short_or_unsubmitted_timesheets_are_due(session, on):
    missing, draft, short = person(session, "Mia"), person(session, "Dan", 40), person(session, "Sol", 32, "submitted")
    person(session, "Ada", 40, "submitted")
    person(session, "Abe", 40, "approved")
    person(session, "Zed", expected=Decimal("0"))  # never logs time
    person(session, "Pat", 20, "submitted", expected=Decimal("20"))  # part time, all there
    gone = person(session, "Gus")
    gone.active = False
    ResourceFactory(name="No login")
    person(session, "Cli", role="client")
    person(session, "Off").user.active = False
    session.flush()

    planned = reminders.plan(session, MONDAY_0930)
    assert planned.week_start == WEEK
    assert [(d.resource.id, d.state, d.hours) for d in planned.reminders] == [
        (draft.id, "draft", Decimal("40")), (missing.id, "not started", Decimal("0")),
        (short.id, "submitted, short", Decimal("32"))]


@pytest.mark.parametrize("instant, due", [
    (datetime(2026, 3, 9, 8, 59, tzinfo=UTC), False),  # the reminder day, before its hour
    (datetime(2026, 3, 9, 9, 0, tzinfo=UTC), True),
    (datetime(2026, 3, 9, 23, 0, tzinfo=UTC), True),  # later that day (a cron that missed the hour catches up)
    (datetime(2026, 3, 10, 9, 30, tzinfo=UTC), False),  # another day
])
def test_the_weekly_reminder_goes_on_the_organizations_day_from_its_hour(session, on, instant, due):
    person(session, "Mia")
    planned = reminders.plan(session, instant)
    assert (planned.week_start == WEEK, len(planned.reminders)) == (due, 1 if due else 0)


def test_the_day_and_hour_are_in_the_organizations_time_zone(app, session, on, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_TIMEZONE", "America/New_York")  # EDT (UTC-4) from 8 March 2026
    person(session, "Mia")
    assert reminders.plan(session, datetime(2026, 3, 9, 12, 30, tzinfo=UTC)).week_start is None  # 08:30 there
    assert reminders.plan(session, datetime(2026, 3, 9, 13, 30, tzinfo=UTC)).week_start == WEEK  # 09:30 there
    # 01:30 on Tuesday in UTC is still Monday 21:30 in New York.
    assert reminders.plan(session, datetime(2026, 3, 10, 1, 30, tzinfo=UTC)).week_start == WEEK


def test_the_email_names_the_week_the_hours_found_and_links_to_it_once(session, on, clock):
    clock(MONDAY_0930)
    missing, short = person(session, "Mia"), person(session, "Sol", 32, "submitted")
    sent = reminders.send(session, MONDAY_0930)
    assert len(sent.reminded) == 2
    first, second = emails(session)
    assert (first.recipients, first.subject) == (["mia@example.test"],
                                                 "Your timesheet for the week of 02 Mar 2026 is not submitted")
    assert "week of Mon 02 Mar – Sun 08 Mar 2026 is not submitted" in first.body
    assert "Hours found: 0.00 of the 40.00 expected (not started)" in first.body
    assert "http://127.0.0.1:5000/time?week=2026-03-02" in first.body
    assert second.subject == "Your timesheet for the week of 02 Mar 2026 holds 32 h of 40 h"
    # The missing week now exists, as a draft its approvers find in the queue.
    assert session.scalar(select(Timesheet.status).where(Timesheet.resource_id == missing.id)) == "draft"
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "timesheet.reminders_sent")).one()
    assert audit.after["reminded"] == ["mia@example.test", "sol@example.test"]

    clock(MONDAY_0930 + timedelta(hours=1))
    again = reminders.send(session, MONDAY_0930 + timedelta(hours=1))  # the next hourly run
    assert again.reminded == [] and len(emails(session)) == 2
    short_row = session.scalars(select(TimesheetReminder).where(TimesheetReminder.resource_id == short.id)).one()
    with pytest.raises(IntegrityError), session.begin_nested():  # the unique index backs "never twice"
        session.add(TimesheetReminder(resource_id=short.id, week_start=WEEK, kind="weekly", sent_on=WEEK,
                                      hours=0, expected=40, recipients=[]))
    assert short_row.recipients == ["sol@example.test"]


def test_nothing_is_sent_while_reminders_are_off(session, on, clock):
    clock(MONDAY_0930)
    on.reminders_enabled = False
    person(session, "Mia")
    assert reminders.send(session, MONDAY_0930).reminded == [] and emails(session) == []


def test_after_n_days_still_unsubmitted_each_approver_gets_one_digest(session, on, clock):
    clock(MONDAY_0930)
    project = ProjectFactory(name="Northwind")
    pm = UserFactory(name="Pam", email="pam@example.test", role="pm")
    project.pm_id = pm.id
    approver = UserFactory(name="Avery", email="avery@example.test", role="approver")
    deputy = UserFactory(name="Sam", email="sam@example.test")
    dan = person(session, "Dan", 8, project=project)
    mia = person(session, "Mia", reminders_on=False)  # no email for her, but her approvers still hear
    sol = person(session, "Sol", 10)
    reminders.send(session, MONDAY_0930)
    assert [e.recipients for e in emails(session)] == [["dan@example.test"], ["sol@example.test"]]

    session.scalars(select(Timesheet).where(Timesheet.resource_id == sol.id)).one().status = "submitted"
    tuesday = clock(MONDAY_0930 + timedelta(days=1))
    assert reminders.send(session, tuesday).escalated == []  # one day is not two
    wednesday = clock(MONDAY_0930 + timedelta(days=2))
    session.add(StandIn(approver_id=approver.id, stand_in_id=deputy.id, starts_on=wednesday.date(),
                        ends_on=wednesday.date() + timedelta(days=3)))
    session.flush()
    sent = reminders.send(session, wednesday)
    assert sorted(d.resource.id for d in sent.escalated) == sorted([dan.id, mia.id])
    digests = {e.recipients[0]: e for e in emails(session) if e.subject.endswith("not submitted their timesheet")}
    assert sorted(digests) == ["avery@example.test", "pam@example.test", "sam@example.test"]
    assert "Dan, week of Mon 02 Mar 2026: draft, 8.00 of 40.00 h" in digests["avery@example.test"].body
    assert "Mia, week of Mon 02 Mar 2026: draft, 0.00 of 40.00 h" in digests["avery@example.test"].body
    assert "Sol" not in digests["avery@example.test"].body
    assert "Mia" not in digests["pam@example.test"].body  # the PM sees only the timesheet on their project
    assert "You get this as the stand-in for Avery." in digests["sam@example.test"].body
    assert digests["avery@example.test"].subject == "2 people have not submitted their timesheet"

    assert reminders.send(session, wednesday + timedelta(hours=1)).escalated == []  # once
    assert len(digests) == 3 and len(emails(session)) == 5


def test_the_hourly_cron_entry_runs_the_job_that_decides(session, on, clock):
    (entry,) = [e for e in cron.SCHEDULE if e.func == "portal.jobs.send_timesheet_reminders"]
    assert entry.cron == "7 * * * *"
    clock(MONDAY_0930)
    person(session, "Mia")
    assert jobs.send_timesheet_reminders() == {"reminded": 1, "escalated": 0, "digests": 0}
    assert jobs.send_timesheet_reminders() == {"reminded": 0, "escalated": 0, "digests": 0}


def test_the_command_prints_who_would_get_what_on_a_dry_run_and_sends_otherwise(app, session, on, clock):
    clock(datetime(2026, 3, 11, 15, 0, tzinfo=UTC))  # a Wednesday: the command does not wait for the day
    person(session, "Mia", reminders_on=False)
    person(session, "Sol", 32, "submitted")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reminders", "send", "--dry-run", "--week", "2026-03-04"])
    assert result.exit_code == 0, result.output
    assert "Week of Mon 02 Mar 2026: 2 to remind" in result.output
    assert "mia@example.test (turned reminders off: no email): not started, 0.00 of 40.00 h" in result.output
    assert "sol@example.test: submitted, short, 32.00 of 40.00 h" in result.output
    assert "Dry run: nothing was sent." in result.output
    assert session.scalar(select(func.count()).select_from(TimesheetReminder)) == 0 and emails(session) == []

    result = runner.invoke(args=["reminders", "send"])  # last week, by default
    assert result.exit_code == 0, result.output
    assert "Week of Mon 02 Mar 2026: reminded 2 people (1 by email)" in result.output
    assert [e.recipients for e in emails(session)] == [["sol@example.test"]]

    on.reminders_enabled = False
    session.flush()
    result = runner.invoke(args=["reminders", "send"])
    assert result.exit_code == 1 and "Reminders are off" in result.output


# Remind on the approvals list -------------------------------------------------------------------------

def test_an_approver_reminds_a_person_once_a_day(client, login_as, session, on, clock):
    clock(MONDAY_0930)
    login_as("approver", name="Avery")
    dan = person(session, "Dan", 8)
    sheet = session.scalars(select(Timesheet).where(Timesheet.resource_id == dan.id)).one()
    page = client.get("/approvals?status=unsubmitted").get_data(as_text=True)
    assert f'hx-post="/approvals/{sheet.id}/remind"' in page and "Not submitted" in page

    done = client.post(f"/approvals/{sheet.id}/remind", htmx=True)
    assert done.status_code == 200 and "Reminded today" in done.get_data(as_text=True)
    (email,) = emails(session)
    assert email.recipients == ["dan@example.test"] and "Avery asks you to submit your timesheet" in email.body
    again = client.post(f"/approvals/{sheet.id}/remind", htmx=True)
    assert again.status_code == 409
    assert "Dan was reminded today by Avery; you can remind them again tomorrow." in again.get_data(as_text=True)
    assert "Reminded today" in client.get("/approvals?status=unsubmitted").get_data(as_text=True)

    clock(MONDAY_0930 + timedelta(days=1))
    assert client.post(f"/approvals/{sheet.id}/remind", htmx=True).status_code == 200
    assert len(emails(session)) == 2
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "timesheet.reminded")).all()


def test_remind_is_refused_with_a_reason(client, login_as, session, on):
    login_as("approver")
    submitted = person(session, "Sol", 40, "submitted")
    quiet = person(session, "Mia", 8, reminders_on=False)
    sheet_of = {r.id: session.scalars(select(Timesheet).where(Timesheet.resource_id == r.id)).one()
                for r in (submitted, quiet)}
    response = client.post(f"/approvals/{sheet_of[submitted.id].id}/remind", htmx=True)
    assert response.status_code == 409 and "nothing to remind them of" in response.get_data(as_text=True)
    response = client.post(f"/approvals/{sheet_of[quiet.id].id}/remind", htmx=True)
    assert response.status_code == 409 and "turned timesheet reminders off" in response.get_data(as_text=True)
    login_as("staff")
    assert client.post(f"/approvals/{sheet_of[quiet.id].id}/remind", htmx=True).status_code == 403


def test_a_stand_in_reminds_on_the_approvers_behalf(session, on, clock):
    clock(MONDAY_0930)
    approver, deputy = UserFactory(role="approver", name="Avery"), UserFactory(name="Sam")
    sheet = session.scalars(select(Timesheet).where(Timesheet.resource_id == person(session, "Dan", 8).id)).one()
    standins.name_stand_in(session, approver, approver_email=approver.email, stand_in_email=deputy.email,
                           starts_on=MONDAY_0930.date(), ends_on=MONDAY_0930.date())
    reminders.remind_now(session, deputy, sheet.id)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "timesheet.reminded")).one()
    assert event.on_behalf_of_id == approver.id and "(by Sam on behalf of Avery)" in event.summary


# Pages: home, My time, organization settings -----------------------------------------------------------

def test_home_shows_the_person_and_the_approver_the_same_facts(client, login_as, session, on, clock):
    clock(MONDAY_0930)
    user = login_as("staff", name="Dan")
    ResourceFactory(user_id=user.id, name="Dan")
    session.flush()
    page = client.get("/").get_data(as_text=True)
    assert "Your timesheet for the week of 02 Mar is not submitted: 0.00 h of 40.00 h" in page
    assert 'href="/time?week=2026-03-02"' in page

    mia = person(session, "Mia")
    reminders.send(session, MONDAY_0930)
    reminders.send(session, clock(MONDAY_0930 + timedelta(days=2)))
    client.login(UserFactory(role="approver"))
    session.flush()
    page = client.get("/").get_data(as_text=True)
    assert "2 people have not submitted the week of 02 Mar after a reminder" in page
    assert 'href="/approvals?status=unsubmitted&amp;week_from=2026-03-02&amp;week_to=2026-03-02"' in page
    listed = client.get("/approvals?status=unsubmitted&week_from=2026-03-02&week_to=2026-03-02").get_data(as_text=True)
    assert "Mia" in listed and mia.id


def test_a_person_turns_their_reminders_off_on_my_time(client, login_as, session, on):
    user = login_as("staff")
    ResourceFactory(user_id=user.id)
    session.flush()
    assert "Email me when my last week" in client.get("/time").get_data(as_text=True)
    response = client.post("/time/reminders", htmx=True, data={})
    assert response.status_code == 200 and "Reminders off" in response.get_data(as_text=True)
    session.refresh(user)
    assert user.timesheet_reminders is False
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "user.reminders_changed")).one()
    client.post("/time/reminders", htmx=True, data={"on": "y"})
    session.refresh(user)
    assert user.timesheet_reminders is True


def test_super_admins_set_the_reminders_in_organization_settings(client, login_as, session):
    login_as("super_admin")
    data = {"name": "Org", "timesheet_hours_source": "sold", "finance_rate_type": "cost", "week_start": "0",
            "reminders_enabled": "y", "reminder_weekday": "4", "reminder_hour": "15",
            "expected_hours_per_week": "37.5", "reminder_escalate_days": "3"}
    assert client.post("/settings/organization", htmx=True, data=data).status_code == 200
    settings = get_settings(session)
    session.refresh(settings)
    assert (settings.reminders_enabled, settings.reminder_weekday, settings.reminder_hour,
            settings.expected_hours_per_week, settings.reminder_escalate_days) == (True, 4, 15, Decimal("37.5"), 3)
    refused = client.post("/settings/organization", htmx=True, data={**data, "expected_hours_per_week": "200"})
    assert refused.status_code == 422 and "Between 0 and 168." in refused.get_data(as_text=True)


def test_a_resource_overrides_the_hours_expected(client, login_as, session):
    login_as("admin")
    resource = ResourceFactory(name="Pat", email="pat@example.test")
    session.flush()
    response = client.post(f"/resources/{resource.id}", htmx=True, data={
        "name": "Pat", "email": "pat@example.test", "active": "y", "expected_hours_per_week": "0"})
    assert response.status_code == 200
    session.refresh(resource)
    assert resource.expected_hours_per_week == Decimal("0")
