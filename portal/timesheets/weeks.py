"""A person's week as the "My time" page shows it: the timesheet, its entries, totals, what may change."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload
from wtforms.fields.choices import SelectChoice

from portal.auth import policy
from portal.auth.models import User
from portal.errors import NotAllowed, get_or_raise
from portal.org.services import get_settings
from portal.planning.models import ProjectTask
from portal.projects.models import Assignment, Client, Offering, Project, Resource
from portal.stages.models import Stage
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
        return get_or_raise(session, Resource, resource_id, "person")
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
        .options(selectinload(TimeEntry.project), selectinload(TimeEntry.offering), selectinload(TimeEntry.task),
                 selectinload(TimeEntry.project_item))
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


OPTION_LIMIT = 40


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


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def offering_choices(session: Session, resource_id: int, text: str = "", chosen: int | None = None,
                     limit: int = OPTION_LIMIT) -> tuple[list[SelectChoice], bool]:
    """Offerings the person may enter time on now, matching every word of `text` (project, offering, client or
    project code): their own assignments first, then the others; at most `limit`, and whether there are more.
    `chosen` (a form's current value) is kept in the list while it takes time."""
    stages = [s.id for s in session.scalars(select(Stage)) if not s.is_closed
              and (s.flag("open_for_time") or s.flag("allow_open_for_time_changes"))]
    assigned = set(session.scalars(select(Assignment.offering_id).where(Assignment.resource_id == resource_id,
                                                                         Assignment.passive.is_(False))))
    query = (select(Offering).join(Project).join(Client, Project.client_id == Client.id)
             .where(Offering.archived.is_(False), Project.stage_id.in_(stages))
             .options(selectinload(Offering.project).selectinload(Project.stage), selectinload(Offering.assignments))
             .order_by(Project.name, Offering.name, Offering.id))
    for word in text.split()[:5]:
        pattern = _like(word)
        query = query.where(or_(*(column.ilike(pattern, escape="\\") for column in (
            Project.name, Offering.name, Client.name, Project.code))))
    # Their own assignments (a few), then the others in the order of the projects' name index, read only as far as
    # the limit: one ORDER BY "assigned first" sorted every open offering on every week view (issue 14). The
    # project's own options settle the rest in Python, over a bounded slice, never the whole table.
    scanned = limit * 4 + 1
    mine = list(session.scalars(query.where(Offering.id.in_(assigned)))) if assigned else []
    others = session.scalars(query.where(Offering.id.not_in(assigned)).limit(scanned)) if assigned \
        else session.scalars(query.limit(scanned))
    found = [o for o in [*mine, *others][:scanned] if policy.time_entry_refusal(o.project, o, resource_id) is None]
    more = len(found) > limit
    found = found[:limit]
    if chosen and chosen not in {o.id for o in found}:
        extra = session.get(Offering, chosen)
        if extra is not None and not extra.archived and policy.time_entry_refusal(extra.project, extra,
                                                                                  resource_id) is None:
            found.append(extra)
    return [SelectChoice(str(o.id), f"{o.project.name} · {o.name}",
                         optgroup="Your assignments" if o.id in assigned else "Other offerings")
            for o in found], more


def task_choices(session: Session, offering_id: int | None) -> list[SelectChoice]:
    """The active tasks of the chosen offering's project (seed 004 "edit tasks"): none until one is chosen."""
    if not offering_id:
        return [SelectChoice("", "—")]
    tasks = session.execute(
        select(ProjectTask.id, ProjectTask.name).join(Offering, Offering.project_id == ProjectTask.project_id)
        .where(Offering.id == offering_id, ProjectTask.active.is_(True)).order_by(ProjectTask.name)
    ).all()
    return [SelectChoice("", "—")] + [SelectChoice(str(t_id), name) for t_id, name in tasks]
