"""A person's week as the "My time" page shows it: the timesheet, its entries, totals, what may change."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from wtforms.fields.choices import SelectChoice

from portal.auth import policy
from portal.auth.models import User
from portal.errors import NotAllowed, NotFound
from portal.org.services import get_settings
from portal.projects.models import Assignment, Offering, Project, Resource
from portal.timesheets.entries import FROZEN, resource_of, week_of
from portal.timesheets.models import TimeEntry, Timesheet


@dataclass
class Week:
    resource: Resource
    start: date
    end: date
    sheet: Timesheet | None
    entries: list[TimeEntry]
    day_totals: dict[date, Decimal]
    project_totals: list[tuple[str, Decimal]]
    recent: list[Timesheet]

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    @property
    def total(self) -> Decimal:
        return sum(self.day_totals.values(), Decimal("0"))

    @property
    def editable(self) -> bool:
        return self.sheet is None or self.sheet.status not in FROZEN

    @property
    def previous(self) -> date:
        return self.start - timedelta(days=7)

    @property
    def following(self) -> date:
        return self.start + timedelta(days=7)


def whose_time(session: Session, user: User, resource_id: int | None, required: bool = True) -> Resource | None:
    """The resource whose time `user` is looking at: their own, or (admins) anyone's.

    A user without a resource of their own is refused, or gets None when not `required` (My time explains).
    """
    if resource_id is not None and policy.is_admin(user):
        resource = session.get(Resource, resource_id)
        if resource is None:
            raise NotFound("That person does not exist.")
        return resource
    resource = resource_of(session, user)
    if resource is None and required:
        raise NotAllowed("Your login is not linked to a resource, so you have no timesheets. An admin links it "
                         "with the Login field of your resource, under Resources.")
    return resource


def week(session: Session, resource: Resource, day: date) -> Week:
    start, end = week_of(day, get_settings(session).week_start)
    sheet = session.scalar(select(Timesheet).where(Timesheet.resource_id == resource.id,
                                                   Timesheet.period_start == start))
    entries = list(session.scalars(
        select(TimeEntry).where(TimeEntry.timesheet_id == sheet.id)
        .options(selectinload(TimeEntry.project), selectinload(TimeEntry.offering))
        .order_by(TimeEntry.work_date, TimeEntry.id)
    )) if sheet else []
    day_totals: dict[date, Decimal] = defaultdict(Decimal)
    project_totals: dict[str, Decimal] = defaultdict(Decimal)
    for entry in entries:
        day_totals[entry.work_date] += entry.hours
        project_totals[entry.project.name] += entry.hours
    recent = list(session.scalars(select(Timesheet).where(Timesheet.resource_id == resource.id)
                                  .order_by(Timesheet.period_start.desc()).limit(8)))
    return Week(resource, start, end, sheet, entries, dict(day_totals), sorted(project_totals.items()), recent)


def offering_choices(session: Session, resource_id: int) -> list[SelectChoice]:
    """Offerings open for time, grouped: the person's own assignments first, then every other one."""
    offerings = session.scalars(
        select(Offering).join(Project).where(Offering.archived.is_(False))
        .options(selectinload(Offering.project).selectinload(Project.stage)).order_by(Project.name, Offering.name)
    )
    assigned = set(session.scalars(select(Assignment.offering_id).where(Assignment.resource_id == resource_id)))
    mine, others = [], []
    for offering in offerings:
        if policy.time_entry_refusal(offering.project) is None:
            label = f"{offering.project.name} · {offering.name}"
            if offering.id in assigned:
                mine.append(SelectChoice(str(offering.id), label, optgroup="Your assignments"))
            else:
                others.append(SelectChoice(str(offering.id), label, optgroup="Other offerings"))
    return mine + others


@dataclass
class Unavailable:
    """The person's assignments that are missing from the Add time list, and why (issue 15)."""

    refused: list[tuple[str, str]]  # (project · offering, the reason)
    closed: int  # how many more are on closed projects


def unavailable_assignments(session: Session, resource_id: int) -> Unavailable:
    offerings = session.scalars(
        select(Offering).join(Assignment, Assignment.offering_id == Offering.id)
        .where(Assignment.resource_id == resource_id, Assignment.passive.is_(False), Offering.archived.is_(False))
        .options(selectinload(Offering.project).selectinload(Project.stage)).order_by(Offering.id)
    )
    refused, closed = [], 0
    for offering in offerings:
        reason = policy.time_entry_refusal(offering.project)
        if reason and offering.project.stage.is_closed:
            closed += 1
        elif reason:
            refused.append((f"{offering.project.name} · {offering.name}", reason))
    return Unavailable(sorted(refused), closed)


def task_choices(session: Session, offering_choices: list[SelectChoice]) -> list[SelectChoice]:
    """The active tasks of the projects among `offering_choices`, grouped by project (seed 004 "edit tasks")."""
    from portal.planning.models import ProjectTask

    offering_ids = [int(c.value) for c in offering_choices]
    tasks = session.execute(
        select(ProjectTask.id, ProjectTask.name, Project.name).join(Project, ProjectTask.project_id == Project.id)
        .join(Offering, Offering.project_id == Project.id)
        .where(Offering.id.in_(offering_ids), ProjectTask.active.is_(True))
        .distinct().order_by(Project.name, ProjectTask.name)
    ).all()
    return [SelectChoice("", "—")] + [SelectChoice(str(t_id), name, optgroup=project) for t_id, name, project in tasks]


@dataclass
class GridRow:
    label: str
    by_day: dict[date, Decimal]

    @property
    def total(self) -> Decimal:
        return sum(self.by_day.values(), Decimal("0"))


@dataclass
class Grid:
    """Hours per project · offering (rows) and day (columns), for reading a week at a glance."""

    rows: list[GridRow]
    day_totals: dict[date, Decimal]


def hours_grid(entries: list[TimeEntry]) -> Grid:
    rows: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    totals: dict[date, Decimal] = defaultdict(Decimal)
    for entry in entries:
        label = f"{entry.project.name} · {entry.offering.name if entry.offering else 'no offering'}"
        rows[label][entry.work_date] += entry.hours
        totals[entry.work_date] += entry.hours
    return Grid([GridRow(label, dict(days)) for label, days in sorted(rows.items())], dict(totals))
