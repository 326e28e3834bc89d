"""The approver's queue: the timesheets a user may approve, filtered, a page at a time, with totals.

Scope (issue 6): users with the approver role and admins see everyone's timesheets; anyone else sees the
timesheets holding time on projects whose PM team they are on. Nobody sees their own (a super-admin
excepted, who may decide on it). The page costs the same number of queries whatever the queue's length:
keyset paging, and aggregates for the page's rows and for the whole filtered queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, distinct, false, func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from portal import paging
from portal.auth import policy
from portal.auth.models import User
from portal.errors import InvalidInput
from portal.projects.models import Project, ProjectManager, Resource
from portal.timesheets.models import ConflictStatus, TimeEntry, Timesheet, TimesheetConflict, TimesheetStatus

PAGE_SIZE = 50
STATUS_FILTERS = ["submitted", "approved", "rejected", "recalled", "draft", ""]  # "" = any


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


@dataclass
class Row:
    sheet: Timesheet
    hours: Decimal
    projects: list[tuple[Project, Decimal]]
    decidable: bool
    held: int = 0  # changes from a timesheet tool waiting for a decision


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
    count: int
    hours: Decimal
    project_totals: list[ProjectTotal] = field(default_factory=list)


def managed_projects(user: User):
    """Ids of projects whose PM team the user is on (as a subquery)."""
    return select(Project.id).where(or_(
        Project.pm_id == user.id,
        Project.id.in_(select(ProjectManager.project_id).where(ProjectManager.user_id == user.id)),
    ))


def scope(user: User) -> ColumnElement[bool]:
    if not policy.is_internal(user):
        return false()
    visible = true() if policy.approves_everyone(user) else Timesheet.id.in_(
        select(TimeEntry.timesheet_id).where(TimeEntry.project_id.in_(managed_projects(user))))
    if policy.is_super_admin(user):
        return visible
    own = select(Resource.id).where(Resource.user_id == user.id)
    return and_(visible, Timesheet.resource_id.not_in(own))


def _conditions(user: User, filters: Filters) -> list[ColumnElement[bool]]:
    conditions = [scope(user)]
    if filters.status:
        if filters.status not in STATUS_FILTERS:
            raise InvalidInput("Choose a status to filter by.")
        conditions.append(Timesheet.status == filters.status)
    if filters.week_from:
        conditions.append(Timesheet.period_end >= filters.week_from)
    if filters.week_to:
        conditions.append(Timesheet.period_start <= filters.week_to)
    if filters.project_id:
        conditions.append(Timesheet.id.in_(
            select(TimeEntry.timesheet_id).where(TimeEntry.project_id == filters.project_id)))
    if filters.resource_id:
        conditions.append(Timesheet.resource_id == filters.resource_id)
    if filters.held:
        conditions.append(Timesheet.id.in_(_with_held_changes()))
    return conditions


def _with_held_changes():
    return select(TimesheetConflict.timesheet_id).where(TimesheetConflict.status == ConflictStatus.OPEN)


def held_count(session: Session, user: User) -> int:
    """Timesheets the user may see in the queue whose tool changes wait for a decision (the home page)."""
    return session.scalar(select(func.count()).select_from(Timesheet).where(
        scope(user), Timesheet.id.in_(_with_held_changes()))) or 0


def waiting_count(session: Session, user: User) -> int:
    """Submitted timesheets in the user's queue (the home page)."""
    return session.scalar(select(func.count()).select_from(Timesheet).where(
        scope(user), Timesheet.status == TimesheetStatus.SUBMITTED)) or 0


def approval_queue(session: Session, user: User, filters: Filters, after: str | None = None,
                   limit: int = PAGE_SIZE) -> ApprovalQueue:
    """One page of the queue (oldest week first), its rows' hours per project, and the filtered totals."""
    conditions = _conditions(user, filters)
    query = select(Timesheet).where(*conditions).options(selectinload(Timesheet.resource))
    position = paging.after(Timesheet.period_start, Timesheet.id, after)
    if position is not None:
        query = query.where(position)
    sheets, next_cursor = paging.page(
        session.scalars(query.order_by(Timesheet.period_start, Timesheet.id).limit(limit + 1)).all(), limit,
        lambda sheet: (sheet.period_start, sheet.id))

    per_sheet: dict[int, list[tuple[int, Decimal]]] = {s.id: [] for s in sheets}
    held: dict[int, int] = {}
    if sheets:
        held = dict(session.execute(
            select(TimesheetConflict.timesheet_id, func.count()).where(
                TimesheetConflict.timesheet_id.in_(per_sheet), TimesheetConflict.status == ConflictStatus.OPEN)
            .group_by(TimesheetConflict.timesheet_id)).all())
        for sheet_id, project_id, hours in session.execute(
            select(TimeEntry.timesheet_id, TimeEntry.project_id, func.sum(TimeEntry.hours))
            .where(TimeEntry.timesheet_id.in_(per_sheet)).group_by(TimeEntry.timesheet_id, TimeEntry.project_id)
        ):
            per_sheet[sheet_id].append((project_id, Decimal(hours)))
    project_ids = {p for pairs in per_sheet.values() for p, _ in pairs}
    projects = {p.id: p for p in session.scalars(
        select(Project).where(Project.id.in_(project_ids)).options(selectinload(Project.team)))} if project_ids else {}
    rows = []
    for sheet in sheets:
        pairs = sorted(((projects[p], h) for p, h in per_sheet[sheet.id]), key=lambda ph: ph[0].name)
        rows.append(Row(sheet, sum((h for _, h in pairs), Decimal("0")), pairs,
                        policy.can_decide_timesheet(user, sheet, [p for p, _ in pairs]), held.get(sheet.id, 0)))

    in_queue = select(Timesheet.id).where(*conditions)
    totals = [ProjectTotal(pid, name, Decimal(hours), count) for pid, name, hours, count in session.execute(
        select(Project.id, Project.name, func.sum(TimeEntry.hours), func.count(distinct(TimeEntry.timesheet_id)))
        .join(TimeEntry, TimeEntry.project_id == Project.id).where(TimeEntry.timesheet_id.in_(in_queue))
        .group_by(Project.id, Project.name).order_by(Project.name)
    )]
    count = session.scalar(select(func.count()).select_from(Timesheet).where(*conditions)) or 0
    return ApprovalQueue(rows, next_cursor, count, sum((t.hours for t in totals), Decimal("0")), totals)
