"""The nightly reconcile within the tool's request quota (issue 13): what the tool holds, compared cheaply with
what the portal holds, so only the days that differ are read in detail.

Toggl's Starter plan allows 240 requests an hour across every tool using the token, and its detailed report
serves 50 rows a page: re-reading 62 days of a busy workspace would spend the whole hour. The nightly instead
(portal/integrations/toggl/sync.py, `Pass._reconcile`):

1. reads the changes since the last nightly, most recently changed first, stopping at what it has seen
   (edits and new entries of any day of the window, descriptions included: about one request);
2. then, a week of the window at a time (issue 14: what the worker holds is a week's, however many entries the
   window has), asks for every entry id of the week and the day either side (the summary report with
   `include_time_entry_ids`, one request): an entry the portal holds that the tool no longer lists was deleted
   there (reports never show deleted entries) or moved off the linked projects, and is removed (`unlisted`:
   the ids are staged in a temporary table and compared in the database);
3. asks for the week's seconds per day × person × project (the weekly report, one request) and compares them
   with the portal's own (`held_seconds`, summed by the database): the days that differ — time that reached
   neither the webhooks nor the changes read, a project linked since — are read in detail, and only those.

The portal's side counts every entry it knows of the linked projects: imported entries (hours, so each may
differ from the tool's seconds by rounding: TOLERANCE), the time of people not matched yet (waiting), and
entries whose import was refused or failed (their messages keep the entry). Days holding a change the approver
has not accepted (or refused) are left out: they differ on purpose. Days are the person's own (the resource's
time zone): the same as Toggl's when the resource's zone is the person's Toggl zone; otherwise the days of
entries near midnight differ and are re-read, which costs requests but never loses or doubles time. For the
same reason an entry is judged against the ids of its day and the day either side, and the window's first
and last days are not judged at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, column, exists, func, or_, select, table
from sqlalchemy.orm import Session

from portal.integrations.models import Connection, PersonLink, WaitingTimeEntry
from portal.runs.models import MessageStatus, SyncMessage
from portal.sql import among, copy_rows, empty
from portal.timesheets.models import ConflictStatus, TimeEntry, TimesheetConflict

# Seconds one imported entry may differ from the tool's by rounding to hundredths of an hour (18 s), and
# what an entry too short to import (under half a minute: skipped) may add to a day.
TOLERANCE = 18
WEEK = 7  # days compared at a time: the weekly report's range (one request), and one summary request
DAY = timedelta(days=1)
Bucket = tuple[date, str, str]  # (work date, person key, tool project id)
Window = tuple[date, date]

# The tool's ids of the days being judged, per database connection: COPY (PostgreSQL) or executemany (SQLite)
# into it, an anti-join out of it; emptied (portal.sql.empty) before and after each use. Not ON COMMIT DELETE ROWS:
# PostgreSQL would then truncate it at every commit that touches a temporary table on the connection (each batch
# of a sync).
LISTED = table("reconcile_listed", column("external_id"))
_LISTED_POSTGRESQL = "CREATE TEMP TABLE IF NOT EXISTS reconcile_listed (external_id text)"
# Indexed (not unique: COPY has no ON CONFLICT): with a table's statistics stale (thousands of entries just
# imported, not analyzed yet) the planner loops over the entries, and each must then be a lookup, not a scan.
_LISTED_INDEX = "CREATE INDEX IF NOT EXISTS reconcile_listed_id ON reconcile_listed (external_id)"
_LISTED_SQLITE = "CREATE TEMP TABLE IF NOT EXISTS reconcile_listed (external_id text PRIMARY KEY)"


def weeks(start: date, end: date) -> list[Window]:
    """start..end in runs of WEEK days (the last may be shorter)."""
    return [(first, min(end, first + timedelta(days=WEEK - 1)))
            for first in (start + timedelta(days=n) for n in range(0, (end - start).days + 1, WEEK))]


class People:
    """A tool user's key: the resource they are matched to (several tool users may be one person), else
    themselves."""

    def __init__(self, session: Session, connection: Connection):
        self.resources = dict(session.execute(select(PersonLink.external_id, PersonLink.resource_id).where(
            PersonLink.connection_id == connection.id)).all())

    def key(self, user_id: Any) -> str:
        resource_id = self.resources.get(str(user_id))
        return f"r{resource_id}" if resource_id is not None else f"u{user_id}"


@dataclass
class Unlisted:
    """What the portal holds of some days that the tool no longer lists."""

    entries: list[int]  # time entry ids (deletions the approver refused are not among them: kept)
    waiting: list[str]  # external ids of waiting time
    failed: list[str]  # external ids of refused or failed imports


def unlisted(session: Session, connection: Connection, ids: Iterable[str], days: Window,
             window: Window) -> Unlisted:
    """The portal's entries, waiting time and failed imports dated within `days` whose ids are not among the
    tool's `ids` (those of `days` and the day either side); `window` is the nightly's."""
    _stage(session, ids)
    listed = exists().where(LISTED.c.external_id == TimeEntry.external_id)
    kept = exists().where(TimesheetConflict.connection_id == connection.id,
                          TimesheetConflict.external_id == TimeEntry.external_id,
                          TimesheetConflict.status == ConflictStatus.REJECTED, TimesheetConflict.action == "delete")
    entries = list(session.scalars(select(TimeEntry.id).where(
        TimeEntry.connection_id == connection.id, TimeEntry.work_date.between(*days), ~listed, ~kept)
        .order_by(TimeEntry.id)))
    waiting = list(session.scalars(select(WaitingTimeEntry.external_id).where(
        WaitingTimeEntry.connection_id == connection.id, WaitingTimeEntry.work_date.between(*days),
        ~exists().where(LISTED.c.external_id == WaitingTimeEntry.external_id))))
    failed = [external_id for external_id, _ in _failed(
        session, connection, days, window, ~exists().where(LISTED.c.external_id == SyncMessage.external_id))]
    empty(session.connection(), "reconcile_listed")
    return Unlisted(entries, waiting, failed)


def _stage(session: Session, ids: Iterable[str]) -> None:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(_LISTED_POSTGRESQL)
        connection.exec_driver_sql(_LISTED_INDEX)
        empty(connection, "reconcile_listed")
        copy_rows(connection, "reconcile_listed", ["external_id"], ((external_id,) for external_id in ids))
    else:
        connection.exec_driver_sql(_LISTED_SQLITE)
        empty(connection, "reconcile_listed")
        rows = [(external_id,) for external_id in ids]
        if rows:  # (an empty list would be one statement without its parameter)
            connection.exec_driver_sql("INSERT OR IGNORE INTO reconcile_listed (external_id) VALUES (?)", rows)


def _failed(session: Session, connection: Connection, days: Window, window: Window,
            *where: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(external id, payload) of the refused or failed imports dated within `days` (removals aside) whose entry
    the portal does not hold in `window` (then the entry's own time counts)."""
    prefix = f"{connection.kind}:{connection.id}:time_entry:"
    held = exists().where(TimeEntry.connection_id == connection.id, TimeEntry.external_id == SyncMessage.external_id,
                          TimeEntry.work_date.between(*window))
    for external_id, payload in session.execute(select(SyncMessage.external_id, SyncMessage.payload).where(
            SyncMessage.dedupe_key.like(prefix + "%"), SyncMessage.status == MessageStatus.FAILED,
            SyncMessage.payload.is_not(None),
            SyncMessage.payload["work_date"].as_string().between(*(d.isoformat() for d in days)), ~held, *where)):
        if payload.get("work_date") and "remove" not in payload:
            yield external_id, payload


@dataclass
class Held:
    """The portal's seconds per bucket over some days, in the tool's terms."""

    seconds: Counter[Bucket]
    rows: Counter[Bucket]  # imported entries per bucket (each rounds)
    excused: set[tuple[date, str]]  # (day, person) with an undecided change


def held_seconds(session: Session, connection: Connection, days: Window, window: Window,
                 projects: dict[int, str], people: People) -> Held:
    """The portal's side of `days` (summed by the database); `projects` maps linked offering ids to tool
    project ids."""
    held = Held(Counter(), Counter(), set())
    for day, resource_id, offering_id, hours, rows in session.execute(
            select(TimeEntry.work_date, TimeEntry.resource_id, TimeEntry.offering_id, func.sum(TimeEntry.hours),
                   func.count())
            .where(TimeEntry.connection_id == connection.id, TimeEntry.work_date.between(*days),
                   among(TimeEntry.offering_id, list(projects)))
            .group_by(TimeEntry.work_date, TimeEntry.resource_id, TimeEntry.offering_id)):
        bucket = (day, f"r{resource_id}", projects[offering_id])
        held.seconds[bucket] += round(hours * 3600)
        held.rows[bucket] += rows
    for day, user_id, project, seconds in session.execute(
            select(WaitingTimeEntry.work_date, PersonLink.external_id, WaitingTimeEntry.external_project_id,
                   func.sum(WaitingTimeEntry.seconds))
            .join(PersonLink, PersonLink.id == WaitingTimeEntry.person_link_id)
            .where(WaitingTimeEntry.connection_id == connection.id, WaitingTimeEntry.work_date.between(*days))
            .group_by(WaitingTimeEntry.work_date, PersonLink.external_id, WaitingTimeEntry.external_project_id)):
        held.seconds[(day, people.key(user_id), project)] += int(seconds)
    for _, payload in _failed(session, connection, days, window):
        held.seconds[(date.fromisoformat(payload["work_date"]), people.key(payload.get("user_id")),
                      str(payload.get("project_id") or ""))] += int(payload.get("seconds") or 0)
    proposed_day = TimesheetConflict.proposed["work_date"].as_string()
    for day, resource_id, proposed in session.execute(
            select(TimeEntry.work_date, TimeEntry.resource_id, TimesheetConflict.proposed)
            .outerjoin(TimeEntry, TimeEntry.id == TimesheetConflict.time_entry_id)
            .where(TimesheetConflict.connection_id == connection.id,
                   TimesheetConflict.status.in_((ConflictStatus.OPEN, ConflictStatus.REJECTED)),
                   or_(TimeEntry.work_date.between(*days),
                       and_(proposed_day.is_not(None), proposed_day.between(*(d.isoformat() for d in days)))))):
        for when, who in ((day, resource_id), ((proposed or {}).get("work_date"), (proposed or {}).get("resource_id"))):
            if when and who:
                held.excused.add((when if isinstance(when, date) else date.fromisoformat(str(when)), f"r{who}"))
    return held


def differing_days(tool: dict[tuple[date, str, str], int], held: Held, people: People,
                   projects: set[str]) -> list[date]:
    """The days whose seconds per person and project differ between the tool and the portal (beyond what
    rounding explains), leaving out the days of undecided changes."""
    theirs: Counter[Bucket] = Counter()
    for (day, user_id, project), seconds in tool.items():
        if project in projects:
            theirs[(day, people.key(user_id), project)] += seconds
    days = set()
    for bucket in theirs.keys() | held.seconds.keys():
        day, person, _ = bucket
        if (day, person) in held.excused:
            continue
        if abs(theirs[bucket] - held.seconds[bucket]) > TOLERANCE * (held.rows[bucket] + 1):
            days.add(day)
    return sorted(days)


def spans(days: list[date]) -> list[Window]:
    """Runs of consecutive days (one query each: a short run costs one page, not one a day)."""
    runs: list[Window] = []
    for day in sorted(days):
        if runs and day == runs[-1][1] + DAY:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs
