"""One small organization with a login for every kind of user and an object of every kind each route names:
what the permission matrix and the input fuzzing request against.

Project P belongs to client Northwind and is managed by `pm`; project Q (another client) by `pm_other`.
Every internal login has a resource with rates; `staff` has time, a submitted week and an expense on P.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

from portal.auth.models import Permission, User
from portal.expenses.models import Expense
from portal.integrations.models import Connection, ConnectionStatus, PersonLink, ProjectLink
from portal.planning import baselines, requests
from portal.planning.models import ProjectTask, TaskType
from portal.runs.models import SyncMessage, SyncRun
from portal.stages import services as stages
from portal.timesheets.models import StandIn, TimesheetConflict
from tests.factories import (
    AssignmentFactory,
    BookingFactory,
    ClientFactory,
    CostCategoryFactory,
    DealFactory,
    FiscalPeriodFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    TimeEntryFactory,
    TimesheetFactory,
    UserFactory,
)

ANONYMOUS = "anonymous"
# (role key, user role, cost-centre permissions)
LOGINS = [
    ("client", "client", []),
    ("staff", "staff", []),
    ("approver", "approver", []),
    ("pm", "pm", []),
    ("pm_other", "pm", []),
    ("admin", "admin", []),
    ("super_admin", "super_admin", []),
    ("mpe", "staff", [Permission.MAINTAIN_PROJECTS]),
    ("maeps", "staff", [Permission.MAINTAIN_ADVANCED_PROJECTS]),
]
ROLES = [ANONYMOUS] + [key for key, _, _ in LOGINS]
MONDAY = date(2026, 3, 2)
NEXT_MONDAY = date(2026, 3, 9)


@dataclass
class World:
    users: dict[str, User] = field(default_factory=dict)
    ids: SimpleNamespace = field(default_factory=SimpleNamespace)


def build(session) -> World:
    world = World()
    ids = world.ids
    northwind, other_client = ClientFactory(name="Northwind"), ClientFactory(name="Contoso")
    category = CostCategoryFactory(name="Travel")
    for key, role, permissions in LOGINS:
        user = UserFactory(role=role, permissions=permissions, name=key.replace("_", " ").title(),
                           client_id=northwind.id if role == "client" else None)
        world.users[key] = user
        if role != "client":
            ResourceFactory(user=user, name=user.name, rates={"cost": "55.50", "sell": "131.25"})
    session.flush()
    resources = {key: user_resource(session, user) for key, user in world.users.items() if key != "client"}

    project = ProjectFactory(client=northwind, pm_id=world.users["pm"].id, name="Platform")
    other = ProjectFactory(client=other_client, pm_id=world.users["pm_other"].id, name="Warehouse")
    second_project = ProjectFactory(client=northwind, pm_id=world.users["pm"].id, name="Platform phase 2")
    offering = OfferingFactory(project=project, name="Build", fixed_fee=Decimal("48000"),
                               budget_amount=Decimal("52000"))
    second = OfferingFactory(project=project, name="Support")
    other_offering = OfferingFactory(project=other, name="Audit")
    assignment = AssignmentFactory(offering=offering, resource=resources["staff"], bill_rate=Decimal("187.40"))
    AssignmentFactory(offering=offering, resource=resources["approver"], bill_rate=Decimal("187.40"))
    booking = BookingFactory(project=project, resource=resources["staff"])
    task_type = TaskType(project_id=project.id, name="Design")
    session.add(task_type)
    session.flush()
    task = ProjectTask(project_id=project.id, name="Wireframes", task_type_id=task_type.id)
    session.add(task)
    deal = DealFactory(client=northwind, project=project, name="Platform deal", amount=Decimal("96500"))
    period = FiscalPeriodFactory(name="2026-03", start_date=date(2026, 3, 1), end_date=date(2026, 3, 31))

    draft = TimesheetFactory(resource=resources["staff"], period_start=MONDAY, status="draft")
    entry = TimeEntryFactory(resource=resources["staff"], offering=offering, work_date=MONDAY, timesheet=draft,
                             hours=Decimal("6"))
    submitted = TimesheetFactory(resource=resources["staff"], period_start=NEXT_MONDAY, status="submitted")
    TimeEntryFactory(resource=resources["staff"], offering=offering, work_date=NEXT_MONDAY, timesheet=submitted)
    others_sheet = TimesheetFactory(resource=resources["approver"], period_start=MONDAY, status="draft")
    others_entry = TimeEntryFactory(resource=resources["approver"], offering=offering, work_date=MONDAY,
                                    timesheet=others_sheet)
    expense = Expense(project_id=project.id, resource_id=resources["staff"].id, cost_category_id=category.id,
                      spent_on=MONDAY, amount=Decimal("42.10"), description="Train")
    session.add(expense)
    session.flush()
    baseline = baselines.create_baseline(session, "matrix", project.id, "Signed")
    request = requests.request_resource(session, "matrix", project.id, hours=Decimal("16"), start_date=MONDAY,
                                        end_date=NEXT_MONDAY, role="Designer")
    workflow_type = stages.create_engagement_type(session, "matrix", "Retainers")
    extra_stage = stages.create_stage(session, "matrix", workflow_type.id, "Parked")
    # The tools' connections (not connected: no tool panel or provisioning offer appears because of them), a
    # change Toggl holds on staff's submitted week, a project-level run on P that failed, a person of Toggl's,
    # a failed message of each tool, and P's second offering linked to a Procore project.
    connection = Connection(kind="toggl", status=ConnectionStatus.DISCONNECTED, settings={})
    procore = Connection(kind="procore", status=ConnectionStatus.DISCONNECTED, settings={})
    session.add_all([connection, procore])
    session.flush()
    person = PersonLink(connection_id=connection.id, external_id="901", external_email="someone@example.test")
    procore_link = ProjectLink(connection_id=procore.id, offering_id=second.id, external_id="4500",
                               external_name="Riverside", method="connected")
    toggl_message, procore_message = (
        SyncMessage(connection_id=c.id, direction="inbound", entity="time_entry", external_id="77", status="failed",
                    reason="Refused", payload={"id": "77", "resource_id": 77}) for c in (connection, procore))
    session.add_all([person, procore_link, toggl_message, procore_message])
    conflict = TimesheetConflict(timesheet_id=submitted.id, connection_id=connection.id, external_id="42",
                                 action="delete", summary="Changed in Toggl after approval: deleted")
    run = SyncRun(kind="manual_project", scope=f"toggl:time:project:{project.id}", job="portal.jobs.sweep",
                  queue="sync", status="failed", project_id=project.id, connection_id=connection.id,
                  error="Toggl is not connected.", counts={}, checkpoint={}, params={})
    session.add_all([conflict, run])
    target_staff = UserFactory(role="staff", name="Target staff")
    target_super = UserFactory(role="super_admin", name="Target super")
    # Issue 16: an upcoming stand-in (it grants nobody anything today) for the approver.
    stand_in = StandIn(approver_id=world.users["approver"].id, stand_in_id=target_staff.id,
                       starts_on=date.today() + timedelta(days=30), ends_on=date.today() + timedelta(days=40))
    session.add(stand_in)
    session.flush()

    ids.__dict__.update(
        project=project.id, other_project=other.id, pm_second_project=second_project.id, offering=offering.id,
        second_offering=second.id,
        other_offering=other_offering.id, assignment=assignment.id, booking=booking.id, task_type=task_type.id,
        task=task.id, deal=deal.id, client=northwind.id, other_client=other_client.id, category=category.id,
        period=period.id, draft_sheet=draft.id, entry=entry.id, submitted_sheet=submitted.id,
        submitted_version=submitted.version, others_entry=others_entry.id, others_sheet=others_sheet.id,
        expense=expense.id,
        baseline=baseline.id, baseline_line=baseline.lines[0].id, request=request.id,
        workflow_type=workflow_type.id, extra_stage=extra_stage.id, stage=project.stage_id,
        target_staff=target_staff.id, target_super=target_super.id,
        resource=resources["staff"].id, other_resource=resources["approver"].id,
        rate=resources["staff"].rates[0].id, conflict=conflict.id, run=run.id, stand_in=stand_in.id,
        toggl=connection.id, procore=procore.id, procore_link=procore_link.id, person=person.id,
        toggl_message=toggl_message.id, procore_message=procore_message.id,
    )
    return world


def user_resource(session, user):
    from portal.timesheets.entries import resource_of

    return resource_of(session, user)
