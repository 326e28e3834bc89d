"""PMs transfer, adjust and revalue time entries, within what the stages allow (seed 004)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portal import audit, events
from portal.auth.models import Permission
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.planning import tasks
from portal.projects import services as projects
from portal.timesheets import adjustments, entries
from portal.timesheets.models import EntrySource, TimesheetStatus
from tests.factories import (
    AssignmentFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    UserFactory,
    stage,
)
from tests.stages.helpers import set_flags

DAY = date(2026, 3, 3)


@pytest.fixture
def setup(session):
    """A PM managing two In Progress projects; a person with an entry on the first."""
    pm = UserFactory(role="pm")
    source = OfferingFactory(project=ProjectFactory(pm=pm, name="Source"), name="Build")
    target = OfferingFactory(project=ProjectFactory(pm=pm, name="Target"), name="Run")
    user = UserFactory(role="staff")
    person = ResourceFactory(user_id=user.id)
    AssignmentFactory(offering=source, resource=person, bill_rate=Decimal("100"))
    AssignmentFactory(offering=target, resource=person, bill_rate=Decimal("140"))
    set_flags(stage("In Progress"), pm_transfer_time=True, pm_adjust_time_cost=False, pm_revalue_time=False,
              open_for_time_transfer=True)
    session.flush()
    entry = entries.add_entry(session, user, resource_id=person.id, offering_id=source.id, work_date=DAY, hours="6")
    return pm, source, target, entry


def test_a_pm_transfers_time_to_another_project_they_manage(session, setup):
    pm, source, target, entry = setup
    seen = []
    with events.time_entry_changed.connected_to(lambda sender, **kw: seen.append(kw["changes"])):
        (moved,) = adjustments.transfer_time_entries(session, pm, [entry.id], target.id)
    assert (moved.project_id, moved.offering_id, moved.bill_rate) == (target.project_id, target.id, Decimal("140"))
    assert seen[0]["offering_id"] == [source.id, target.id]
    event = audit.history(session, "time_entries", entry.id)[0]
    assert event.action == "time_entry.transferred" and event.before["project_id"] == source.project_id
    assert "transferred from Source to Target" in event.summary


def test_the_target_must_be_open_for_time_transfers(session, setup):
    pm, _, target, entry = setup
    target.project.stage = stage("Pre-Close")  # Pre-Close does not take time transfers
    session.flush()
    with pytest.raises(NotAllowed, match="Target is not open for time transfers"):
        adjustments.transfer_time_entries(session, pm, [entry.id], target.id)
    assert entry.project_id != target.project_id


def test_a_pm_transfers_only_to_projects_they_manage(session, setup):
    pm, _, _, entry = setup
    foreign = OfferingFactory(project=ProjectFactory(name="Foreign"))
    session.flush()
    with pytest.raises(NotAllowed, match="only to projects you manage; Foreign"):
        adjustments.transfer_time_entries(session, pm, [entry.id], foreign.id)
    mpe = UserFactory(role="staff", permissions=[Permission.MAINTAIN_PROJECTS])
    assert adjustments.transfer_time_entries(session, mpe, [entry.id], foreign.id)[0].project_id == foreign.project_id


def test_transfers_need_the_source_stages_transfer_or_adjust_right(session, setup):
    pm, _, target, entry = setup
    set_flags(stage("In Progress"), pm_transfer_time=False)
    session.flush()
    with pytest.raises(NotAllowed, match="cannot transfer time off Source"):
        adjustments.transfer_time_entries(session, pm, [entry.id], target.id)
    set_flags(stage("In Progress"), pm_adjust_time_cost=True)  # seed 004: adjusting includes transfers
    session.flush()
    assert adjustments.transfer_time_entries(session, pm, [entry.id], target.id)


def test_transfers_are_all_or_nothing_and_skip_synced_entries_with_a_reason(session, setup):
    pm, source, target, entry = setup
    synced = entries.add_entry(session, "test", resource_id=entry.resource_id, offering_id=source.id,
                               work_date=DAY, hours="1")
    synced.source = EntrySource.TOGGL
    session.flush()
    with pytest.raises(NotAllowed, match="read-only here"):
        adjustments.transfer_time_entries(session, pm, [entry.id, synced.id], target.id)


def test_frozen_weeks_cannot_be_transferred_or_adjusted(session, setup):
    pm, _, target, entry = setup
    entry.timesheet.status = TimesheetStatus.SUBMITTED
    set_flags(stage("In Progress"), pm_adjust_time_cost=True)
    session.flush()
    with pytest.raises(Conflict, match="is submitted"):
        adjustments.transfer_time_entries(session, pm, [entry.id], target.id)
    with pytest.raises(Conflict, match="is submitted"):
        adjustments.adjust_time_entry(session, pm, entry.id, hours="5", bill_rate=None, task_id=None, billable=True)


def test_nothing_to_transfer_or_no_target_is_bad_input(session, setup):
    pm, _, target, entry = setup
    with pytest.raises(InvalidInput, match="Tick the time entries"):
        adjustments.transfer_time_entries(session, pm, [], target.id)
    with pytest.raises(InvalidInput, match="Choose the offering"):
        adjustments.transfer_time_entries(session, pm, [entry.id], None)


def test_adjusting_writes_up_or_down_revalues_and_retasks(session, setup):
    pm, source, _, entry = setup
    set_flags(stage("In Progress"), pm_adjust_time_cost=True, pm_edit_tasks=True)
    session.flush()
    review = tasks.save_task(session, pm, source.project_id, name="Review")
    adjusted = adjustments.adjust_time_entry(session, pm, entry.id, hours="4.5", bill_rate=Decimal("90"),
                                             task_id=review.id, billable=False)
    assert (adjusted.hours, adjusted.bill_rate, adjusted.task_id, adjusted.billable) == (
        Decimal("4.5"), Decimal("90"), review.id, False)
    event = audit.history(session, "time_entries", entry.id)[0]
    assert event.action == "time_entry.adjusted"
    assert event.before == {"hours": "6", "bill_rate": "100", "task_id": None, "billable": True}
    with pytest.raises(InvalidInput, match="more than 0"):
        adjustments.adjust_time_entry(session, pm, entry.id, hours="0", bill_rate=None, task_id=None,
                                      billable=True)


def test_revaluing_gives_existing_time_the_new_rate(session, setup):
    pm, source, _, entry = setup
    assignment = source.assignments[0]
    set_flags(stage("In Progress"), pm_edit_rates=True, pm_revalue_time=True)
    session.flush()
    projects.update_assignment(session, pm, assignment.id, bill_rate=Decimal("110"), planned_hours=Decimal("40"),
                               role="")
    assert entry.bill_rate == Decimal("100"), "a rate change alone leaves entered time at its rate"
    adjustments.change_assignment(session, pm, assignment.id, bill_rate=Decimal("115"), planned_hours=Decimal("40"),
                                  role="", revalue=True)
    assert entry.bill_rate == Decimal("115")
    assert audit.history(session, "assignments", assignment.id)[0].action == "time_entry.revalued"


def test_the_team_tab_offers_revaluing_when_the_stage_allows(client, session, setup):
    pm, source, _, entry = setup
    assignment = source.assignments[0]
    set_flags(stage("In Progress"), pm_edit_rates=True, pm_create_roles=True, pm_request_resources=True,
              pm_revalue_time=True)
    session.commit()
    client.login(pm)
    assert "revalue existing time" in client.get(f"/projects/{source.project_id}/team").get_data(as_text=True)
    response = client.post(f"/assignments/{assignment.id}", data={
        "resource_id": assignment.resource_id, "bill_rate": "125", "planned_hours": "40", "revalue": "y"}, htmx=True)
    assert response.status_code == 200
    session.expire_all()
    assert entry.bill_rate == Decimal("125")
    set_flags(stage("In Progress"), pm_revalue_time=False)
    session.commit()
    assert "revalue existing time" not in client.get(f"/projects/{source.project_id}/team").get_data(as_text=True)
