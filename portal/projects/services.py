"""Projects, their offerings, the people assigned to them, and bookings.

Every change checks the actor's right through the policy (which reads the project's stage), is audited
with before/after values, and sends a domain event so integrations and notifications can follow.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import CompoundSelect, func, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal import audit, events, paging
from portal.auth import policy
from portal.auth.models import Role, User
from portal.errors import Conflict, InvalidInput, get_or_raise
from portal.formatting import hours_text
from portal.lookups import contains
from portal.projects.models import (
    BILLING_MODEL_LABELS,
    Assignment,
    BillingModel,
    Booking,
    BookingMode,
    Client,
    Offering,
    Project,
    ProjectManager,
    Resource,
    SaleStatus,
)
from portal.stages.models import EngagementType, Stage

MAX_HOURS = Decimal("1000000")
MAX_MONEY = Decimal("1000000000")
PAGE_SIZE = 25
HIDDEN_COUNTED = 1000

PROJECT_INFO_FIELDS = ["name", "code", "client_id", "start_date", "end_date", "percent_likelihood",
                       "default_cost_category_id", "description"]
OFFERING_FIELDS = ["name", "billing_model", "sold_hours", "planned_hours", "fixed_fee", "budget_amount",
                   "start_date", "end_date", "sale_status", "archived"]


def get_project(session: Session, project_id: int) -> Project:
    return get_or_raise(session, Project, project_id, "project")


def get_offering(session: Session, offering_id: int) -> Offering:
    return get_or_raise(session, Offering, offering_id, "offering")


def _as_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [old.get(k), v] for k, v in new.items()}


def _check_dates(start: date | None, end: date | None) -> None:
    if start and end and end < start:
        raise InvalidInput("The end date is before the start date.",
                           fields={"end_date": "Must not be before the start."})


def _check_pm(session: Session, pm_id: int | None) -> None:
    if pm_id is None:
        return
    pm = session.get(User, pm_id)
    if pm is None or not pm.active or pm.role == Role.CLIENT:
        raise InvalidInput("Choose an active internal user as project manager.", fields={"pm_id": "Choose a user."})


def _check_likelihood(value: int | None) -> None:
    if value is not None and not 0 <= value <= 100:
        raise InvalidInput("Percent likelihood must be between 0 and 100.",
                           fields={"percent_likelihood": "Between 0 and 100."})


def default_engagement_type(session: Session) -> EngagementType:
    return session.scalar(select(EngagementType).where(EngagementType.is_default.is_(True)))


def creatable_stages(session: Session, actor: User, engagement_type_id: int | None = None) -> list[Stage]:
    """Stages the actor may create a project in (seed 004 "Users with permissions can: create projects"),
    of one engagement type or of all of them (the default type's first)."""
    query = select(Stage).join(EngagementType).order_by(EngagementType.is_default.desc(), EngagementType.name,
                                                        Stage.position)
    if engagement_type_id:
        query = query.where(Stage.engagement_type_id == engagement_type_id)
    return [s for s in session.scalars(query) if policy.can_create_project_in(actor, s)]


def create_project(session: Session, actor: User | str | None, *, name: str, client_id: int, stage_id: int,
                   pm_id: int | None = None, code: str | None = None, start_date: date | None = None,
                   end_date: date | None = None, description: str = "", percent_likelihood: int | None = None,
                   default_cost_category_id: int | None = None) -> Project:
    stage = session.get(Stage, stage_id)
    if stage is None:
        raise InvalidInput("Choose a stage.", fields={"stage_id": "Choose a stage."})
    if isinstance(actor, User):
        policy.require(policy.can_create_projects(actor), "You do not have the create-projects permission.")
        policy.require(policy.can_create_project_in(actor, stage),
                       f"Projects cannot be created in the {stage.name} stage.")
    if not (name or "").strip():
        raise InvalidInput("Enter the project's name.", fields={"name": "Enter a name."})
    if session.get(Client, client_id) is None:
        raise InvalidInput("Choose the project's client.", fields={"client_id": "Choose a client."})
    _check_dates(start_date, end_date)
    _check_pm(session, pm_id)
    _check_likelihood(percent_likelihood)
    code = (code or "").strip() or None
    if code and session.scalar(select(Project.id).where(Project.code == code)):
        raise Conflict(f"The project code {code} is already used.", fields={"code": "Already used."})
    project = Project(name=name.strip(), client_id=client_id, engagement_type_id=stage.engagement_type_id,
                      stage_id=stage.id, pm_id=pm_id, code=code, start_date=start_date, end_date=end_date,
                      description=description or "", percent_likelihood=percent_likelihood,
                      default_cost_category_id=default_cost_category_id)
    session.add(project)
    session.flush()
    audit.record(session, actor, "project.created", project,
                 after={**audit.snapshot(project, PROJECT_INFO_FIELDS), "stage": stage.name, "pm_id": pm_id},
                 summary=f"Created project {project.name} in {stage.name}")
    events.project_created.send(project, session=session, actor=actor, changes={})
    return project


def update_project(session: Session, actor: User | str | None, project_id: int, *, name: str,
                   client_id: int, code: str | None, start_date: date | None, end_date: date | None,
                   description: str, percent_likelihood: int | None,
                   default_cost_category_id: int | None) -> Project:
    project = get_project(session, project_id)
    if isinstance(actor, User):
        policy.refuse(policy.project_info_refusal(actor, project))
    if not (name or "").strip():
        raise InvalidInput("Enter the project's name.", fields={"name": "Enter a name."})
    if session.get(Client, client_id) is None:
        raise InvalidInput("Choose the project's client.", fields={"client_id": "Choose a client."})
    _check_dates(start_date, end_date)
    _check_likelihood(percent_likelihood)
    code = (code or "").strip() or None
    if code and session.scalar(select(Project.id).where(Project.code == code, Project.id != project_id)):
        raise Conflict(f"The project code {code} is already used.", fields={"code": "Already used."})
    values = dict(name=name.strip(), client_id=client_id, code=code, start_date=start_date, end_date=end_date,
                  description=description or "", percent_likelihood=percent_likelihood,
                  default_cost_category_id=default_cost_category_id)
    old, new = audit.update(session, actor, project, values, "project.updated", f"Changed project {values['name']}",
                            PROJECT_INFO_FIELDS)
    if new:
        events.project_updated.send(project, session=session, actor=actor, changes=_as_changes(old, new))
    return project


def set_pm_team(session: Session, actor: User | str | None, project_id: int, pm_id: int | None,
                team_ids: list[int]) -> Project:
    project = get_project(session, project_id)
    if isinstance(actor, User):
        policy.require(policy.can_change_pm_team(actor, project),
                       f"The PM team cannot be changed by you while the project is in {project.stage.name}.")
    _check_pm(session, pm_id)
    for user_id in team_ids:
        _check_pm(session, user_id)
    before = {"pm_id": project.pm_id, "team": sorted(m.user_id for m in project.team)}
    project.pm_id = pm_id
    wanted = set(team_ids) - ({pm_id} if pm_id else set())
    project.team = [m for m in project.team if m.user_id in wanted] + [
        ProjectManager(user_id=u) for u in sorted(wanted - {m.user_id for m in project.team})
    ]
    session.flush()
    after = {"pm_id": project.pm_id, "team": sorted(m.user_id for m in project.team)}
    if after != before:
        audit.record(session, actor, "project.pm_team_changed", project, before=before, after=after,
                     summary=f"PM team of {project.name} changed")
        events.project_updated.send(project, session=session, actor=actor,
                                    changes={"pm_team": [before, after]})
    return project


def _check_offering(billing_model: str, sold_hours: Decimal, planned_hours: Decimal, fixed_fee: Decimal | None,
                    budget_amount: Decimal | None, start: date | None, end: date | None, sale_status: str) -> None:
    if billing_model not in set(BillingModel):
        raise InvalidInput("Choose a billing model.", fields={"billing_model": "Choose a billing model."})
    if sale_status not in set(SaleStatus):
        raise InvalidInput("Choose sold or pre-sale.", fields={"sale_status": "Choose one."})
    for field, value in (("sold_hours", sold_hours), ("planned_hours", planned_hours)):
        if value is None or value < 0 or value > MAX_HOURS:
            raise InvalidInput("Hours must be between 0 and 1,000,000.", fields={field: "Between 0 and 1,000,000."})
    for field, value in (("fixed_fee", fixed_fee), ("budget_amount", budget_amount)):
        if value is not None and (value < 0 or value > MAX_MONEY):
            raise InvalidInput("Amounts must be between 0 and 1,000,000,000.", fields={field: "Out of range."})
    if billing_model in (BillingModel.FIXED_BID, BillingModel.RETAINER) and not fixed_fee:
        label = BILLING_MODEL_LABELS[BillingModel(billing_model)]
        raise InvalidInput(f"{label} offerings need a fixed fee.", fields={"fixed_fee": "Enter the fixed fee."})
    _check_dates(start, end)


def create_offering(session: Session, actor: User | str | None, project_id: int, *, name: str,
                    billing_model: str, sold_hours: Decimal = Decimal("0"), planned_hours: Decimal | None = None,
                    fixed_fee: Decimal | None = None, budget_amount: Decimal | None = None,
                    start_date: date | None = None, end_date: date | None = None,
                    sale_status: str = SaleStatus.PRE_SALE, deal_id: int | None = None) -> Offering:
    project = get_project(session, project_id)
    if isinstance(actor, User):
        policy.refuse(policy.cost_plan_refusal(actor, project))
    if not (name or "").strip():
        raise InvalidInput("Enter the offering's name.", fields={"name": "Enter a name."})
    planned_hours = sold_hours if planned_hours is None else planned_hours
    _check_offering(billing_model, sold_hours, planned_hours, fixed_fee, budget_amount, start_date, end_date,
                    sale_status)
    if budget_amount is None and billing_model in (BillingModel.FIXED_BID, BillingModel.RETAINER):
        budget_amount = fixed_fee
    offering = Offering(project_id=project.id, name=name.strip(), billing_model=billing_model,
                        sold_hours=sold_hours, planned_hours=planned_hours, fixed_fee=fixed_fee,
                        budget_amount=budget_amount, start_date=start_date or project.start_date,
                        end_date=end_date or project.end_date, sale_status=sale_status, deal_id=deal_id)
    session.add(offering)
    session.flush()
    audit.record(session, actor, "offering.created", offering, after=audit.snapshot(offering, OFFERING_FIELDS),
                 summary=f"Added offering {offering.name} to {project.name}")
    events.offering_created.send(offering, session=session, actor=actor, changes={})
    return offering


def update_offering(session: Session, actor: User | str | None, offering_id: int, **values: Any) -> Offering:
    """Change an offering's plan. `values` holds any of OFFERING_FIELDS; the rest keep their value."""
    offering = get_offering(session, offering_id)
    if isinstance(actor, User):
        policy.refuse(policy.cost_plan_refusal(actor, offering.project))
    unknown = set(values) - set(OFFERING_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown offering fields: {', '.join(sorted(unknown))}.")
    new_values = {f: values.get(f, getattr(offering, f)) for f in OFFERING_FIELDS}
    new_values["name"] = (new_values["name"] or "").strip()
    if not new_values["name"]:
        raise InvalidInput("Enter the offering's name.", fields={"name": "Enter a name."})
    _check_offering(new_values["billing_model"], new_values["sold_hours"], new_values["planned_hours"],
                    new_values["fixed_fee"], new_values["budget_amount"], new_values["start_date"],
                    new_values["end_date"], new_values["sale_status"])
    old, new = audit.update(session, actor, offering, new_values, "offering.updated",
                            f"Changed offering {new_values['name']}")
    if new:
        events.offering_updated.send(offering, session=session, actor=actor, changes=_as_changes(old, new))
    return offering


def _check_rate_and_hours(bill_rate: Decimal | None, planned_hours: Decimal) -> None:
    if bill_rate is not None and (bill_rate < 0 or bill_rate > Decimal("100000")):
        raise InvalidInput("A bill rate is between 0 and 100,000.", fields={"bill_rate": "Out of range."})
    if planned_hours is None or planned_hours < 0 or planned_hours > MAX_HOURS:
        raise InvalidInput("Planned hours must be between 0 and 1,000,000.", fields={"planned_hours": "Out of range."})


def add_assignment(session: Session, actor: User | str | None, offering_id: int, resource_id: int, *,
                   bill_rate: Decimal | None = None, planned_hours: Decimal = Decimal("0"), role: str = "",
                   passive: bool = False) -> Assignment:
    offering = get_offering(session, offering_id)
    project = offering.project
    if isinstance(actor, User):
        policy.require(policy.can_create_roles(actor, project),
                       f"People cannot be added by you while the project is in {project.stage.name}.")
        if bill_rate is not None:
            policy.require(policy.can_edit_rates(actor, project),
                           f"Rates cannot be set by you while the project is in {project.stage.name}.")
    resource = session.get(Resource, resource_id)
    if resource is None or not resource.active:
        raise InvalidInput("Choose an active resource.", fields={"resource_id": "Choose a resource."})
    _check_rate_and_hours(bill_rate, planned_hours)
    if session.scalar(select(Assignment.id).where(Assignment.offering_id == offering_id,
                                                  Assignment.resource_id == resource_id)):
        raise Conflict(f"{resource.name} is already on {offering.name}.", fields={"resource_id": "Already assigned."})
    assignment = Assignment(offering_id=offering_id, resource_id=resource_id, bill_rate=bill_rate,
                            planned_hours=planned_hours, role=(role or "").strip(), passive=passive)
    session.add(assignment)
    session.flush()
    audit.record(session, actor, "assignment.created", assignment,
                 after={"offering_id": offering_id, "resource": resource.email, "bill_rate": bill_rate,
                        "planned_hours": planned_hours, "passive": passive},
                 summary=f"{resource.name} {'passively ' if passive else ''}added to {offering.name}")
    events.assignment_created.send(assignment, session=session, actor=actor, changes={})
    return assignment


def update_assignment(session: Session, actor: User | str | None, assignment_id: int, *,
                      bill_rate: Decimal | None, planned_hours: Decimal, role: str) -> Assignment:
    """Change an assignment (its time entries keep their rates: timesheets.adjustments.change_assignment
    revalues them too)."""
    assignment = get_or_raise(session, Assignment, assignment_id, "assignment")
    project = assignment.offering.project
    _check_rate_and_hours(bill_rate, planned_hours)
    if isinstance(actor, User):
        if bill_rate != assignment.bill_rate:
            policy.require(policy.can_edit_rates(actor, project),
                           f"Rates cannot be changed by you while the project is in {project.stage.name}.")
        if planned_hours != assignment.planned_hours or (role or "").strip() != assignment.role:
            policy.require(policy.can_create_roles(actor, project),
                           f"Roles cannot be changed by you while the project is in {project.stage.name}.")
    # A passive assignment someone plans for becomes a real one.
    values = dict(bill_rate=bill_rate, planned_hours=planned_hours, role=(role or "").strip(), passive=False)
    old, new = audit.update(session, actor, assignment, values, "assignment.updated",
                            f"{assignment.resource.name} on {assignment.offering.name} changed")
    if new:
        events.assignment_updated.send(assignment, session=session, actor=actor, changes=_as_changes(old, new))
    return assignment


def remove_assignment(session: Session, actor: User | str | None, assignment_id: int) -> None:
    """Take someone off an offering. Their logged time stays; so does their history in the tools."""
    assignment = get_or_raise(session, Assignment, assignment_id, "assignment")
    project = assignment.offering.project
    if isinstance(actor, User):
        policy.require(policy.can_create_roles(actor, project),
                       f"People cannot be removed by you while the project is in {project.stage.name}.")
    events.assignment_removed.send(assignment, session=session, actor=actor, changes={})
    audit.record(session, actor, "assignment.removed", assignment,
                 before={"offering_id": assignment.offering_id, "resource": assignment.resource.email,
                         "bill_rate": assignment.bill_rate},
                 summary=f"{assignment.resource.name} removed from {assignment.offering.name}")
    session.delete(assignment)
    session.flush()


def week_start(day: date, first_weekday: int) -> date:
    return day - timedelta(days=(day.weekday() - first_weekday) % 7)


def set_booking(session: Session, actor: User | str | None, project_id: int, resource_id: int, *, mode: str,
                on: date, hours: Decimal, offering_id: int | None = None, first_weekday: int = 0) -> Booking | None:
    """Book hours (0 removes the booking). Weekly bookings are kept on the week's first day."""
    project = get_project(session, project_id)
    if isinstance(actor, User):
        policy.require(policy.can_schedule_resources(actor, project),
                       f"Hours cannot be booked by you while the project is in {project.stage.name}.")
    if mode not in set(BookingMode):
        raise InvalidInput("Choose daily or weekly.", fields={"mode": "Choose daily or weekly."})
    limit = Decimal("24") if mode == BookingMode.DAY else Decimal("168")
    if hours is None or hours < 0 or hours > limit:
        raise InvalidInput(f"Booked hours are between 0 and {limit} per {mode}.", fields={"hours": "Out of range."})
    if session.get(Resource, resource_id) is None:
        raise InvalidInput("Choose a resource.", fields={"resource_id": "Choose a resource."})
    if offering_id is not None and get_offering(session, offering_id).project_id != project_id:
        raise InvalidInput("That offering belongs to another project.", fields={"offering_id": "Wrong project."})
    if mode == BookingMode.WEEK:
        on = week_start(on, first_weekday)
    booking = session.scalar(select(Booking).where(Booking.project_id == project_id,
                                                   Booking.resource_id == resource_id, Booking.mode == mode,
                                                   Booking.on == on))
    before = audit.snapshot(booking, ["hours", "offering_id"]) if booking else None
    if hours == 0:
        if booking is None:
            return None
        session.delete(booking)
        result = None
    elif booking is None:
        booking = result = Booking(project_id=project_id, resource_id=resource_id, mode=mode, on=on, hours=hours,
                                   offering_id=offering_id)
        session.add(booking)
    else:
        booking.hours, booking.offering_id = hours, offering_id
        result = booking
    session.flush()
    audit.record(session, actor, "booking.set", project, before=before,
                 after={"resource_id": resource_id, "mode": mode, "on": on, "hours": hours},
                 summary=f"{hours_text(hours)} booked on {project.name} ({mode} of {on:%d %b %Y})")
    events.booking_changed.send(project, session=session, actor=actor, changes={})
    return result


def ensure_passive_assignment(session: Session, actor: User | str | None, offering_id: int,
                              resource_id: int) -> Assignment:
    """Seed 002: someone who logs time on an offering they are not on is added as a passive assignment."""
    existing = session.scalar(select(Assignment).where(Assignment.offering_id == offering_id,
                                                       Assignment.resource_id == resource_id))
    if existing is not None:
        return existing
    try:
        with session.begin_nested():  # a concurrent import may add the same person; the unique key decides
            return add_assignment(session, actor, offering_id, resource_id, passive=True)
    except (Conflict, IntegrityError):
        return session.scalar(select(Assignment).where(Assignment.offering_id == offering_id,
                                                       Assignment.resource_id == resource_id))


# Listing
def _project_filters(stage_name: str | None, client_id: int | None, search: str) -> list:
    conditions = []
    if stage_name:  # by name: "In Progress" is every workflow's In Progress
        conditions.append(Stage.name == stage_name)
    if client_id:
        conditions.append(Project.client_id == client_id)
    if search.strip():
        conditions.append(contains(Project.name, search.strip()))
    return conditions


def _closed_stage_ids(session: Session) -> list[int]:
    return [s.id for s in session.scalars(select(Stage)) if s.is_closed]


def list_projects(session: Session, user: User, *, stage_name: str | None = None, client_id: int | None = None,
                  include_closed: bool = False, search: str = "", after: str | None = None,
                  limit: int = PAGE_SIZE) -> tuple[list[Project], str | None]:
    """One page of projects by name (keyset, so deep pages cost the same as the first) and the next cursor.

    Closed projects (a stage that considers projects closed) are hidden unless asked for (seed 004).
    """
    policy.require(policy.can_view_projects(user), "Client users see their workspace, not the project list.")
    query = select(Project).join(Stage, Project.stage_id == Stage.id).options(
        selectinload(Project.client), selectinload(Project.stage), selectinload(Project.pm),
        selectinload(Project.offerings),
    ).where(*_project_filters(stage_name, client_id, search))
    if not include_closed:
        query = query.where(Project.stage_id.not_in(_closed_stage_ids(session)))
    return paging.by_name(session, query, Project.name, Project.id, after, limit)


def open_stage_ids(session: Session) -> list[int]:
    """Stages that do not consider their projects closed (a stage's flags live in JSON: read the few stages)."""
    return [s.id for s in session.scalars(select(Stage)) if not s.is_closed]


def entry_stage_ids(session: Session, key: str) -> list[int]:
    """Stages whose projects may have `key` (open_for_time, open_for_cost, or their transfers) on: the stage's
    own setting, or a project's option the stage lets count (policy.entry_open decides per project)."""
    return [s.id for s in session.scalars(select(Stage))
            if not (s.is_closed and key in ("open_for_time", "open_for_cost"))
            and (s.flag(key) or s.flag(policy.ENTRY_OVERRIDES[key]))]


def managed_projects(user_id: Any) -> CompoundSelect:
    """Ids of the projects whose PM team the user is on (their id, or a parameter bound when the statement
    runs): a union, each side an index lookup."""
    return union(select(Project.id).where(Project.pm_id == user_id),
                 select(ProjectManager.project_id).where(ProjectManager.user_id == user_id))


def hidden_closed_projects(session: Session, *, stage_name: str | None = None, client_id: int | None = None,
                           search: str = "") -> int:
    """How many closed projects the same filters would show, counted up to HIDDEN_COUNTED + 1 (then shown as
    "1,000+"): the list says why they are missing without counting the whole table."""
    closed = _closed_stage_ids(session)
    if not closed:
        return 0
    found = (select(Project.id).join(Stage, Project.stage_id == Stage.id)
             .where(Project.stage_id.in_(closed), *_project_filters(stage_name, client_id, search))
             .limit(HIDDEN_COUNTED + 1).subquery())
    return session.scalar(select(func.count()).select_from(found)) or 0


def stage_names(session: Session) -> list[str]:
    """Every stage name once, in workflow order (the default workflow's first): the project list's filter."""
    rows = session.execute(select(Stage.name).join(EngagementType, Stage.engagement_type_id == EngagementType.id)
                           .order_by(EngagementType.is_default.desc(), EngagementType.name, Stage.position))
    return list(dict.fromkeys(name for (name,) in rows))


def bookings_for(session: Session, resource_id: int, start: date, end: date) -> list[Booking]:
    """A person's bookings in [start, end] on projects whose stage displays booked roles (seed 004)."""
    rows = session.scalars(
        select(Booking).join(Project).join(Stage, Project.stage_id == Stage.id)
        .where(Booking.resource_id == resource_id, Booking.on >= start - timedelta(days=6), Booking.on <= end)
        .options(selectinload(Booking.project).selectinload(Project.stage))
        .order_by(Booking.on)
    )
    return [b for b in rows if b.project.stage.flag("display_booked_roles")
            and (b.on >= start or b.mode == BookingMode.WEEK)]
