"""The Plan tab's services: tasks and task types, budget baselines, resource requests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal import audit
from portal.auth.models import Permission
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.planning import baselines, requests, tasks
from portal.planning.models import RequestStatus
from portal.projects import services as projects
from portal.projects.models import Booking
from tests.factories import OfferingFactory, ProjectFactory, ResourceFactory, UserFactory, stage
from tests.stages.helpers import set_flags


@pytest.fixture
def pm_project(session):
    pm = UserFactory(role="pm")
    project = ProjectFactory(pm=pm)
    OfferingFactory(project=project, name="Build", budget_amount=Decimal("10000"), planned_hours=Decimal("80"))
    set_flags(stage("In Progress"), pm_edit_tasks=True, pm_edit_task_types=True, pm_create_baselines=True,
              pm_edit_baselines=False, pm_request_resources=True, pm_schedule_resources=True)
    session.flush()
    return pm, project


# Tasks
def test_tasks_and_task_types(session, pm_project):
    pm, project = pm_project
    design = tasks.save_task_type(session, pm, project.id, "Design")
    task = tasks.save_task(session, pm, project.id, name="Wireframes", task_type_id=design.id,
                           planned_hours=Decimal("12"), start_date=date(2026, 3, 2), end_date=date(2026, 3, 6))
    assert task.task_type.name == "Design"
    with pytest.raises(Conflict, match="already has a task named wireframes"):
        tasks.save_task(session, pm, project.id, name="wireframes")
    with pytest.raises(InvalidInput, match="ends before it starts"):
        tasks.save_task(session, pm, project.id, name="Backwards", start_date=date(2026, 3, 6),
                        end_date=date(2026, 3, 2))
    other_type = tasks.save_task_type(session, "test", ProjectFactory().id, "Elsewhere")
    with pytest.raises(InvalidInput, match="task type of this project"):
        tasks.save_task(session, pm, project.id, name="Mixed", task_type_id=other_type.id)
    assert audit.history(session, "project_tasks", task.id)[0].action == "task.created"


def test_changing_a_tasks_type_also_needs_the_task_types_right(session, pm_project):
    pm, project = pm_project
    design = tasks.save_task_type(session, pm, project.id, "Design")
    task = tasks.save_task(session, pm, project.id, name="Wireframes")
    set_flags(stage("In Progress"), pm_edit_task_types=False)
    session.flush()
    tasks.save_task(session, pm, project.id, name="Wireframes v2", task_id=task.id)
    with pytest.raises(NotAllowed):
        tasks.save_task(session, pm, project.id, name="Wireframes v2", task_type_id=design.id, task_id=task.id)


# Baselines
def test_a_baseline_snapshots_the_offering_budgets(session, pm_project):
    pm, project = pm_project
    baseline = baselines.create_baseline(session, pm, project.id, "Signed-off plan")
    offering = project.offerings[0]
    projects.update_offering(session, "test", offering.id, budget_amount=Decimal("12000"))
    (row,) = baselines.comparison(session, baseline)
    assert (row["line"].budget_amount, row["now"].budget_amount) == (Decimal("10000"), Decimal("12000"))
    with pytest.raises(Conflict, match="already exists"):
        baselines.create_baseline(session, pm, project.id, "signed-off PLAN")


def test_pms_who_take_baselines_cannot_rewrite_them_without_the_second_right(session, pm_project):
    pm, project = pm_project
    baseline = baselines.create_baseline(session, pm, project.id, "Plan")
    line = baseline.lines[0]
    with pytest.raises(NotAllowed, match="cannot change or delete baselines"):
        baselines.update_baseline_line(session, pm, line.id, planned_hours=Decimal("1"), budget_amount=None)
    with pytest.raises(NotAllowed):
        baselines.delete_baseline(session, pm, baseline.id)
    set_flags(stage("In Progress"), pm_edit_baselines=True)
    session.flush()
    baselines.update_baseline_line(session, pm, line.id, planned_hours=Decimal("70"), budget_amount=Decimal("9000"))
    event = audit.history(session, "baselines", baseline.id)[0]
    assert {k: Decimal(v) for k, v in event.before.items()} == {"planned_hours": 80, "budget_amount": 10000}
    assert {k: Decimal(v) for k, v in event.after.items()} == {"planned_hours": 70, "budget_amount": 9000}
    baselines.delete_baseline(session, pm, baseline.id)
    assert baselines.list_baselines(session, project.id) == []


def test_mpe_users_edit_baselines_whatever_the_stage(session, pm_project):
    _, project = pm_project
    mpe = UserFactory(role="staff", permissions=[Permission.MAINTAIN_PROJECTS])
    project.stage = stage("Closed")
    session.flush()
    baseline = baselines.create_baseline(session, mpe, project.id, "Final")
    baselines.delete_baseline(session, mpe, baseline.id)


# Resource requests
def test_a_request_is_booked_as_weekly_hours_spread_over_its_weeks(session, pm_project):
    pm, project = pm_project
    person = ResourceFactory(name="Dana")
    request = requests.request_resource(session, pm, project.id, hours=Decimal("30"), start_date=date(2026, 3, 4),
                                        end_date=date(2026, 3, 17), role="Developer")
    requests.fulfil_request(session, pm, request.id, person.id, first_weekday=0)
    weeks = session.execute(select(Booking.on, Booking.hours).where(Booking.project_id == project.id)
                            .order_by(Booking.on)).all()
    # Wed 4 – Sun 8 (5 days), Mon 9 – Sun 15 (7), Mon 16 – Tue 17 (2): 30 h over 14 days.
    assert weeks == [(date(2026, 3, 2), Decimal("10.71")), (date(2026, 3, 9), Decimal("15.00")),
                     (date(2026, 3, 16), Decimal("4.29"))]
    assert (request.status, request.resource_id) == (RequestStatus.BOOKED, person.id)
    with pytest.raises(Conflict, match="already booked"):
        requests.fulfil_request(session, pm, request.id, person.id, first_weekday=0)


def test_booking_a_request_needs_the_scheduling_right(session, pm_project):
    pm, project = pm_project
    request = requests.request_resource(session, pm, project.id, hours=Decimal("8"), start_date=date(2026, 3, 2),
                                        end_date=date(2026, 3, 6), resource_id=ResourceFactory().id)
    set_flags(stage("In Progress"), pm_schedule_resources=False)
    session.flush()
    with pytest.raises(NotAllowed, match="cannot be booked by you"):
        requests.fulfil_request(session, pm, request.id, None, first_weekday=0)
    assert request.status == RequestStatus.OPEN


@pytest.mark.parametrize("values,message", [
    ({"role": "", "resource_id": None}, "Name the person or the role"),
    ({"hours": Decimal("0")}, "more than 0 hours"),
    ({"end_date": date(2026, 3, 1)}, "ends before it starts"),
    ({"end_date": date(2027, 6, 1)}, "at most a year"),
])
def test_bad_requests_are_refused(session, pm_project, values, message):
    pm, project = pm_project
    arguments = {"hours": Decimal("8"), "start_date": date(2026, 3, 2), "end_date": date(2026, 3, 6),
                 "role": "Tester", **values}
    with pytest.raises(InvalidInput, match=message):
        requests.request_resource(session, pm, project.id, **arguments)


def test_cancelling_a_request(session, pm_project):
    pm, project = pm_project
    request = requests.request_resource(session, pm, project.id, hours=Decimal("8"), start_date=date(2026, 3, 2),
                                        end_date=date(2026, 3, 6), role="Tester")
    requests.cancel_request(session, pm, request.id)
    assert request.status == RequestStatus.CANCELLED


def test_the_plan_tab_renders_and_refused_forms_come_back_with_422(client, session, login_as):
    pm = login_as("pm")
    project = ProjectFactory(pm=pm)
    OfferingFactory(project=project)
    set_flags(stage("In Progress"), pm_edit_tasks=True, pm_create_baselines=True, pm_request_resources=True)
    session.commit()
    page = client.get(f"/projects/{project.id}/plan").get_data(as_text=True)
    assert "Add task" in page and "Take baseline" in page and ">Request</button>" in page
    response = client.post(f"/projects/{project.id}/tasks", data={"name": "", "active": "y"}, htmx=True)
    assert response.status_code == 422 and "Enter a name." in response.get_data(as_text=True)
    response = client.post(f"/projects/{project.id}/tasks", data={"name": "Kick-off", "active": "y"}, htmx=True)
    assert response.status_code == 200 and 'value="Kick-off"' in response.get_data(as_text=True)
    set_flags(stage("In Progress"), pm_edit_tasks=False)
    session.commit()
    page = client.get(f"/projects/{project.id}/plan").get_data(as_text=True)
    assert "Add task" not in page and "cannot be changed by you while the project is in In Progress" in page
    refused = client.post(f"/projects/{project.id}/tasks", data={"name": "Sneaky", "active": "y"}, htmx=True)
    assert refused.status_code == 403
