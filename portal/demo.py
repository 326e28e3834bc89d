"""Demo data for `make run`: a small consultancy with people in every role, clients (one duplicate
pair), projects in every stage, offerings of every billing model, rates, bookings and fiscal periods.

Idempotent: everything is found by its natural key (email, name) before it is created, and created
through the services, so the demo exercises the same rules and audit trail as real use.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth import services as auth_services
from portal.auth.models import Permission, Role, User
from portal.columns import today as local_today
from portal.expenses.services import add_expense
from portal.finance import services as finance
from portal.finance.models import CostCategory, FiscalPeriod
from portal.integrations.registry import load as load_module
from portal.integrations.registry import tools
from portal.org import services as org
from portal.planning import baselines, requests, tasks
from portal.projects import crm, resources, services
from portal.projects.models import BillingModel, Client, DealStage, Project, RateType, Resource
from portal.stages.models import Stage
from portal.timesheets import entries, workflow
from portal.timesheets.models import Timesheet

DEMO_PASSWORD = "portal-demo-1"
ACTOR = "demo data"

USERS = [
    # email, name, role, permissions
    ("super@demo.test", "Sam Super", Role.SUPER_ADMIN, list(Permission)),
    ("admin@demo.test", "Ada Admin", Role.ADMIN,
     [Permission.SYSTEM_SETTINGS, Permission.MAINTAIN_PROJECTS, Permission.CREATE_PROJECTS]),
    ("pm@demo.test", "Pat Manager", Role.PM,
     [Permission.CREATE_PROJECTS, Permission.REQUEST_RESOURCES, Permission.SCHEDULE_RESOURCES]),
    ("approver@demo.test", "Avery Approver", Role.APPROVER, []),
    ("staff@demo.test", "Sky Staff", Role.STAFF, []),
    ("client@demo.test", "Cleo Client", Role.CLIENT, []),
]

RESOURCES = [
    # email, name, title, cost, sell
    ("pm@demo.test", "Pat Manager", "Engagement manager", "70", "180"),
    ("staff@demo.test", "Sky Staff", "Consultant", "55", "140"),
    ("approver@demo.test", "Avery Approver", "Principal", "90", "220"),
    ("dana@demo.test", "Dana Developer", "Senior developer", "65", "160"),
    ("lee@demo.test", "Lee Designer", "Designer", "50", "120"),
]

PEOPLE = {email: name for email, name, *_ in RESOURCES}  # what the tools' sandboxes know of the demo's people

CLIENTS = ["Northwind Traders", "Globex Corporation", "Initech", "Acme Inc", "ACME, Inc."]

def _user(session: Session, email: str, name: str, role: str, permissions: list[str],
          client_id: int | None) -> User:
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        user = auth_services.create_user(session, ACTOR, email=email, name=name, role=role, password=DEMO_PASSWORD,
                                         permissions=[str(p) for p in permissions], client_id=client_id,
                                         notify_stage_moves=role in (Role.ADMIN, Role.SUPER_ADMIN))
    return user


def _client(session: Session, name: str) -> Client:
    return session.scalar(select(Client).where(Client.name == name)) or crm.create_client(session, ACTOR, name)


def _resource(session: Session, email: str, name: str, title: str, cost: str, sell: str, category: CostCategory,
              user: User | None) -> Resource:
    resource = session.scalar(select(Resource).where(Resource.email == email))
    if resource is None:
        resource = resources.create_resource(session, ACTOR, name=name, email=email, title=title,
                                             user_id=user.id if user else None,
                                             default_cost_category_id=category.id)
        start = date(date.today().year - 1, 1, 1)
        resources.set_rate(session, ACTOR, resource.id, RateType.COST, Decimal(cost), start)
        resources.set_rate(session, ACTOR, resource.id, RateType.SELL, Decimal(sell), start)
    return resource


def _stage(session: Session, name: str) -> Stage:
    return session.scalar(select(Stage).where(Stage.name == name))


def load(session: Session) -> dict[str, str]:
    """Create whatever is missing; returns the demo logins (email -> role)."""
    org.ensure_defaults(session)
    categories = {name: session.scalar(select(CostCategory).where(CostCategory.name == name))
                  or finance.create_cost_category(session, ACTOR, name, code)
                  for name, code in (("Professional services", "PS"), ("Project management", "PM"),
                                     ("Subcontractors", "SUB"))}
    settings = org.get_settings(session)
    if settings.default_cost_category_id is None:
        settings.default_cost_category_id = categories["Professional services"].id
        settings.name = "Demo Consulting"

    clients = {name: _client(session, name) for name in CLIENTS}
    users = {email: _user(session, email, name, role, perms, clients["Northwind Traders"].id)
             for email, name, role, perms in USERS}
    people = {email: _resource(session, email, name, title, cost, sell,
                               categories["Project management" if "manager" in title.lower() else
                                          "Professional services"], users.get(email))
              for email, name, title, cost, sell in RESOURCES}

    today = local_today()
    year = today.year
    for month in range(1, 13):
        start = date(year, month, 1)
        end = (date(year + (month == 12), month % 12 + 1, 1)) - timedelta(days=1)
        name = start.strftime("%Y-%m")
        if session.scalar(select(FiscalPeriod.id).where(FiscalPeriod.name == name)) is None:
            period = finance.create_fiscal_period(session, ACTOR, name, start, end)
            if month < today.month - 1:
                finance.set_period_lock(session, ACTOR, period.id, True)

    pm = users["pm@demo.test"]
    plans = [
        # project, client, stage, deal stage, offerings [(name, model, hours, fee)]
        ("Northwind data platform", "Northwind Traders", "In Progress", DealStage.CLOSED_WON, [
            ("Platform build", BillingModel.TIME_AND_MATERIALS, "400", None),
            ("Fixed-price migration", BillingModel.FIXED_BID, "160", "24000"),
            ("Support retainer", BillingModel.RETAINER, "40", "6000"),
        ]),
        ("Globex website refresh", "Globex Corporation", "Planning", DealStage.NEGOTIATION, [
            ("Design and build", BillingModel.TIME_AND_MATERIALS, "240", None),
        ]),
        ("Initech process review", "Initech", "Opportunity", DealStage.PROPOSAL, [
            ("Discovery workshop", BillingModel.FIXED_BID, "40", "8000"),
        ]),
        ("Acme ERP rollout", "Acme Inc", "Pre-Close", DealStage.CLOSED_WON, [
            ("Rollout", BillingModel.TIME_AND_MATERIALS, "300", None),
        ]),
        ("Internal tooling", "Northwind Traders", "In Progress", DealStage.CLOSED_WON, [
            ("Internal improvements", BillingModel.INTERNAL, "100", None),
            ("Holidays", BillingModel.TIME_OFF, "0", None),
        ]),
        ("Legacy archive", "Globex Corporation", "Closed", DealStage.CLOSED_WON, [
            ("Archive project", BillingModel.TIME_AND_MATERIALS, "80", None),
        ]),
    ]
    for project_name, client_name, stage_name, deal_stage, offerings in plans:
        if session.scalar(select(Project.id).where(Project.name == project_name)):
            continue
        project = services.create_project(
            session, ACTOR, name=project_name, client_id=clients[client_name].id,
            stage_id=_stage(session, stage_name).id, pm_id=pm.id, start_date=today - timedelta(days=60),
            end_date=today + timedelta(days=120),
        )
        deal = crm.create_deal(session, ACTOR, name=f"{project_name} deal", client_id=project.client_id,
                               project_id=project.id, amount=Decimal("50000"), start_date=project.start_date,
                               end_date=project.end_date)
        for name, model, hours, fee in offerings:
            offering = services.create_offering(
                session, ACTOR, project.id, name=name, billing_model=model, sold_hours=Decimal(hours),
                fixed_fee=Decimal(fee) if fee else None, deal_id=deal.id,
                budget_amount=Decimal(hours) * 150 if model == BillingModel.TIME_AND_MATERIALS else None,
            )
            for email in ("staff@demo.test", "dana@demo.test"):
                rate = Decimal("150") if model == BillingModel.TIME_AND_MATERIALS else None
                services.add_assignment(session, ACTOR, offering.id, people[email].id, bill_rate=rate,
                                        planned_hours=Decimal(hours) / 2)
        crm.set_deal_stage(session, ACTOR, deal.id, deal_stage)
        for offset in range(0, 10):
            day = today + timedelta(days=offset)
            if day.weekday() < 5:
                services.set_booking(session, ACTOR, project.id, people["staff@demo.test"].id, mode="day", on=day,
                                     hours=Decimal("4"), offering_id=project.offerings[0].id)
        services.set_booking(session, ACTOR, project.id, people["dana@demo.test"].id, mode="week",
                             on=today + timedelta(days=7), hours=Decimal("20"))
    _demo_time(session, settings, people, today)
    session.flush()
    _planning_demo(session, users["staff@demo.test"], people["staff@demo.test"], categories["Subcontractors"])
    for part in _tool_demos():
        if _sandbox_root(part) is not None:
            part.load(session)
    session.flush()
    return {email: str(role) for email, _, role, _ in USERS}


# A task plan, a baseline, a request and an expense on the delivery project.
def _planning_demo(session: Session, staff: User, staff_resource: Resource, category: CostCategory) -> None:
    project = session.scalar(select(Project).where(Project.name == "Northwind data platform"))
    if project is None or tasks.list_tasks(session, project.id):
        return
    build = tasks.save_task_type(session, ACTOR, project.id, "Build")
    for name, hours in (("Discovery", "40"), ("Pipelines", "200"), ("Dashboards", "120")):
        tasks.save_task(session, ACTOR, project.id, name=name, task_type_id=build.id, planned_hours=Decimal(hours))
    baselines.create_baseline(session, ACTOR, project.id, "Signed-off plan")
    start = local_today()
    requests.request_resource(session, ACTOR, project.id, hours=Decimal("60"), start_date=start + timedelta(days=14),
                              end_date=start + timedelta(days=41), role="Data engineer",
                              note="Someone who knows the warehouse")
    add_expense(session, staff, resource_id=staff_resource.id, project_id=project.id, spent_on=start,
                amount=Decimal("86.40"), cost_category_id=category.id, description="Train to the Northwind office")

def _demo_time(session: Session, settings, people: dict[str, Resource], today: date) -> None:
    """Finance sync on, and three weeks of time for two people: two weeks ago approved (the worker posts
    it), last week submitted (waiting in the approvals queue), this week a draft."""
    if session.scalar(select(Timesheet.id).limit(1)) is None:  # first load only: an admin may turn it off
        settings.finance_sync_enabled = True
    project = session.scalar(select(Project).where(Project.name == "Northwind data platform"))
    this_week, _ = entries.week_of(today, settings.week_start)
    for weeks_ago, state in ((2, "approved"), (1, "submitted"), (0, "draft")):
        start = this_week - timedelta(weeks=weeks_ago)
        for email, offering in (("staff@demo.test", project.offerings[0]), ("dana@demo.test", project.offerings[1])):
            resource = people[email]
            if session.scalar(select(Timesheet.id).where(Timesheet.resource_id == resource.id,
                                                         Timesheet.period_start == start)):
                continue
            for day in range(5 if weeks_ago else min(5, (today - start).days + 1)):
                entries.add_entry(session, ACTOR, resource_id=resource.id, offering_id=offering.id,
                                  work_date=start + timedelta(days=day), hours=Decimal("7.5"),
                                  description="Demo work")
            sheet = entries.timesheet_for(session, resource.id, start)
            if state != "draft":
                workflow.transition(session, ACTOR, sheet.id, "submit", sheet.version)
            if state == "approved":
                workflow.transition(session, ACTOR, sheet.id, "approve", sheet.version)


# The timesheet tools ----------------------------------------------------------------------------------
# Each tool package brings its part (registry Tool.demo): what its loopback sandbox holds, and the demo
# organization's connection to it. `make run` starts the sandboxes empty; its worker line seeds them through
# their admin API (`flask --app portal demo sandboxes`) before the worker picks up the connections' runs.

def _tool_demos() -> list[Any]:
    return [load_module(tool.demo) for tool in tools() if tool.demo]


def _sandbox_root(part: Any) -> str | None:
    """The sandbox's address when the tool is pointed at one on loopback (never seed or connect a real tool)."""
    address = urlsplit(current_app.config[part.SANDBOX_URL])
    return f"{address.scheme}://{address.netloc}" if address.hostname in ("127.0.0.1", "localhost") else None


def seed_sandboxes(wait: float = 60) -> list[str]:
    """Seed each tool's sandbox with the demo's world through its admin API (once: a sandbox that kept its
    records across a restart is left alone); waits up to `wait` seconds for a sandbox to answer."""
    said = []
    with httpx.Client(timeout=10) as http:
        for part in _tool_demos():
            root = _sandbox_root(part)
            if root is None:
                said.append(f"{part.__name__}: not a loopback sandbox; nothing seeded.")
                continue
            held = _held(http, root, wait)
            if part.seeded(held):
                said.append(f"{root}: already holds the demo.")
                continue
            http.post(f"{root}/_sandbox/seed", json=part.world(PEOPLE)).raise_for_status()
            said.append(f"{root}: seeded the demo.")
    return said


def _held(http: httpx.Client, root: str, wait: float) -> dict[str, Any]:
    deadline = time.monotonic() + wait
    while True:
        try:
            return http.get(f"{root}/_sandbox/state").raise_for_status().json()
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
