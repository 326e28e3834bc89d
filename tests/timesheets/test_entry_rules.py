"""The stage and the project decide who may report time, and how (seed 004), for native and synced time."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.auth import policy
from portal.errors import InvalidInput, NotAllowed
from portal.planning import tasks
from portal.projects import entry_settings
from portal.timesheets import entries
from portal.timesheets.models import TimeEntry
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
def person(session):
    user = UserFactory(role="staff")
    resource = ResourceFactory(user_id=user.id)
    session.flush()
    return user, resource


def add(session, person, offering, **values):
    user, resource = person
    return entries.add_entry(session, user, resource_id=resource.id, offering_id=offering.id, work_date=DAY,
                             hours=values.pop("hours", "3"), **values)


def count(session):
    return session.scalar(select(func.count()).select_from(TimeEntry))


def test_a_closed_project_refuses_time_with_the_stages_reason_and_nothing_is_written(session, person):
    offering = OfferingFactory(project__stage=stage("Closed"), project__name="Archive")
    session.flush()
    with pytest.raises(NotAllowed, match=r"Archive is closed \(Closed\); time cannot be reported to it."):
        add(session, person, offering)
    assert count(session) == 0


def test_a_stage_not_open_for_time_refuses_it(session, person):
    offering = OfferingFactory(project__stage=stage("Planning"), project__name="Website")
    session.flush()
    with pytest.raises(NotAllowed, match="Website is in Planning, which is not open for time."):
        add(session, person, offering)


def test_a_project_override_opens_or_closes_time_while_the_stage_allows_changes(session, person):
    offering = OfferingFactory(project__stage=stage("Planning"))
    project = offering.project
    session.flush()
    entry_settings.update_entry_settings(session, "test", project.id, "open_for_time",
                                         {"open_for_time": True, "open_for_time_transfer": None})
    assert add(session, person, offering).hours == Decimal("3")
    entry_settings.update_entry_settings(session, "test", project.id, "open_for_time",
                                         {"open_for_time": False, "open_for_time_transfer": None})
    with pytest.raises(NotAllowed, match="not open for time \\(a project setting\\)"):
        add(session, person, offering)


def test_an_override_waits_while_the_stage_does_not_allow_changes(session, person):
    offering = OfferingFactory(project__stage=stage("Planning"))
    offering.project.open_for_time = True  # chosen while it was allowed
    set_flags(stage("Planning"), allow_open_for_time_changes=False)
    session.flush()
    assert not policy.entry_open(offering.project, "open_for_time")
    with pytest.raises(NotAllowed, match="which is not open for time"):
        add(session, person, offering)


def test_closing_wins_over_an_override(session, person):
    offering = OfferingFactory(project__stage=stage("Closed"))
    offering.project.open_for_time = True
    set_flags(stage("Closed"), allow_open_for_time_changes=True)
    session.flush()
    with pytest.raises(NotAllowed, match="is closed"):
        add(session, person, offering)


def test_overrides_cannot_change_in_a_closed_stage_even_if_it_allows_changes(session):
    project = ProjectFactory(stage=stage("Closed"))
    set_flags(stage("Closed"), allow_open_for_time_changes=True)
    session.flush()
    from portal.errors import Conflict

    with pytest.raises(Conflict, match="Closed closes projects, which decides their time and cost entry options"):
        entry_settings.update_entry_settings(session, "test", project.id, "open_for_time",
                                             {"open_for_time": True, "open_for_time_transfer": True})


def test_assigned_only_projects_take_time_from_their_team(session, person):
    _, resource = person
    offering = OfferingFactory(project__time_entry_by="assigned", name="Build")
    session.flush()
    with pytest.raises(NotAllowed, match="Only people assigned to Build may report time to it."):
        add(session, person, offering)
    AssignmentFactory(offering=offering, resource=resource, passive=True)
    session.flush()
    with pytest.raises(NotAllowed, match="Only people assigned"):
        add(session, person, offering)  # a passive assignment (made by logging time) does not count
    offering.assignments[0].passive = False
    session.flush()
    assert add(session, person, offering).resource_id == resource.id


def test_required_descriptions_are_a_field_error(session, person):
    offering = OfferingFactory(project__time_descriptions_required=True)
    session.flush()
    with pytest.raises(InvalidInput) as refused:
        add(session, person, offering, description="  ")
    assert refused.value.fields == {"description": "Describe the work."}
    assert add(session, person, offering, description="Workshop").description == "Workshop"


def test_editing_an_entry_follows_the_same_rules(session, person):
    offering = OfferingFactory()
    session.flush()
    entry = add(session, person, offering, description="")
    offering.project.time_descriptions_required = True
    session.flush()
    with pytest.raises(InvalidInput):
        entries.update_entry(session, person[0], entry.id, work_date=DAY, hours="4", description="", billable=True)
    offering.project.stage = stage("Closed")
    session.flush()
    with pytest.raises(NotAllowed, match="is closed"):
        entries.update_entry(session, person[0], entry.id, work_date=DAY, hours="4", description="x", billable=True)


def test_entries_may_name_an_open_task_of_their_project(session, person):
    offering = OfferingFactory()
    other = ProjectFactory()
    session.flush()
    design = tasks.save_task(session, "test", offering.project_id, name="Design")
    elsewhere = tasks.save_task(session, "test", other.id, name="Design")
    entry = add(session, person, offering, task_id=design.id)
    assert entry.task is design
    with pytest.raises(InvalidInput, match="Choose a task of this project"):
        add(session, person, offering, task_id=elsewhere.id)
    tasks.save_task(session, "test", offering.project_id, name="Design", active=False, task_id=design.id)
    with pytest.raises(InvalidInput, match="The task Design is closed"):
        add(session, person, offering, task_id=design.id)
    updated = entries.update_entry(session, person[0], entry.id, work_date=DAY, hours="2", description="",
                                   billable=True)
    assert updated.task_id == design.id, "an edit without a task keeps the one it had"


def test_an_entry_keeps_the_bill_rate_it_was_entered_at(session, person):
    _, resource = person
    assignment = AssignmentFactory(resource=resource, bill_rate=Decimal("120"))
    session.flush()
    entry = add(session, person, assignment.offering)
    assignment.bill_rate = Decimal("150")
    session.flush()
    assert entry.bill_rate == Decimal("120")


def test_synced_time_asks_the_same_policy(session):
    """What a timesheet-tool sync calls before writing an entry into a project."""
    resource = ResourceFactory()
    offering = OfferingFactory(project__time_entry_by="assigned", project__time_descriptions_required=True,
                               name="Build")
    session.flush()
    project = offering.project
    assert policy.time_entry_refusal(project) is None
    assert "Only people assigned to Build" in policy.time_entry_refusal(project, offering, resource.id)
    AssignmentFactory(offering=offering, resource=resource)
    session.flush()
    assert "need a description" in policy.time_entry_refusal(project, offering, resource.id, description="")
    assert policy.time_entry_refusal(project, offering, resource.id, description="Meeting") is None
    project.stage = stage("Closed")
    assert "is closed" in policy.time_entry_refusal(project, offering, resource.id, description="Meeting")
