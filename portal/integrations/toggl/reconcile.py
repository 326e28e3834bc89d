"""The nightly reconcile within the tool's request quota (issue 13): what the tool holds, compared cheaply with
what the portal holds, so only the days that differ are read in detail.

Toggl's Starter plan allows 240 requests an hour across every tool using the token, and its detailed report
serves 50 rows a page: re-reading 62 days of a busy workspace would spend the whole hour. The nightly instead
(portal/integrations/toggl/sync.py, `Pass._reconcile`):

1. reads the changes since the last nightly, most recently changed first, stopping at what it has seen
   (edits and new entries of any day of the window, descriptions included: about one request);
2. asks for every entry id of the window on the linked projects (the summary report with
   `include_time_entry_ids`, one request): an entry the portal holds that the tool no longer lists was deleted
   there (reports never show deleted entries) or moved off the linked projects, and is removed;
3. asks for the seconds per day × person × project (the weekly report, a request a week: 9 for 62 days) and
   compares them with the portal's own (`Holdings`): the days that differ — time that reached neither the
   webhooks nor the changes read, a project linked since — are read in detail, and only those.

The portal's side counts every entry it knows of the linked projects: imported entries (hours, so each may
differ from the tool's seconds by rounding: TOLERANCE), the time of people not matched yet (waiting), and
entries whose import was refused or failed (their messages keep the entry). Days holding a change the approver
has not accepted (or refused) are left out: they differ on purpose. Days are the person's own (the resource's
time zone): the same as Toggl's when the resource's zone is the person's Toggl zone; otherwise the days of
entries near midnight differ and are re-read, which costs requests but never loses or doubles time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.integrations.models import Connection, PersonLink, WaitingTimeEntry
from portal.runs.models import MessageStatus, SyncMessage
from portal.timesheets.models import ConflictStatus, TimeEntry, TimesheetConflict

# Seconds one imported entry may differ from the tool's by rounding to hundredths of an hour (18 s), and
# what an entry too short to import (under half a minute: skipped) may add to a day.
TOLERANCE = 18
Bucket = tuple[date, str, str]  # (work date, person key, tool project id)


@dataclass
class Holdings:
    """What the portal holds of a connection's linked projects over a window, in the tool's terms."""

    entries: dict[str, tuple[int, date]] = field(default_factory=dict)  # external id -> (time entry id, date)
    waiting: dict[str, date] = field(default_factory=dict)  # external id -> date, people not matched yet
    failed: dict[str, date] = field(default_factory=dict)  # external id -> date, refused or failed imports
    seconds: Counter[Bucket] = field(default_factory=Counter)
    rows: Counter[Bucket] = field(default_factory=Counter)  # imported entries per bucket (each rounds)
    excused: set[tuple[date, str]] = field(default_factory=set)  # (day, person) with an undecided change
    kept: set[str] = field(default_factory=set)  # deleted in the tool, kept by the approver: not removed again


class People:
    """A tool user's key: the resource they are matched to (several tool users may be one person), else
    themselves."""

    def __init__(self, session: Session, connection: Connection):
        self.resources = dict(session.execute(select(PersonLink.external_id, PersonLink.resource_id).where(
            PersonLink.connection_id == connection.id)).all())

    def key(self, user_id: str) -> str:
        resource_id = self.resources.get(str(user_id))
        return f"r{resource_id}" if resource_id is not None else f"u{user_id}"


def holdings(session: Session, connection: Connection, start: date, end: date,
             projects: dict[int, str], people: People) -> Holdings:
    """The portal's side of the window start..end; `projects` maps linked offering ids to tool project ids."""
    held = Holdings()
    for entry_id, external_id, day, resource_id, offering_id, hours in session.execute(
            select(TimeEntry.id, TimeEntry.external_id, TimeEntry.work_date, TimeEntry.resource_id,
                   TimeEntry.offering_id, TimeEntry.hours)
            .where(TimeEntry.connection_id == connection.id, TimeEntry.work_date.between(start, end))):
        held.entries[external_id] = (entry_id, day)
        project = projects.get(offering_id)
        if project is not None:
            bucket = (day, f"r{resource_id}", project)
            held.seconds[bucket] += int(hours * 3600)
            held.rows[bucket] += 1
    for external_id, day, user_id, project, seconds in session.execute(
            select(WaitingTimeEntry.external_id, WaitingTimeEntry.work_date, PersonLink.external_id,
                   WaitingTimeEntry.external_project_id, WaitingTimeEntry.seconds)
            .join(PersonLink, PersonLink.id == WaitingTimeEntry.person_link_id)
            .where(WaitingTimeEntry.connection_id == connection.id, WaitingTimeEntry.work_date.between(start, end))):
        held.waiting[external_id] = day
        held.seconds[(day, people.key(user_id), project)] += seconds
    prefix = f"{connection.kind}:{connection.id}:time_entry:"
    for external_id, payload in session.execute(
            select(SyncMessage.external_id, SyncMessage.payload).where(
                SyncMessage.dedupe_key.like(prefix + "%"), SyncMessage.status == MessageStatus.FAILED,
                SyncMessage.payload.is_not(None))):
        if not payload.get("work_date") or "remove" in payload or external_id in held.entries:
            continue
        day = date.fromisoformat(payload["work_date"])
        if start <= day <= end:
            held.failed[external_id] = day
            held.seconds[(day, people.key(payload.get("user_id")), str(payload.get("project_id") or ""))] += \
                int(payload.get("seconds") or 0)
    for status, action, proposed, day, resource_id, external_id in session.execute(
            select(TimesheetConflict.status, TimesheetConflict.action, TimesheetConflict.proposed,
                   TimeEntry.work_date, TimeEntry.resource_id, TimesheetConflict.external_id)
            .outerjoin(TimeEntry, TimeEntry.id == TimesheetConflict.time_entry_id)
            .where(TimesheetConflict.connection_id == connection.id,
                   TimesheetConflict.status.in_((ConflictStatus.OPEN, ConflictStatus.REJECTED)))):
        if status == ConflictStatus.REJECTED and action == "delete":
            held.kept.add(external_id)
        for when, who in ((day, resource_id), ((proposed or {}).get("work_date"), (proposed or {}).get("resource_id"))):
            if when and who:
                held.excused.add((when if isinstance(when, date) else date.fromisoformat(str(when)), f"r{who}"))
    return held


def differing_days(tool: dict[tuple[date, str, str], int], held: Holdings, people: People,
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


def spans(days: list[date]) -> list[tuple[date, date]]:
    """Runs of consecutive days (one query each: a short run costs one page, not one a day)."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs
