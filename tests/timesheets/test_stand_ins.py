"""Stand-in approvers (issue 16): named for a range of days, they see and decide what the approver could,
never their own timesheet; each decision is recorded "by X on behalf of Y"; overlapping or backwards ranges
are refused; a stand-in can be ended early."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.audit import AuditEvent
from portal.columns import today
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.integrations.models import Connection
from portal.mail import OutboundEmail
from portal.projects.models import ProjectManager
from portal.timesheets import approvals, conflicts, standins, workflow
from portal.timesheets.models import StandIn, TimesheetConflict
from tests.factories import (
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    TimeEntryFactory,
    TimesheetFactory,
    UserFactory,
)


def _name(session, actor, approver, deputy, starts=0, ends=6, note=""):
    return standins.name_stand_in(session, actor, approver_email=approver.email, stand_in_email=deputy.email,
                                  starts_on=today() + timedelta(days=starts), ends_on=today() + timedelta(days=ends),
                                  note=note)


def _submitted(session, user=None, project=None):
    """A submitted timesheet (of `user`'s resource, if given) holding time on `project`."""
    resource = ResourceFactory(user_id=user.id if user else None)
    sheet = TimesheetFactory(resource=resource, status="submitted")
    offering = OfferingFactory(project=project) if project else OfferingFactory()
    TimeEntryFactory(timesheet=sheet, resource=resource, offering=offering)
    session.flush()
    session.refresh(sheet)
    return sheet


def _queue_ids(session, user):
    return {row.sheet.id for row in approvals.approval_queue(session, user, approvals.Filters(status="")).rows}


def test_an_approver_names_a_stand_in_who_is_told_by_email(session):
    approver, deputy = UserFactory(role="approver", name="Avery"), UserFactory(role="staff", name="Sam")
    stand_in = _name(session, approver, approver, deputy, note="Holiday")
    assert (stand_in.approver_id, stand_in.stand_in_id, stand_in.note) == (approver.id, deputy.id, "Holiday")
    (named,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "stand_in.named")).all()
    assert named.actor_id == approver.id and named.summary.startswith("Sam stands in for Avery from ")
    (email,) = session.scalars(select(OutboundEmail).where(OutboundEmail.category == "stand_in")).all()
    assert email.recipients == [deputy.email] and "Sam the stand-in approver for Avery" in email.body
    assert standins.principals(session, deputy) == [approver]


def test_admins_name_stand_ins_for_anyone_others_only_for_themselves(session):
    approver, deputy, other = UserFactory(role="approver"), UserFactory(), UserFactory(role="approver")
    with pytest.raises(NotAllowed):
        _name(session, other, approver, deputy)
    admin = UserFactory(role="admin")
    _name(session, admin, approver, deputy)
    email = session.scalars(select(OutboundEmail).where(OutboundEmail.category == "stand_in")).one()
    assert sorted(email.recipients) == sorted([approver.email, deputy.email])  # the approver learns of it too


@pytest.mark.parametrize("starts, ends, error, message", [
    (3, 1, InvalidInput, "is before the first"),
    (-9, -2, InvalidInput, "That range is over already"),
    (0, 400, InvalidInput, "at most a year"),
])
def test_backwards_past_and_endless_ranges_are_refused(session, starts, ends, error, message):
    approver = UserFactory(role="approver")
    with pytest.raises(error, match=message):
        _name(session, approver, approver, UserFactory(), starts, ends)
    assert session.scalars(select(StandIn)).all() == []


def test_overlapping_ranges_of_one_approver_are_refused_and_ending_early_frees_them(session):
    approver = UserFactory(role="approver")
    first = _name(session, approver, approver, UserFactory(name="Sam"), 0, 6)
    with pytest.raises(Conflict, match="already has a stand-in then: Sam"):
        _name(session, approver, approver, UserFactory(), 6, 10)
    _name(session, approver, approver, UserFactory(), 7, 10)  # the next day is free
    standins.end_stand_in(session, approver, first.id)
    _name(session, approver, approver, UserFactory(), 2, 5)  # an ended stand-in no longer blocks the days
    with pytest.raises(Conflict, match="ended already"):
        standins.end_stand_in(session, approver, first.id)


def test_nobody_stands_in_for_themselves_or_for_someone_who_approves_nothing(session):
    approver, staff = UserFactory(role="approver"), UserFactory(role="staff")
    with pytest.raises(InvalidInput, match="cannot stand in for themselves"):
        _name(session, approver, approver, approver)
    with pytest.raises(InvalidInput, match="approves no timesheets"):
        _name(session, staff, staff, UserFactory())
    with pytest.raises(InvalidInput, match="No active staff login"):
        standins.name_stand_in(session, approver, approver_email=approver.email, stand_in_email="nobody@x.test",
                               starts_on=today(), ends_on=today())
    pm = UserFactory(role="staff")
    ProjectFactory(pm_id=pm.id)
    session.flush()
    _name(session, pm, pm, UserFactory())  # a PM-team member approves their projects' time


def test_the_stand_in_sees_and_decides_the_approvers_queue_recorded_on_their_behalf(session):
    approver, deputy = UserFactory(role="approver", name="Avery"), UserFactory(role="staff", name="Sam")
    sheet = _submitted(session)
    assert _queue_ids(session, deputy) == set()
    with pytest.raises(NotAllowed):
        workflow.transition(session, deputy, sheet.id, "approve", sheet.version)
    _name(session, approver, approver, deputy)

    (row,) = approvals.approval_queue(session, deputy, approvals.Filters()).rows
    assert (row.sheet.id, row.decidable, row.on_behalf) == (sheet.id, True, approver)
    workflow.transition(session, deputy, sheet.id, "approve", sheet.version)
    assert (sheet.status, sheet.decided_by_id, sheet.decided_for_id) == ("approved", deputy.id, approver.id)
    (event,) = workflow.history(session, sheet.id)[:1]
    assert (event.actor_id, event.on_behalf_of_id) == (deputy.id, approver.id)
    assert event.who == f"{deputy.email} on behalf of {approver.email}"
    assert "(by Sam on behalf of Avery)" in event.summary


def test_a_stand_in_never_decides_on_their_own_timesheet_nor_the_approvers(session):
    approver, deputy = UserFactory(role="approver"), UserFactory(role="staff")
    own, approvers = _submitted(session, deputy), _submitted(session, approver)
    _name(session, approver, approver, deputy)
    assert _queue_ids(session, deputy) == set()
    for sheet in (own, approvers):
        with pytest.raises(NotAllowed):
            workflow.transition(session, deputy, sheet.id, "approve", sheet.version)


def test_an_approver_standing_in_for_another_decides_in_their_own_right(session):
    """Standing in adds nothing to the rights of someone who approves everyone: their queue already holds
    every timesheet but their own, so the stand-ins are not read and their decisions are their own."""
    away, present = UserFactory(role="approver", name="Avery"), UserFactory(role="approver", name="Pat")
    sheet, aways, own = _submitted(session), _submitted(session, away), _submitted(session, present)
    _name(session, away, away, present)
    assert standins.principals(session, present) == []
    assert _queue_ids(session, present) == {sheet.id, aways.id}
    rows = {row.sheet.id: row for row in approvals.approval_queue(session, present, approvals.Filters()).rows}
    assert own.id not in rows and all(row.decidable and row.on_behalf is None for row in rows.values())
    workflow.transition(session, present, sheet.id, "approve", sheet.version)
    assert (sheet.decided_by_id, sheet.decided_for_id) == (present.id, None)


def test_a_pms_stand_in_gets_the_pms_projects_only(session):
    pm, deputy = UserFactory(role="pm"), UserFactory(role="staff")
    managed = ProjectFactory(pm_id=pm.id)
    teamed = ProjectFactory()
    session.add(ProjectManager(project_id=teamed.id, user_id=pm.id))
    mine, team, other = _submitted(session, project=managed), _submitted(session, project=teamed), _submitted(session)
    _name(session, pm, pm, deputy)
    assert _queue_ids(session, deputy) == {mine.id, team.id}
    assert other.id not in _queue_ids(session, deputy)


def test_before_the_first_day_and_after_ending_early_the_stand_in_has_no_rights(session):
    approver, deputy = UserFactory(role="approver"), UserFactory(role="staff")
    sheet = _submitted(session)
    upcoming = _name(session, approver, approver, deputy, 2, 5)
    assert _queue_ids(session, deputy) == set()
    standins.end_stand_in(session, approver, upcoming.id)  # cancelled before it started
    current = _name(session, approver, approver, deputy, 0, 5)
    assert _queue_ids(session, deputy) == {sheet.id}
    standins.end_stand_in(session, UserFactory(role="admin"), current.id)
    assert _queue_ids(session, deputy) == set()
    with pytest.raises(NotAllowed):
        workflow.transition(session, deputy, sheet.id, "approve", sheet.version)
    ended = session.scalars(select(AuditEvent).where(AuditEvent.action == "stand_in.ended")).all()
    assert [e.summary.split(":")[0] for e in ended] == ["Cancelled early", "Ended early"]


def test_a_stand_ins_decision_on_a_held_tool_change_is_on_the_approvers_behalf(session):
    approver, deputy = UserFactory(role="approver", name="Avery"), UserFactory(role="staff", name="Sam")
    sheet = _submitted(session)
    sheet.status = "approved"
    connection = Connection(kind="toggl", status="connected")
    session.add(connection)
    session.flush()
    held = TimesheetConflict(timesheet_id=sheet.id, time_entry_id=sheet.entries[0].id, connection_id=connection.id,
                             external_id="9", action="delete", summary="Deleted in Toggl after approval")
    session.add(held)
    session.flush()
    _name(session, approver, approver, deputy)
    conflicts.reject(session, deputy, held.id)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "timesheet.conflict_rejected")).one()
    assert event.on_behalf_of_id == approver.id and "(by Sam on behalf of Avery)" in event.summary


# Pages -------------------------------------------------------------------------------------------------

def test_both_home_pages_show_the_queue_and_whose_it_is(client, login_as, session):
    approver = UserFactory(role="approver", name="Avery")
    _submitted(session)
    deputy = login_as("staff", name="Sam")
    stand_in = _name(session, approver, approver, deputy)
    session.flush()
    page = client.get("/").get_data(as_text=True)
    assert (f"1 timesheet waits for approval in Avery&#39;s queue (you stand in for them until "
            f"{stand_in.ends_on:%a %d %b})") in page
    assert 'href="/approvals"' in page  # the top bar offers Approvals to a staff member standing in

    client.login(approver)
    page = client.get("/").get_data(as_text=True)
    assert f"1 timesheet waits for approval (Sam stands in for you until {stand_in.ends_on:%a %d %b})" in page


def test_the_detail_page_says_the_decision_is_on_the_approvers_behalf(client, login_as, session):
    approver = UserFactory(role="approver", name="Avery")
    sheet = _submitted(session)
    deputy = login_as("staff", name="Sam")
    _name(session, approver, approver, deputy)
    session.flush()
    page = client.get(f"/timesheets/{sheet.id}").get_data(as_text=True)
    assert "You decide here on behalf of Avery" in page and "transition-approve" in page
    client.post(f"/timesheets/{sheet.id}/approve", htmx=True, data={"version": sheet.version})
    page = client.get(f"/timesheets/{sheet.id}").get_data(as_text=True)
    assert "Approved by Sam on behalf of Avery" in page and f"{deputy.email} on behalf of {approver.email}" in page


def test_the_stand_ins_page_names_refuses_with_a_message_and_ends(client, login_as, session):
    approver = login_as("approver", name="Avery")
    deputy = UserFactory(name="Sam")
    session.flush()
    day = today()
    refused = client.post("/approvals/stand-ins", htmx=True, data={
        "stand_in_email": deputy.email, "starts_on": str(day + timedelta(days=3)), "ends_on": str(day)})
    assert refused.status_code == 422 and "is before the first" in refused.get_data(as_text=True)
    done = client.post("/approvals/stand-ins", htmx=True, data={
        "stand_in_email": deputy.email, "starts_on": str(day), "ends_on": str(day + timedelta(days=4)),
        "approver_email": "someone.else@example.test"})  # ignored: approvers name their own stand-ins
    body = done.get_data(as_text=True)
    assert done.status_code == 200 and "Sam stands in for Avery" in body and "Standing in now" in body
    stand_in = session.scalars(select(StandIn)).one()
    assert stand_in.approver_id == approver.id
    overlapping = client.post("/approvals/stand-ins", htmx=True, data={
        "stand_in_email": UserFactory().email, "starts_on": str(day), "ends_on": str(day)})
    assert overlapping.status_code == 422 and "already has a stand-in then: Sam" in overlapping.get_data(as_text=True)
    ended = client.post(f"/approvals/stand-ins/{stand_in.id}/end", htmx=True)
    assert ended.status_code == 200 and "Ended: Sam no longer stands in for Avery" in ended.get_data(as_text=True)
    client.login(deputy)
    assert client.post(f"/approvals/stand-ins/{stand_in.id}/end").status_code == 403
