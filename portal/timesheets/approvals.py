"""The approver's queue: the timesheets a user may approve, filtered, a page at a time, with totals.

Scope (issue 6): users with the approver role and admins see everyone's timesheets; anyone else sees the
timesheets holding time on projects whose PM team they are on. Nobody sees their own (a super-admin
excepted, who may decide on it). A stand-in (issue 16) also sees, while standing in, what each approver they
stand in for sees, never their own timesheets nor the approver's.

The page costs the same whatever the queue's length or the ledger's size (issue 14): keyset paging in
(week, id) order (index ix_timesheets_status_week, or ix_timesheets_week for any status), a PM's scope
read from the entries of their projects (ix_time_entries_project_timesheet: a few hundred rows per
project, never a scan of every entry), hours per project for the page's rows, and a count that stops at
COUNT_CAP ("1,000+").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    bindparam,
    cast,
    false,
    func,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session, joinedload, selectinload

from portal import paging
from portal.auth import policy
from portal.auth.models import User
from portal.columns import today
from portal.errors import InvalidInput
from portal.projects.models import Project, Resource
from portal.projects.services import managed_projects
from portal.sql import among_named, in_ids
from portal.timesheets import reminders, standins
from portal.timesheets.models import (
    STATUS_LABELS,
    ConflictStatus,
    ReminderKind,
    TimeEntry,
    Timesheet,
    TimesheetConflict,
    TimesheetReminder,
    TimesheetStatus,
)

PAGE_SIZE = 25  # a screenful to decide on; Load more brings the next (rendering rows is most of the page's cost)
COUNT_CAP = 1000  # the queue's size is counted up to here ("1,000+"): counting further costs what the queue holds
STATUS_FILTERS = ["submitted", "approved", "rejected", "recalled", "draft", "unsubmitted", ""]  # "" = any
# Not submitted: what a reminder is about (issue 16), and what an approver's Remind button is for.
UNSUBMITTED = (TimesheetStatus.DRAFT, TimesheetStatus.REJECTED, TimesheetStatus.RECALLED)
FILTER_LABELS = {**STATUS_LABELS, "unsubmitted": "Not submitted"}


@dataclass
class Filters:
    status: str = TimesheetStatus.SUBMITTED
    week_from: date | None = None
    week_to: date | None = None
    project_id: int | None = None
    resource_id: int | None = None
    held: bool = False  # only timesheets with changes from a timesheet tool held for a decision

    def as_args(self) -> dict[str, str]:
        """Query-string values for links that keep the filters (load more, export)."""
        values = {"status": self.status, "week_from": self.week_from, "week_to": self.week_to,
                  "project": self.project_id, "person": self.resource_id, "held": "1" if self.held else None}
        return {k: "" if v is None else str(v) for k, v in values.items()}


@dataclass(frozen=True)
class ProjectName:
    """A project as an approver's row shows it (their right to decide does not depend on the project)."""

    id: int
    name: str


@dataclass
class Row:
    sheet: Timesheet
    hours: Decimal
    projects: list[tuple[Project | ProjectName, Decimal]]
    decidable: bool
    held: int = 0  # changes from a timesheet tool waiting for a decision
    on_behalf: User | None = None  # in the queue of an approver the user stands in for (issue 16)
    reminded_today: bool = False  # an approver pressed Remind for the person today (issue 16)


@dataclass
class ProjectTotal:
    project_id: int
    name: str
    hours: Decimal
    timesheets: int


@dataclass
class ApprovalQueue:
    rows: list[Row]
    next_cursor: str | None
    count: int  # up to COUNT_CAP
    hours: Decimal  # of the rows shown
    project_totals: list[ProjectTotal] = field(default_factory=list)  # of the rows shown

    @property
    def count_capped(self) -> bool:
        return self.count > COUNT_CAP


# How the queue's scope takes shape for a user (policy decides; the statement follows): outside the firm (nothing),
# a super-admin (everyone's, their own too), an approver or admin (everyone's but their own), anyone else (their
# PM teams' projects').
OUTSIDE, SUPER, EVERYONE, TEAM = "outside", "super", "everyone", "team"


def _viewer(user: User) -> str:
    if not policy.is_internal(user):
        return OUTSIDE
    if policy.is_super_admin(user):
        return SUPER
    return EVERYONE if policy.approves_everyone(user) else TEAM


def _visible(viewer: str, user_id: Any) -> ColumnElement[bool]:
    return true() if viewer in (SUPER, EVERYONE) else in_ids(
        Timesheet.id, select(TimeEntry.timesheet_id).where(TimeEntry.project_id.in_(managed_projects(user_id))))


def _not_own(user_id: Any) -> ColumnElement[bool]:
    return Timesheet.resource_id.not_in(select(Resource.id).where(Resource.user_id == user_id))


def _stood_in(approver: str, approver_id: Any, stand_in_id: Any) -> ColumnElement[bool]:
    return and_(_visible(approver, approver_id), _not_own(approver_id), _not_own(stand_in_id))


def _scope(viewer: str, user_id: Any, principals: tuple[tuple[str, Any], ...]) -> ColumnElement[bool]:
    """The scope of a viewer of that shape, and of the (shape, id) of each approver they stand in for; ids are
    values or parameters bound when the statement runs."""
    if viewer == OUTSIDE:
        return false()
    own = _visible(viewer, user_id) if viewer == SUPER else and_(_visible(viewer, user_id), _not_own(user_id))
    stood_in = [_stood_in(kind, approver_id, user_id) for kind, approver_id in principals if kind != OUTSIDE]
    return or_(own, *stood_in) if stood_in else own


def stood_in_scope(approver: User, stand_in: User) -> ColumnElement[bool]:
    """What `stand_in` sees of `approver`'s queue: the approver's scope, minus either one's own timesheets."""
    return _stood_in(_viewer(approver), approver.id, stand_in.id)


def scope(user: User, principals: list[User] | tuple = ()) -> ColumnElement[bool]:
    """The timesheets `user` sees in the queue: in their own right, and for each approver in `principals` (those
    they stand in for today, standins.principals) as that approver would."""
    return _scope(_viewer(user), user.id, tuple((_viewer(p), p.id) for p in principals))


@dataclass(frozen=True)
class _Shape:
    """What the queue's statement depends on besides its values: the viewer's kind and those of the approvers
    they stand in for, the status, which filters are set, whether it is a later page, the page's size. Each
    shape's statement is built once (`_page`) with every value a named parameter (`_values`): building, keying
    and looking up the statements afresh took 2 of the page's 10 ms (issue 14). Nothing but the shape reaches
    the builder, so no viewer's values can stay in a statement another viewer runs."""

    viewer: str
    principals: tuple[str, ...]
    status: str
    week_from: bool
    week_to: bool
    project: bool
    person: bool
    held: bool
    later_page: bool
    limit: int


def _shape(user: User, filters: Filters, principals: list[User], later_page: bool, limit: int) -> _Shape:
    if filters.status not in STATUS_FILTERS:
        raise InvalidInput("Choose a status to filter by.")
    return _Shape(_viewer(user), tuple(_viewer(p) for p in principals), filters.status, bool(filters.week_from),
                  bool(filters.week_to), bool(filters.project_id), bool(filters.resource_id), filters.held,
                  later_page, limit)


def _values(user: User, filters: Filters, principals: list[User], past: tuple[date, int] | None) -> dict[str, Any]:
    values = {"viewer": user.id, "week_from": filters.week_from, "week_to": filters.week_to,
              "project_id": filters.project_id, "resource_id": filters.resource_id,
              **{f"principal_{n}": p.id for n, p in enumerate(principals)}}
    if past is not None:
        values["after_day"], values["after_id"] = past
    return values


@lru_cache(maxsize=256)
def _conditions(shape: _Shape) -> tuple[ColumnElement[bool], ...]:
    conditions = [_scope(shape.viewer, bindparam("viewer"),
                         tuple((kind, bindparam(f"principal_{n}")) for n, kind in enumerate(shape.principals)))]
    if shape.status:
        conditions.append(Timesheet.status.in_(UNSUBMITTED) if shape.status == "unsubmitted"
                          else Timesheet.status == shape.status)
    if shape.week_from:
        conditions.append(Timesheet.period_end >= bindparam("week_from"))
    if shape.week_to:
        conditions.append(Timesheet.period_start <= bindparam("week_to"))
    if shape.project:
        conditions.append(in_ids(
            Timesheet.id, select(TimeEntry.timesheet_id).where(TimeEntry.project_id == bindparam("project_id"))))
    if shape.person:
        conditions.append(Timesheet.resource_id == bindparam("resource_id"))
    if shape.held:
        conditions.append(Timesheet.id.in_(_with_held_changes()))
    return tuple(conditions)


@lru_cache(maxsize=256)
def _page(shape: _Shape) -> Select:
    """A page of the queue in (week, id) order with the queue's capped count alongside (PostgreSQL runs the
    uncorrelated subquery once: a statement less on the page every approver keeps open)."""
    conditions = _conditions(shape)
    query = select(Timesheet, _counted(*conditions).scalar_subquery()).where(*conditions) \
        .options(joinedload(Timesheet.resource))
    if shape.later_page:
        query = query.where(paging.beyond(Timesheet.period_start, Timesheet.id, bindparam("after_day"),
                                          bindparam("after_id")))
    return query.order_by(Timesheet.period_start, Timesheet.id).limit(shape.limit + 1)


def _with_held_changes():
    return select(TimesheetConflict.timesheet_id).where(TimesheetConflict.status == ConflictStatus.OPEN)


def count(session: Session, *conditions: ColumnElement[bool]) -> int:
    """Timesheets meeting `conditions`, counted up to COUNT_CAP + 1 (shown as "1,000+")."""
    return session.scalar(_counted(*conditions)) or 0


def _counted(*conditions: ColumnElement[bool]) -> Select:
    capped = select(Timesheet.id).where(*conditions).limit(COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(capped)


def count_label(number: int) -> str:
    return f"{COUNT_CAP:,}+" if number > COUNT_CAP else f"{number:,}"


def held_count(session: Session, user: User) -> int:
    """Timesheets the user may see in the queue whose tool changes wait for a decision (the home page)."""
    return count(session, scope(user, standins.principals(session, user)), Timesheet.id.in_(_with_held_changes()))


def waiting_count(session: Session, user: User, stood_in_for: User | None = None) -> int:
    """Submitted timesheets in the user's own queue, or in the queue of an approver they stand in for (the
    home page says whose)."""
    where = scope(user) if stood_in_for is None else stood_in_scope(stood_in_for, user)
    return count(session, where, Timesheet.status == TimesheetStatus.SUBMITTED)


def _hours_and_held() -> CompoundSelect:
    """The page's hours per timesheet and project, and its held changes, in one statement (a held count has no
    project). The sums come first and each names its project by its key: a join before grouping has PostgreSQL
    hash the whole projects table for the page's few dozen sums. Built once (the page's ids are its parameter):
    building and keying it cost as much as running it."""
    sums = select(TimeEntry.timesheet_id, TimeEntry.project_id, func.sum(TimeEntry.hours).label("hours")) \
        .where(among_named(TimeEntry.timesheet_id, "sheet_ids")) \
        .group_by(TimeEntry.timesheet_id, TimeEntry.project_id).subquery()
    hours = select(sums.c.timesheet_id, sums.c.project_id,
                   select(Project.name).where(Project.id == sums.c.project_id).scalar_subquery(), sums.c.hours)
    conflicts = select(TimesheetConflict.timesheet_id, null(), null(), cast(func.count(), TimeEntry.hours.type)) \
        .where(among_named(TimesheetConflict.timesheet_id, "sheet_ids"),
               TimesheetConflict.status == ConflictStatus.OPEN) \
        .group_by(TimesheetConflict.timesheet_id)
    return union_all(hours, conflicts)


_HOURS_AND_HELD = _hours_and_held()


def approval_queue(session: Session, user: User, filters: Filters, after: str | None = None,
                   limit: int = PAGE_SIZE) -> ApprovalQueue:
    """One page of the queue (oldest week first), its rows' hours per project, and the queue's size (capped)."""
    principals = [p for p in standins.principals(session, user) if policy.is_internal(p)]
    past = paging.position(after)
    shape = _shape(user, filters, principals, past is not None, limit)
    values = _values(user, filters, principals, past)
    found = session.execute(_page(shape), values).all()
    sheets, next_cursor = paging.page([sheet for sheet, _ in found], limit,
                                      lambda sheet: (sheet.period_start, sheet.id))
    # Past the last page: counted alone.
    counted = found[0][1] if found else session.scalar(_counted(*_conditions(shape)), values) or 0

    per_sheet: dict[int, list[tuple[int, Decimal]]] = {s.id: [] for s in sheets}
    held: dict[int, int] = {}
    names: dict[int, str] = {}
    if sheets:
        for sheet_id, project_id, name, number in session.execute(_HOURS_AND_HELD, {"sheet_ids": list(per_sheet)}):
            if project_id is None:
                held[sheet_id] = int(number)
            else:
                per_sheet[sheet_id].append((project_id, Decimal(number)))
                names[project_id] = name
    # Who may decide turns on the projects' PM teams only for a PM (or someone standing in): only then are the
    # projects read with their teams; an approver's rows name them.
    if names and (not policy.approves_everyone(user) or principals):
        projects = {p.id: p for p in session.scalars(select(Project).where(Project.id.in_(names))
                                                      .options(selectinload(Project.team)))}
    else:
        projects = {ident: ProjectName(ident, name) for ident, name in names.items()}
    reminded = reminders.reminded_today(session, [s.resource_id for s in sheets if s.status in UNSUBMITTED])
    rows = []
    for sheet in sheets:
        pairs = sorted(((projects[p], h) for p, h in per_sheet[sheet.id]), key=lambda ph: ph[0].name)
        involved = [p for p, _ in pairs]
        decider = policy.decides_for(user, sheet, involved, principals)
        whose = decider or policy.views_for(user, sheet, involved, principals)
        rows.append(Row(sheet, sum((h for _, h in pairs), Decimal("0")), pairs, decider is not None,
                        held.get(sheet.id, 0), on_behalf=whose if whose is not None and whose.id != user.id else None,
                        reminded_today=sheet.resource_id in reminded))

    totals: dict[int, ProjectTotal] = {}
    for row in rows:
        for project, hours in row.projects:
            total = totals.setdefault(project.id, ProjectTotal(project.id, project.name, Decimal("0"), 0))
            total.hours += hours
            total.timesheets += 1
    return ApprovalQueue(rows, next_cursor, counted, sum((r.hours for r in rows), Decimal("0")),
                         sorted(totals.values(), key=lambda t: t.name))


def escalated_weeks(session: Session, user: User) -> list[tuple[date, int]]:
    """Per recent week, how many people in the user's queue (their own, or one they stand in for) were escalated
    after a reminder (issue 16) and have still not submitted it (the home page)."""
    since = today() - timedelta(days=21)
    return [(week, count) for week, count in session.execute(
        select(Timesheet.period_start, func.count()).join(TimesheetReminder, (
            TimesheetReminder.resource_id == Timesheet.resource_id)
            & (TimesheetReminder.week_start == Timesheet.period_start))
        .where(TimesheetReminder.kind == ReminderKind.ESCALATION, TimesheetReminder.week_start >= since,
               Timesheet.status.in_(UNSUBMITTED), scope(user, standins.principals(session, user)))
        .group_by(Timesheet.period_start).order_by(Timesheet.period_start))]
