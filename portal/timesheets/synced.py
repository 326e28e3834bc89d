"""Time a timesheet tool owns: written only through here (every tool's sync, and an approver accepting a
held change), so time from any tool follows one set of rules.

A synced entry is read-only in the portal; it joins its person's timesheet for the week like native time.
What the tool says about it is applied while its timesheet is open (draft, submitted, rejected): the
timesheet's version moves on, so an approval form opened before the change is refused as stale. Time on an
approved (or recalled) timesheet is never changed silently: the caller holds the change as a conflict
(portal/timesheets/conflicts.py) for the approver. On PostgreSQL the timesheets involved are locked before
their status is read, so an approval and a sync cannot cross.

Creations come in bulk (a first sync brings thousands of entries): one INSERT ... ON CONFLICT DO NOTHING
per batch on the unique (connection, external id), so a concurrent or repeated import adds nothing twice.
On PostgreSQL the batch is COPYed straight into the table (a batch that meets a concurrent sync's entry is
applied again through a staging table and one INSERT ... SELECT ... ON CONFLICT): no statement with thousands
of parameters for the server to parse on every page (issue 14).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from psycopg.errors import UniqueViolation
from sqlalchemy import select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from portal import audit, events
from portal.auth.models import User
from portal.formatting import hours, hours_text
from portal.sql import among, copy_rows, empty
from portal.timesheets.entries import ENTRY_FIELDS, record_change, record_new, timesheet_for
from portal.timesheets.models import HELD_STATUSES, EntrySource, TimeEntry, Timesheet

HUNDREDTH = Decimal("0.01")
MAX_HOURS = Decimal("24")
# What the tool decides about a synced entry (the bill rate is the portal's, frozen when it was imported).
SYNCED_FIELDS = ["resource_id", "offering_id", "project_id", "work_date", "hours", "billable", "description"]
# What some tools say beyond those (Procore: the task, the project item, clock times and break), and the
# tool's own details of the entry (kept, not compared: they change nothing the portal counts).
EXTRA_FIELDS = ("task_id", "project_item_id", "started_at", "ended_at", "break_minutes")
_INSTANTS = ("started_at", "ended_at")


@lru_cache(maxsize=8192)  # a sync asks for the same few thousand durations a hundred thousand times
def hours_of(seconds: int) -> Decimal:
    return (Decimal(seconds) / 3600).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


def hours_problem(hours: Decimal) -> str | None:
    """Why a duration cannot be a time entry (the same bounds as native time), or None."""
    if hours <= 0:
        return "it is shorter than half a minute (0.00 h)"
    if hours > MAX_HOURS:
        return f"it lasts {hours_text(hours)}, more than a day (perhaps a timer left running)"
    return None


@dataclass(slots=True)  # not frozen: built once per synced entry, and frozen ones cost more to build
class SyncedValues:
    """An entry as the tool has it, mapped to the portal's person, offering and project."""

    resource_id: int
    offering_id: int
    project_id: int
    work_date: date
    hours: Decimal
    billable: bool
    description: str
    external_url: str = ""
    external_updated_at: datetime | None = None
    # EXTRA_FIELDS the tool decides, and its "external_details": set on the entry as given (absent ones are
    # left alone).
    extra: dict[str, Any] = field(default_factory=dict)

    def plain(self) -> dict[str, Any]:
        """The values as a conflict's proposal stores them (JSON)."""
        values = {k: v for k, v in asdict(self).items() if k not in ("external_updated_at", "extra")}
        extra = {k: v.isoformat() if k in _INSTANTS and v is not None else v for k, v in self.extra.items()}
        return {**values, "work_date": self.work_date.isoformat(), "hours": str(self.hours), "extra": extra}

    @classmethod
    def from_plain(cls, values: dict[str, Any], external_updated_at: datetime | None = None) -> SyncedValues:
        extra = {k: datetime.fromisoformat(v) if k in _INSTANTS and v is not None else v
                 for k, v in (values.get("extra") or {}).items()}
        return cls(resource_id=int(values["resource_id"]), offering_id=int(values["offering_id"]),
                   project_id=int(values["project_id"]), work_date=date.fromisoformat(values["work_date"]),
                   hours=Decimal(values["hours"]), billable=bool(values["billable"]),
                   description=values.get("description") or "", external_url=values.get("external_url") or "",
                   external_updated_at=external_updated_at, extra=extra)

    def differs_from(self, entry: TimeEntry) -> dict[str, tuple[Any, Any]]:
        """{field: (portal value, tool value)} for what the tool changed (its details aside)."""
        wanted = {**{name: getattr(self, name) for name in SYNCED_FIELDS},
                  **{name: value for name, value in self.extra.items() if name in EXTRA_FIELDS}}
        return {name: (getattr(entry, name), value) for name, value in wanted.items() if getattr(entry, name) != value}

    def set_on(self, entry: TimeEntry) -> None:
        for name in SYNCED_FIELDS:
            setattr(entry, name, getattr(self, name))
        for name, value in self.extra.items():
            setattr(entry, name, value)
        entry.external_url = self.external_url or entry.external_url
        entry.external_updated_at = self.external_updated_at


def ensure_timesheets(session: Session, weeks: set[tuple[int, date]]) -> dict[tuple[int, date], int]:
    """The timesheets of (resource, week start) pairs, the missing ones created in one statement (a
    concurrent sync creating the same one is harmless: the unique (resource, week) decides)."""
    found = _timesheet_ids(session, weeks)
    missing = weeks - found.keys()
    if missing:
        session.execute(_insert(session, Timesheet).on_conflict_do_nothing(
            index_elements=["resource_id", "period_start"]),
            [{"resource_id": resource_id, "period_start": start, "period_end": start + timedelta(days=6)}
             for resource_id, start in sorted(missing)])
        found.update(_timesheet_ids(session, missing))
    return found


def _timesheet_ids(session: Session, weeks: set[tuple[int, date]]) -> dict[tuple[int, date], int]:
    found: dict[tuple[int, date], int] = {}
    pairs = sorted(weeks)
    for start in range(0, len(pairs), 500):
        found.update(((resource_id, period_start), sheet_id) for sheet_id, resource_id, period_start in session.execute(
            select(Timesheet.id, Timesheet.resource_id, Timesheet.period_start)
            .where(tuple_(Timesheet.resource_id, Timesheet.period_start).in_(pairs[start:start + 500]))))
    return found


def lock_timesheets(session: Session, sheet_ids: Iterable[int]) -> dict[int, str]:
    """The timesheets' statuses, read under a row lock (PostgreSQL; in id order, so two syncs never deadlock)."""
    ids = sorted(set(sheet_ids))
    if not ids:
        return {}
    rows = session.execute(select(Timesheet.id, Timesheet.status).where(among(Timesheet.id, ids))
                           .order_by(Timesheet.id).with_for_update())
    return dict(rows.all())


def is_held(status: str) -> bool:
    return status in HELD_STATUSES


def bump_versions(session: Session, sheet_ids: Iterable[int]) -> None:
    ids = sorted(set(sheet_ids))
    if ids:
        session.execute(update(Timesheet).where(among(Timesheet.id, ids)).values(version=Timesheet.version + 1)
                        .execution_options(synchronize_session=False))


def _insert(session: Session, model=TimeEntry):
    """The dialect's INSERT (for ON CONFLICT) on the model's table: Core, not the ORM's slower bulk path."""
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(
        model.__table__)


NewEntry = tuple[str, SyncedValues, int, Decimal | None]  # (external id, values, timesheet id, bill rate)
# The columns a bulk import writes, in the order its rows are COPYed.
INSERTED = ("connection_id", "external_id", "source", "resource_id", "offering_id", "project_id", "work_date", "hours",
            "billable", "description", "external_url", "external_updated_at", "timesheet_id", "bill_rate")
_COLUMNS = ", ".join(INSERTED)
# Per database connection, emptied once its rows are inserted (a rolled-back COPY leaves nothing either). Not
# ON COMMIT DELETE ROWS: that empties it at every commit of the connection, used or not.
_STAGING = text(f"CREATE TEMP TABLE IF NOT EXISTS time_entries_staged AS "
                f"SELECT {_COLUMNS} FROM time_entries WITH NO DATA")
_FROM_STAGING = text(
    f"INSERT INTO time_entries ({_COLUMNS}, created_at, updated_at) "
    f"SELECT {_COLUMNS}, now(), now() FROM time_entries_staged ORDER BY external_id "
    f"ON CONFLICT (connection_id, external_id) DO NOTHING RETURNING external_id")


class InsertedMeanwhile(Exception):  # noqa: N818 (a signal to apply the batch again, not a failure)
    """A straight COPY met an entry a concurrent sync inserted after the caller looked: the transaction is
    lost, and the batch is applied again with `straight=False`."""


def insert_entries(session: Session, connection_id: int, source: str, rows: list[NewEntry], *,
                   straight: bool = False) -> set[str]:
    """Insert new synced entries: (external id, values, timesheet id, bill rate) each. Returns the external ids
    this call inserted; with `straight=False` an entry already there (a concurrent sync's) is left alone. The
    caller has checked that none of the timesheets is held. Rows go in in external-id order (two concurrent
    syncs lock the unique index in the same order).

    On PostgreSQL, `straight` COPYs the rows into time_entries, for a caller that looked them up, found none,
    and applies its batch again on InsertedMeanwhile (raised when the unique key refuses the COPY: a concurrent
    sync inserted one since). That is a sync's usual case, and COPY the cheapest write: no statement to parse,
    no speculative insertion per row, nothing sent back. Otherwise the rows go through a staging table and one
    INSERT ... SELECT ... ON CONFLICT DO NOTHING."""
    if not rows:
        return set()
    ordered = [(connection_id, external_id, source, v.resource_id, v.offering_id, v.project_id, v.work_date, v.hours,
                v.billable, v.description, v.external_url or None, v.external_updated_at, sheet_id, rate)
               for external_id, v, sheet_id, rate in sorted(rows, key=lambda r: r[0])]
    if session.get_bind().dialect.name == "postgresql":
        inserted = _copy_straight(session, ordered) if straight else _insert_by_copy(session, ordered)
    else:
        statement = _insert(session).on_conflict_do_nothing(index_elements=["connection_id", "external_id"]) \
            .returning(TimeEntry.__table__.c.external_id)
        inserted = set(session.scalars(statement, [dict(zip(INSERTED, row, strict=True)) for row in ordered]))
    bump_versions(session, {sheet_id for external_id, _, sheet_id, _ in rows if external_id in inserted})
    return inserted


def _copy_straight(session: Session, rows: list[tuple]) -> set[str]:
    try:
        copy_rows(session.connection(), "time_entries", INSERTED, rows)
    except UniqueViolation:
        raise InsertedMeanwhile from None
    return {row[1] for row in rows}


def _insert_by_copy(session: Session, rows: list[tuple]) -> set[str]:
    """PostgreSQL: COPY the rows (in INSERTED's order) into the staging table, then one INSERT ... SELECT ...
    ON CONFLICT DO NOTHING from it, in the session's transaction."""
    connection = session.connection()
    connection.execute(_STAGING)
    copy_rows(connection, "time_entries_staged", INSERTED, rows)
    inserted = set(connection.scalars(_FROM_STAGING))
    empty(connection, "time_entries_staged")
    return inserted


def create_entry(session: Session, actor: User | str | None, connection_id: int, source: str, external_id: str,
                 values: SyncedValues, bill_rate: Decimal | None) -> TimeEntry:
    """One synced entry (an approver accepting a held creation); audited, unlike bulk imports."""
    entry = TimeEntry(connection_id=connection_id, external_id=external_id, source=source, bill_rate=bill_rate,
                      timesheet=timesheet_for(session, values.resource_id, values.work_date))
    values.set_on(entry)
    record_new(session, actor, entry, "time_entry.synced_created",
               f"{hours_text(entry.hours)} on {entry.work_date:%d %b %Y} from {source_label(source)}")
    return entry


def update_entry(session: Session, actor: User | str | None, entry: TimeEntry, values: SyncedValues) -> None:
    """Apply the tool's values to an entry whose timesheets (old and new week) the caller found open."""
    fields = ENTRY_FIELDS + [name for name in EXTRA_FIELDS if name not in ENTRY_FIELDS]
    before = audit.snapshot(entry, fields)
    target = timesheet_for(session, values.resource_id, values.work_date)
    bump_versions(session, {entry.timesheet_id, target.id} - {None})
    values.set_on(entry)
    entry.timesheet = target
    session.flush()
    record_change(session, actor, entry, before, "time_entry.synced_updated",
                  f"Time entry on {entry.work_date:%d %b %Y} changed in {source_label(entry.source)}", fields)


def delete_entry(session: Session, actor: User | str | None, entry: TimeEntry, why: str) -> None:
    """Remove an entry the tool deleted (or moved off linked projects), from an open timesheet."""
    bump_versions(session, {entry.timesheet_id} - {None})
    events.time_entry_changed.send(entry, session=session, actor=actor, changes={"deleted": [False, True]})
    audit.record(session, actor, "time_entry.synced_deleted", entry, before=audit.snapshot(entry, ENTRY_FIELDS),
                 summary=f"Removed {hours_text(entry.hours)} on {entry.work_date:%d %b %Y}: {why}")
    session.delete(entry)
    session.flush()


def describe(values: SyncedValues | None, entry: TimeEntry | None) -> str:
    """A change in words, for conflicts and sync messages: "2.00 h → 3.50 h, date 2 Mar → 3 Mar"."""
    if values is None:
        return f"deleted ({hours(entry.hours)} h on {entry.work_date:%d %b})" if entry else "deleted"
    if entry is None:
        return f"added {hours(values.hours)} h on {values.work_date:%d %b}"
    words = {"hours": "h", "work_date": "date", "billable": "billable", "description": "description",
             "offering_id": "offering", "project_id": "project", "resource_id": "person", "task_id": "task",
             "project_item_id": "project item", "started_at": "clock-in", "ended_at": "clock-out",
             "break_minutes": "break"}
    parts = []
    for name, (old, new) in values.differs_from(entry).items():
        if name == "hours":
            parts.append(f"{hours(old)} h → {hours(new)} h")
        elif name == "work_date":
            parts.append(f"date {old:%d %b} → {new:%d %b}")
        elif name == "description":
            parts.append(f"description “{old}” → “{new}”")
        elif name == "billable":
            parts.append("billable" if new else "not billable")
        elif name != "project_id":  # an offering change says it
            parts.append(f"{words[name]} changed")
    return ", ".join(parts) or "no visible change"


def source_label(source: str) -> str:
    return {EntrySource.TOGGL: "Toggl", EntrySource.PROCORE: "Procore"}.get(source, source)
