"""The week as a grid (issue 15, item 21): rows of project · offering · task, a column per day.

A cell is a person's time on one offering and task on one day. Typing hours into a cell sets it through the
entry services (entries.py), so the grid and the entry list follow one set of rules: the cell's one native
entry is added, changed, or deleted when the cell is cleared. A cell holding time synced from a timesheet
tool, or several entries, changes entry by entry in its panel, where descriptions and billable flags live.

The same grid, read-only, shows a timesheet on its page and inside the approvals queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.auth import policy
from portal.auth.models import User
from portal.errors import Conflict
from portal.inputs import MAX_ID
from portal.planning.models import ProjectTask
from portal.projects.models import Assignment, Offering, Project
from portal.timesheets import entries
from portal.timesheets.models import TimeEntry, Timesheet

ZERO = Decimal("0")
RowKey = tuple[int | None, int | None]  # (offering id, task id); None: no offering (deleted since) / no task
MAX_ADDED_ROWS = 20


def key_text(key: RowKey) -> str:
    """A row's key in ids and URLs: "<offering>-<task>", 0 standing for none."""
    return f"{key[0] or 0}-{key[1] or 0}"


def parse_key(text: str | None) -> RowKey | None:
    offering, _, task = (text or "").partition("-")
    if not (offering.isdigit() and task.isdigit()) or int(offering) == 0 \
            or max(int(offering), int(task)) > MAX_ID:  # no id is that large (portal/inputs.py)
        return None
    return int(offering), int(task) or None


def tool_names(time_entries: Iterable[TimeEntry]) -> list[str]:
    """The timesheet tools some of `time_entries` were synced from ("Toggl")."""
    return sorted({e.source.capitalize() for e in time_entries if e.is_synced})


@dataclass
class Cell:
    day: date
    entries: list[TimeEntry] = field(default_factory=list)

    @property
    def hours(self) -> Decimal:
        return sum((e.hours for e in self.entries), ZERO)

    @property
    def tools(self) -> list[str]:
        return tool_names(self.entries)

    @property
    def described(self) -> bool:
        return any(e.description for e in self.entries)

    @property
    def stamp(self) -> str:
        return f"{self.day:%Y%m%d}"


@dataclass
class Row:
    key: RowKey
    project: Project | None
    offering: Offering | None
    task: ProjectTask | None
    cells: dict[date, Cell]
    # Why no time goes into this row now (its project's stage and options, seed 004); None: it takes time.
    refusal: str | None = None

    @property
    def ident(self) -> str:
        return key_text(self.key)

    @property
    def label(self) -> str:
        parts = [self.project.name if self.project else "—", self.offering.name if self.offering else "no offering"]
        return " · ".join([*parts, self.task.name] if self.task else parts)

    @property
    def total(self) -> Decimal:
        return sum((c.hours for c in self.cells.values()), ZERO)

    @property
    def task_closed(self) -> bool:
        return self.task is not None and not self.task.active


@dataclass
class Grid:
    days: list[date]
    rows: list[Row]
    editable: bool = False  # the week takes changes (its timesheet is not frozen)

    def row(self, key: RowKey) -> Row | None:
        return next((r for r in self.rows if r.key == key), None)

    def day_total(self, day: date) -> Decimal:
        return sum((r.cells[day].hours for r in self.rows), ZERO)

    @property
    def total(self) -> Decimal:
        return sum((r.total for r in self.rows), ZERO)

    def typable(self, row: Row, cell: Cell) -> bool:
        """Whether typing hours into the cell sets it (otherwise it reads, or changes in its panel)."""
        if not self.editable or row.offering is None or row.refusal or cell.tools or len(cell.entries) > 1:
            return False
        return bool(cell.entries) or not row.task_closed

    def openable(self, row: Row, cell: Cell) -> bool:
        """Whether the cell's panel has something to show or take."""
        return bool(cell.entries) or self.typable(row, cell)

    def why_read_only(self, row: Row, cell: Cell) -> str:
        if cell.tools:
            tools = " and ".join(cell.tools)
            return f"Synced from {tools}: read-only here, change it in {tools}."
        if len(cell.entries) > 1:
            return f"{len(cell.entries)} entries: open the cell to change them one by one."
        if row.refusal:
            return row.refusal
        if row.task_closed and not cell.entries:
            return f"The task {row.task.name} is closed."
        return ""


def _empty_cells(days: list[date]) -> dict[date, Cell]:
    return {d: Cell(d) for d in days}


def _sort(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r.label.lower(), r.key[0] or 0, r.key[1] or 0))


def build(time_entries: Iterable[TimeEntry], days: list[date], editable: bool = False) -> Grid:
    """The grid of some entries (their project, offering and task loaded) over `days`."""
    rows: dict[RowKey, Row] = {}
    for entry in time_entries:
        key = (entry.offering_id, entry.task_id)
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(key, entry.project, entry.offering, entry.task, _empty_cells(days))
        if entry.work_date in row.cells:
            row.cells[entry.work_date].entries.append(entry)
    return Grid(days, _sort(rows.values()), editable)


def timesheet_grid(session: Session, sheet: Timesheet) -> Grid:
    """A timesheet's hours, read-only: its page and the approvals queue's inline view of one week."""
    days = [sheet.period_start + timedelta(days=i) for i in range((sheet.period_end - sheet.period_start).days + 1)]
    return build(session.scalars(
        select(TimeEntry).where(TimeEntry.timesheet_id == sheet.id)
        .options(selectinload(TimeEntry.project), selectinload(TimeEntry.offering), selectinload(TimeEntry.task),
                 selectinload(TimeEntry.project_item))
        .order_by(TimeEntry.work_date, TimeEntry.id)), days)


def _assigned_keys(session: Session, resource_id: int, start: date, end: date) -> list[RowKey]:
    """The person's own assignments on offerings running this week: rows to fill in before any time exists."""
    offerings = session.scalars(
        select(Offering.id).join(Assignment).where(
            Assignment.resource_id == resource_id, Assignment.passive.is_(False), Offering.archived.is_(False),
            (Offering.start_date.is_(None)) | (Offering.start_date <= end),
            (Offering.end_date.is_(None)) | (Offering.end_date >= start))
    )
    return [(offering_id, None) for offering_id in offerings]


def entry_grid(session: Session, week: Any, added: Iterable[RowKey] = ()) -> Grid:
    """The week of My time as a grid: rows with time, rows of the person's assignments and rows they added
    (`added`, at most MAX_ADDED_ROWS), each knowing whether it takes time now."""
    grid = build(week.entries, week.days, editable=week.editable)
    wanted = [k for k in [*list(added)[:MAX_ADDED_ROWS], *_assigned_keys(session, week.resource.id, week.start,
                                                                        week.end)] if grid.row(k) is None]
    if wanted:
        offerings = {o.id: o for o in session.scalars(
            select(Offering).where(Offering.id.in_({k[0] for k in wanted}))
            .options(selectinload(Offering.project).selectinload(Project.stage), selectinload(Offering.assignments)))}
        tasks = {t.id: t for t in session.scalars(
            select(ProjectTask).where(ProjectTask.id.in_({k[1] for k in wanted if k[1]})))} if any(
            k[1] for k in wanted) else {}
        seen = {r.key for r in grid.rows}
        for offering_id, task_id in wanted:
            offering, task = offerings.get(offering_id), tasks.get(task_id) if task_id else None
            if offering is None or (task_id and (task is None or task.project_id != offering.project_id)):
                continue  # a stale link: the offering or task is gone, or belongs elsewhere
            if (offering_id, task_id) not in seen:
                seen.add((offering_id, task_id))
                grid.rows.append(Row((offering_id, task_id), offering.project, offering, task,
                                     _empty_cells(grid.days)))
        grid.rows = _sort(grid.rows)
    for row in grid.rows:
        if row.offering is not None:
            row.refusal = policy.time_entry_refusal(row.offering.project, row.offering, week.resource.id)
    return grid


def cell_entries(session: Session, resource_id: int, key: RowKey, day: date) -> list[TimeEntry]:
    offering_id, task_id = key
    task = TimeEntry.task_id.is_(None) if task_id is None else TimeEntry.task_id == task_id
    offering = TimeEntry.offering_id.is_(None) if offering_id is None else TimeEntry.offering_id == offering_id
    return list(session.scalars(select(TimeEntry).where(
        TimeEntry.resource_id == resource_id, offering, task, TimeEntry.work_date == day).order_by(TimeEntry.id)))


def set_cell(session: Session, actor: User | str | None, resource_id: int, key: RowKey, day: date,
             text: str | None) -> TimeEntry | None:
    """Make the cell hold the typed hours: add its entry, change it, or delete it when blank or 0.

    Every rule of a native entry applies (entries.add_entry / update_entry / delete_entry). A cell with time
    synced from a tool, or with several entries, is refused: those change entry by entry in the cell's panel.
    """
    found = cell_entries(session, resource_id, key, day)
    tools = tool_names(found)
    if tools:
        raise Conflict(f"Synced from {' and '.join(tools)}: change it there.", fields={"hours": "Read-only."})
    if len(found) > 1:
        raise Conflict(f"This cell holds {len(found)} entries: open it to change them one by one.",
                       fields={"hours": "Several entries."})
    value = entries.parse_hours(text)
    if not value:
        if found:
            entries.delete_entry(session, actor, found[0].id)
        return None
    if found:
        entry = found[0]
        return entries.update_entry(session, actor, entry.id, work_date=entry.work_date, hours=value,
                                    description=entry.description, billable=entry.billable)
    offering_id, task_id = key
    return entries.add_entry(session, actor, resource_id=resource_id, offering_id=offering_id, work_date=day,
                             hours=value, task_id=task_id)

