"""Time entries coming in from a timesheet tool, applied to the portal (seed 002 section 6).

One Importer serves one sync run; `apply` takes a batch (a page of the report, webhook events, the waiting
time of people matched now) and the caller commits it with the run's progress. For each entry:

- a running timer is skipped until it stops, and a zero-length entry (or one under half a minute, 0.00 h)
  is skipped: counted as skipped, never a failed message (if the portal had it, it is removed); an entry of
  a project no offering links to is ignored (one note per run names those projects), and if the portal had
  it, it is removed as if deleted;
- the work date is the entry's start in its person's own time zone (the resource's, else the organization's):
  23:30 in Los Angeles on 30 November is 30 November, whatever the organization's zone;
- the person is matched by email; an unmatched person's entry waits (WaitingTimeEntry) for a link;
- the project's stage and options decide (policy.time_entry_refusal: open for time, assigned people only,
  descriptions required — an empty Toggl description on such a project is refused with that reason, so
  the person adds one in Toggl and the next sync brings it); a refused or failed entry is one sync message
  (kept per entry across runs, with attempts and Retry), never a half-written row;
- someone not on the offering's team is added as a passive assignment;
- new entries are inserted in bulk, idempotently on (connection, external id); a copy that is not newer
  than the portal's (the tool's `at`) is left alone, so a webhook and a poll of one change apply it once;
  changes and deletions apply while the timesheet is open and are held as conflicts on approved time.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased, selectinload

from portal import audit, events, formatting
from portal.auth import policy
from portal.columns import utcnow
from portal.errors import InvalidInput
from portal.integrations.connectors import ExternalTimeEntry, TimesheetConnector
from portal.integrations.models import Connection, PersonLink, ProjectLink, WaitingTimeEntry
from portal.integrations.people import People
from portal.integrations.services import sync_actor, tool_label
from portal.org.services import get_settings
from portal.projects.models import Assignment, Offering, Project, Resource
from portal.projects.services import ensure_passive_assignment
from portal.runs.models import MessageStatus, SyncMessage, SyncRun
from portal.sql import among, by_key
from portal.timesheets import conflicts, synced
from portal.timesheets.entries import week_of
from portal.timesheets.models import ConflictStatus, TimeEntry, TimesheetConflict
from portal.timesheets.synced import SyncedValues

# The counts of a time sync run (the progress fragment shows them in words).
COUNTS = ("new", "updated", "deleted", "unchanged", "skipped_running_timers", "skipped_zero_length", "unmatched",
          "refused", "failed", "held_for_approval")
CHUNK = 1000  # ids per IN (...) list (a page of the report)
DAY = timedelta(days=1)
RULES_FOR = 60  # seconds a batch may rely on the offerings' rules read before it


def problem_key(connection: Connection, external_id: str) -> str:
    """The one sync message that follows an entry's trouble (refused, failed) across runs."""
    return f"{connection.kind}:{connection.id}:time_entry:{external_id}"


def _chunks(items: list) -> Iterator[list]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


class Linked(NamedTuple):
    """A project link as the importer needs it."""

    id: int
    offering_id: int
    external_id: str


def _batch_settings(session: Session) -> None:
    """PostgreSQL, for the transaction of one batch:
    - psycopg prepares a statement after five runs, and the server may then keep a generic plan made while
      time_entries was nearly empty (a sequential scan: a second per page once it holds 100,000 rows), so the
      importer's lookups are planned each time instead, on the (pooled) connection of each batch;
    - no JIT compilation: a lookup by a thousand ids is estimated costly enough to be compiled, which takes
      longer than running it;
    - its commit does not wait for the WAL to reach the disk (synchronous_commit off, this transaction only).
      A server crash may then lose the last few batches (at most three WAL-writer delays' worth), but each
      batch carries its own checkpoint and counts, so they are lost together and the resumed or retried run
      reads those pages again; the run's final commit is synchronous and makes every batch before it durable."""
    connection = session.connection()
    driver = connection.connection.driver_connection
    if hasattr(driver, "prepare_threshold"):
        driver.prepare_threshold = None
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF; SET LOCAL jit TO OFF")


def _not_newer(entry: ExternalTimeEntry, stamp: datetime | None) -> bool:
    """Whether the portal already has this version of the entry (or a newer one)."""
    return stamp is not None and entry.updated_at is not None and entry.updated_at <= stamp


class Importer:
    def __init__(self, session: Session, connection: Connection, run: SyncRun,
                 connector: TimesheetConnector | None):
        self.session, self.connection, self.run, self.connector = session, connection, run, connector
        # Plain values: every batch commits, and reading an expired row's column would reload it.
        self.connection_id, self.kind = connection.id, connection.kind
        self.label = tool_label(connection)
        self.actor = sync_actor(connection)
        self.counts: Counter[str] = Counter()
        self.unmatched: dict[int, int] = defaultdict(int)  # person link id -> entries this run
        self.not_linked: dict[str, int] = defaultdict(int)  # tool project id -> entries ignored this run
        self.touched: dict[int, str] = {}  # offering id -> an entry's external id: one budget check per offering
        # A full read by date (watch): the ids read, by the tool's date, of the days not yet reconciled.
        self.seen: dict[date, set[str]] | None = None
        self.missing: dict[str, tuple[str, int]] | None = None  # external id -> ("entry" | "waiting", row id)
        self.began_empty = False  # the full read began with no entries of the connection (watch)
        self.home_zone = ZoneInfo(current_app.config.get("PORTAL_TIMEZONE") or "UTC")
        self._audited = 0  # new entries already in the audit log's summary
        self.straight = True  # new entries COPYed straight in, until a batch meets a concurrent sync's
        self.reload()

    def reload(self) -> None:
        """Read links, people and open problems (again after a rolled-back batch)."""
        session = self.session
        # Plain values, not ORM rows: every page commits, and expired rows would be read back one by one.
        self.links = {external_id: Linked(link_id, offering_id, external_id) for link_id, offering_id, external_id in
                      session.execute(select(ProjectLink.id, ProjectLink.offering_id, ProjectLink.external_id)
                                      .where(ProjectLink.connection_id == self.connection_id))}
        self.people = People(session, self.connection, self.connector)
        self.week_start = get_settings(session).week_start
        self.sheets: dict[tuple[int, date], int] = {}
        self.offerings: dict[int, Offering] | None = None
        self.problems = set(session.scalars(select(SyncMessage.external_id).where(
            SyncMessage.dedupe_key.like(problem_key(self.connection, "") + "%"),
            SyncMessage.status == MessageStatus.FAILED)))
        # A connection's first read (PostgreSQL): it has no entries, so a batch's lookups would find none, and none
        # is sent while batches are COPYed straight in. An entry met again all the same (read earlier in the run,
        # as a nightly's changes and then its days, or inserted by a concurrent sync) makes the unique key refuse
        # the COPY; the batch is rolled back and applied again, and reloading finds entries: lookups from then on.
        self.first_read = session.get_bind().dialect.name == "postgresql" and self._holds_no_entries()
        self.refresh()

    def _holds_no_entries(self) -> bool:
        """Whether the portal has no time entry of this connection (yet)."""
        return self.session.scalar(
            select(TimeEntry.id).where(TimeEntry.connection_id == self.connection_id).limit(1)) is None

    def refresh(self) -> None:
        """Before each batch: the people again (one query; the last batch's commit expired them), and every
        RULES_FOR seconds the offerings with their project, stage and team, so a stage changed during a long
        run is heeded. Those are detached from the session: a commit does not expire them, so the rules are
        read without a query per entry. Whether any time waits for its person is read with them (this run's
        waiting time sets it meanwhile; a project's sync running alongside may add some)."""
        _batch_settings(self.session)
        self.people.refresh()
        self.persons: dict[tuple[str, str], tuple[PersonLink, int]] = {}  # see _person
        if self.offerings is not None and time.monotonic() - self._rules_read < RULES_FOR:
            return
        self.any_waiting = self.session.scalar(select(WaitingTimeEntry.id).where(
            WaitingTimeEntry.connection_id == self.connection_id).limit(1)) is not None
        ids = {link.offering_id for link in self.links.values()}
        offerings = list(self.session.scalars(select(Offering).where(Offering.id.in_(ids)).options(
            selectinload(Offering.project).selectinload(Project.stage))))
        # The team matters to the rules only where the project takes time from assigned people only.
        assigned_only = {o.id for o in offerings if o.project.time_entry_by == "assigned"}
        if assigned_only:
            self.session.scalars(select(Offering).where(Offering.id.in_(assigned_only))
                                 .options(selectinload(Offering.assignments))).all()
        for offering in offerings:
            team = offering.assignments if offering.id in assigned_only else []
            for item in {offering, offering.project, offering.project.stage, *team}:
                if item in self.session:
                    self.session.expunge(item)
        self.offerings = {o.id: o for o in offerings}
        self.project_of = {o.id: o.project_id for o in offerings}
        self.refusals: dict[tuple[int, int, bool], str | None] = {}
        self.rates = {(offering_id, resource_id): rate for offering_id, resource_id, rate in self.session.execute(
            select(Assignment.offering_id, Assignment.resource_id, Assignment.bill_rate)
            .where(Assignment.offering_id.in_(ids)))}
        self.zones = {resource_id: zone_of(name) for resource_id, name in self.session.execute(
            select(Resource.id, Resource.time_zone).where(Resource.time_zone.is_not(None)))}
        self._rules_read = time.monotonic()

    def mark(self) -> tuple:
        """What a batch may change in memory, to rewind to when its transaction rolls back."""
        seen = None if self.seen is None else {day: set(ids) for day, ids in self.seen.items()}
        missing = None if self.missing is None else dict(self.missing)
        return Counter(self.counts), dict(self.unmatched), dict(self.not_linked), dict(self.touched), seen, missing

    def rewind(self, mark: tuple) -> None:
        """Back to `mark`, and everything read from the database read again (the rollback undid the batch)."""
        counts, unmatched, not_linked, touched, self.seen, self.missing = mark
        self.counts, self.touched = counts, touched
        self.unmatched, self.not_linked = defaultdict(int, unmatched), defaultdict(int, not_linked)
        self.reload()

    # A batch ---------------------------------------------------------------------------------------
    def apply(self, entries: Iterable[ExternalTimeEntry]) -> Counter[str]:
        """Apply a batch; returns its counts (the caller adds them to the run's)."""
        self.refresh()
        before = Counter(self.counts)
        latest: dict[str, ExternalTimeEntry] = {}
        for entry in entries:  # one change per entry: the newest copy in the batch
            kept = latest.get(entry.id)
            if kept is None or not _not_newer(entry, kept.updated_at):
                latest[entry.id] = entry
        if self.seen is not None:
            for entry in latest.values():
                self.seen.setdefault(entry.work_date, set()).add(entry.id)
                self.missing.pop(entry.id, None)  # moved in the tool to a day read after its own
        existing = {} if self.first_read else self._existing(list(latest))
        waiting = self._waiting(list(latest))
        creations: list[tuple[str, SyncedValues]] = []
        for entry in latest.values():
            entry_id, stamp = existing.get(entry.id, (None, None))
            if entry.running:
                self.counts["skipped_running_timers"] += 1
            elif not entry.deleted and synced.hours_of(entry.seconds) <= 0:
                self.counts["skipped_zero_length"] += 1
                if entry_id is not None or entry.id in waiting:  # shortened to nothing in the tool
                    self._gone(entry, entry_id, stamp, waiting, why=f"shortened in {self.label} to no time")
                else:
                    self._resolved(entry.id, "zero length: skipped")
            elif entry.deleted or self.links.get(entry.project_id or "") is None:
                self._gone(entry, entry_id, stamp, waiting)
            elif entry_id is not None and _not_newer(entry, stamp):
                self.counts["unchanged"] += 1
            elif (values := self._values(entry, entry_id, waiting)) is None:
                continue
            elif entry_id is None:
                creations.append((entry.id, values))
            else:
                self._change(entry.id, entry_id, values)
        self._create(creations)
        return self.counts - before

    def _existing(self, ids: list[str]) -> dict[str, tuple[int, datetime | None]]:
        found = {}
        for chunk in _chunks(ids):
            found.update((external_id, (entry_id, stamp)) for entry_id, external_id, stamp in self.session.execute(
                by_key(self.session, [TimeEntry.id, TimeEntry.external_id, TimeEntry.external_updated_at],
                       TimeEntry.external_id, chunk, {TimeEntry.connection_id: self.connection_id})))
        return found

    def _waiting(self, ids: list[str]) -> dict[str, WaitingTimeEntry]:
        found: dict[str, WaitingTimeEntry] = {}
        if not self.any_waiting:
            return found
        for chunk in _chunks(ids):
            found.update((w.external_id, w) for w in self.session.scalars(
                select(WaitingTimeEntry).where(WaitingTimeEntry.connection_id == self.connection_id,
                                               among(WaitingTimeEntry.external_id, chunk))))
        return found

    def _values(self, entry: ExternalTimeEntry, entry_id: int | None,
                waiting: dict[str, WaitingTimeEntry]) -> SyncedValues | None:
        """The entry in the portal's terms; None when it waits for its person, is refused or fails."""
        link = self.links[entry.project_id]
        person, resource_id = self._person(entry)
        if resource_id is None:
            if entry_id is None:
                self._wait(entry, person, link, waiting.get(entry.id))
            else:  # came in before the person's mapping was cleared, on approved time: it stays
                self.counts["unchanged"] += 1
            return None
        if entry.id in waiting:
            self.session.delete(waiting.pop(entry.id))
        offering_id = link.offering_id
        hours = synced.hours_of(entry.seconds)
        trouble = synced.hours_problem(hours)
        if trouble:
            self._problem(entry.id, f"Not imported: {trouble}. Check: is the time entry completed and correct in "
                                    f"{self.label}? Fix it there and the next sync brings it.", "failed", entry)
            return None
        description = entry.description.strip()
        key = (offering_id, resource_id, bool(description))
        refusal = self.refusals[key] if key in self.refusals else self._refusal(key, person, description)
        if refusal:
            self._problem(entry.id, f"Refused: {refusal}", "refused", entry)
            return None
        return SyncedValues(resource_id=resource_id, offering_id=offering_id,
                            project_id=self.project_of[offering_id], work_date=self.work_date(entry, resource_id),
                            hours=hours, billable=entry.billable, description=description,
                            external_url=self.connector.time_entry_url(entry) if self.connector else "",
                            external_updated_at=entry.updated_at)

    def _person(self, entry: ExternalTimeEntry) -> tuple[PersonLink, int | None]:
        """The entry's person and their resource. A matched person met under the same email is remembered for
        the batch: their link cannot change within it, and its columns are read once, not per entry."""
        key = (entry.user_id, entry.user_email)
        known = self.persons.get(key)
        if known is None:
            person = self.people.resolve(entry)
            known = (person, person.resource_id)
            if known[1] is not None:
                self.persons[key] = known
        return known

    def work_date(self, entry: ExternalTimeEntry, resource_id: int | None) -> date:
        """The entry's start in the person's own time zone (the resource's, else the organization's); the
        date as it came when the tool gave no start."""
        if entry.started_at is None:
            return entry.work_date
        return entry.started_at.astimezone(self.zones.get(resource_id) or self.home_zone).date()

    def _refusal(self, key: tuple[int, int, bool], person: PersonLink, description: str) -> str | None:
        """policy.time_entry_refusal for `key` (offering, resource, whether described), asked once while the
        rules read are current: its answer depends on nothing else. Someone allowed but not on the offering's
        team is added to it first (a refusal to add them is the answer)."""
        offering_id, resource_id, _ = key
        offering = self.offerings[offering_id]
        refusal = policy.time_entry_refusal(offering.project, offering, resource_id, description=description)
        if refusal is None and (offering_id, resource_id) not in self.rates:
            refusal = self._passive(offering, person)
        self.refusals[key] = refusal
        return refusal

    def _passive(self, offering: Offering, person: PersonLink) -> str | None:
        """Seed 002: someone who logs time on an offering they are not on is added as a passive assignment."""
        try:
            ensure_passive_assignment(self.session, self.actor, offering.id, person.resource_id)
        except InvalidInput:
            return (f"{person.resource.name} is not an active resource, so they cannot be added to {offering.name}. "
                    f"Reactivate the resource, or link the {self.label} user to another one.")
        self.rates[(offering.id, person.resource_id)] = None
        return None

    def _wait(self, entry: ExternalTimeEntry, person: PersonLink, link: Linked,
              waiting: WaitingTimeEntry | None) -> None:
        self.counts["unmatched"] += 1
        self.unmatched[person.id] += 1
        values = dict(person_link_id=person.id, project_link_id=link.id, external_project_id=link.external_id,
                      work_date=self.work_date(entry, None), seconds=entry.seconds, billable=entry.billable,
                      description=entry.description, external_updated_at=entry.updated_at,
                      started_at=entry.started_at)
        if waiting is not None:
            for key, value in values.items():
                setattr(waiting, key, value)
            return
        self.any_waiting = True
        insert = postgresql.insert if self.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        self.session.execute(insert(WaitingTimeEntry).values(
            connection_id=self.connection_id, external_id=entry.id, created_at=utcnow(), **values,
        ).on_conflict_do_update(index_elements=["connection_id", "external_id"], set_=values))

    def _gone(self, entry: ExternalTimeEntry, entry_id: int | None, stamp: datetime | None,
              waiting: dict[str, WaitingTimeEntry], why: str = "") -> None:
        """Deleted in the tool, on a project no offering links to (now, or from the start), or `why`."""
        if entry.id in waiting:
            self.session.delete(waiting.pop(entry.id))
        if entry_id is None:
            if not entry.deleted and not why:
                self.not_linked[entry.project_id or ""] += 1
            self._resolved(entry.id, "deleted in the tool" if entry.deleted else why or "not on a linked project")
        elif not _not_newer(entry, stamp):
            self.remove(entry_id, why or (f"deleted in {self.label}" if entry.deleted
                                          else f"moved in {self.label} to a project no offering links to"))

    # Changing what the portal has ------------------------------------------------------------------
    def remove(self, entry_id: int, why: str) -> None:
        """Take an entry out (held as a conflict on approved time; refused on a project closed for time)."""
        entry = self.session.get(TimeEntry, entry_id, with_for_update=True, populate_existing=True)
        if entry is None:
            return
        refusal = policy.time_entry_refusal(entry.project)
        if refusal:
            self._problem(entry.external_id, f"Not removed though {why}: {refusal}", "refused",
                          removal={"id": entry.external_id, "remove": why})
            return
        self._applied(entry.external_id, self._apply_change(entry.external_id, entry, None, why=why), why)

    def remove_by_external_id(self, external_id: str, why: str) -> None:
        entry_id = self.session.scalar(select(TimeEntry.id).where(TimeEntry.connection_id == self.connection_id,
                                                                  TimeEntry.external_id == external_id))
        if entry_id is not None:
            self.remove(entry_id, why)

    def _change(self, external_id: str, entry_id: int, values: SyncedValues) -> None:
        current = self.session.get(TimeEntry, entry_id, with_for_update=True, populate_existing=True)
        if current is None:  # removed meanwhile (another sync; its offering deleted)
            return
        applied = self._apply_change(external_id, current, values)
        if applied.outcome == "updated":
            self.touched.setdefault(values.offering_id, external_id)
        self._applied(external_id, applied, "imported")

    def _apply_change(self, external_id: str, entry: TimeEntry | None, values: SyncedValues | None,
                      rate=None, why: str = "") -> conflicts.Applied:
        return conflicts.apply_change(self.session, self.actor, connection_id=self.connection_id,
                                      source=self.kind, external_id=external_id, entry=entry,
                                      values=values, bill_rate=rate, why=why)

    def _applied(self, external_id: str, applied: conflicts.Applied, resolved: str) -> None:
        """Count and log what became of one change (conflicts.apply_change)."""
        if applied.outcome in ("unchanged", "kept"):
            self.counts["unchanged"] += 1
            return
        if applied.outcome == "held":
            self.counts["held_for_approval"] += 1
            self.note(external_id, applied.text, applied.conflict.action)
            return
        self.counts[applied.outcome] += 1
        self.note(external_id, applied.text, "delete" if applied.outcome == "deleted" else "update")
        self._resolved(external_id, resolved)

    def _create(self, creations: list[tuple[str, SyncedValues]]) -> None:
        if not creations:
            return
        weeks = [(values.resource_id, week_of(values.work_date, self.week_start)[0]) for _, values in creations]
        missing = set(weeks) - self.sheets.keys()
        if missing:
            self.sheets.update(synced.ensure_timesheets(self.session, missing))
        sheet_ids = [self.sheets[week] for week in weeks]
        statuses = synced.lock_timesheets(self.session, set(sheet_ids))
        rows = []
        for (external_id, values), sheet_id in zip(creations, sheet_ids, strict=True):
            rate = self.rates.get((values.offering_id, values.resource_id))
            if synced.is_held(statuses[sheet_id]):  # held for the approver
                self._applied(external_id, self._apply_change(external_id, None, values, rate), "imported")
            else:
                rows.append((external_id, values, sheet_id, rate))
        inserted = synced.insert_entries(self.session, self.connection_id, self.kind, rows, straight=self.straight)
        self.counts["new"] += len(inserted)
        self.counts["unchanged"] += len(rows) - len(inserted)  # a concurrent sync inserted them first
        for external_id, values, _, _ in rows:
            if external_id in inserted:
                self.touched.setdefault(values.offering_id, external_id)
                self._resolved(external_id, "imported")

    # Messages ---------------------------------------------------------------------------------------
    def note(self, external_id: str | None, reason: str, action: str, *, entity: str = "time_entry",
             status: str = MessageStatus.PROCESSED) -> None:
        """A line of this run's log (an update, a removal, a held change, a summary)."""
        self.session.add(SyncMessage(connection_id=self.connection_id, run_id=self.run.id, direction="inbound",
                                     entity=entity, external_id=external_id, action=action, status=status,
                                     reason=reason[:2000], attempts=1, processed_at=utcnow()))

    def _problem(self, external_id: str, reason: str, count: str, entry: ExternalTimeEntry | None = None,
                 removal: dict | None = None) -> None:
        """One failed message per entry in trouble, moved to the latest run that met it; its payload (the
        entry, or the removal) lets Retry apply it again without asking the tool."""
        self.counts[count] += 1
        key = problem_key(self.connection, external_id)
        message = self.session.scalar(select(SyncMessage).where(SyncMessage.dedupe_key == key))
        payload = entry_payload(entry) if entry is not None else removal
        if message is None:
            self.session.add(SyncMessage(connection_id=self.connection_id, run_id=self.run.id, direction="inbound",
                                         entity="time_entry", external_id=external_id, dedupe_key=key,
                                         action=count, payload=payload, status=MessageStatus.FAILED,
                                         reason=reason[:2000], attempts=1))
        else:
            message.run_id, message.action, message.status, message.reason = self.run.id, count, \
                MessageStatus.FAILED, reason[:2000]
            message.payload = payload or message.payload
            message.attempts += 1
        self.problems.add(external_id)

    def _resolved(self, external_id: str, outcome: str) -> None:
        if external_id not in self.problems:
            return
        self.problems.discard(external_id)
        message = self.session.scalar(select(SyncMessage).where(
            SyncMessage.dedupe_key == problem_key(self.connection, external_id)))
        if message is not None and message.status == MessageStatus.FAILED:
            message.status, message.processed_at = MessageStatus.PROCESSED, utcnow()
            message.reason = f"{message.reason} — resolved: {outcome}"[:2000]

    # Deletions nobody told us about, and waiting time ------------------------------------------------
    def watch(self) -> None:
        """From now on keep the ids read, by date, for `reconcile` (a full read in date order). What anyone
        changes through the portal meanwhile (a webhook, an approver accepting a held change) is stamped later
        than now, and closing a day leaves it out: it is judged by the next full read. The portal's clock, as
        those stamps are: were it the database's, a portal clock behind it would stamp such a change "before the
        read" and it would be removed as missing. The read's own bulk inserts carry the database's now(); a skew
        there only reads some of them back, and they were read, so none is missing. A read that begins with no
        entries of the connection (its first) finds in each day only what it wrote itself: none is read back."""
        self.seen, self.missing = {}, {}
        self.read_since = utcnow()
        self.began_empty = self._holds_no_entries()

    def close_days(self, start: date, end: date) -> None:
        """Days start..end are read (and the day either side: a work date may differ by a day from the tool's):
        their entries and waiting time not read are noted as missing, and the ids read before `end` dropped, so
        memory holds a few days of ids, not the window. A missing entry read later (moved in the tool to a
        later day) is spared; `reconcile` removes the rest once the whole window is read."""
        seen = self.seen or {}

        def read(external_id: str, day: date) -> bool:
            return any(external_id in seen.get(near, ()) for near in (day - DAY, day, day + DAY))

        kept = select(TimesheetConflict.time_entry_id).where(  # deletions the approver rejected
            TimesheetConflict.connection_id == self.connection_id, TimesheetConflict.action == "delete",
            TimesheetConflict.status == ConflictStatus.REJECTED, TimesheetConflict.time_entry_id.is_not(None))
        rows = [] if self.began_empty else self.session.execute(
            select(TimeEntry.id, TimeEntry.external_id, TimeEntry.work_date).where(
                TimeEntry.connection_id == self.connection_id, TimeEntry.work_date.between(start, end),
                TimeEntry.updated_at < self.read_since, TimeEntry.id.not_in(kept))).all()
        waiting = self.session.execute(select(WaitingTimeEntry.id, WaitingTimeEntry.external_id,
                                              WaitingTimeEntry.work_date).where(
            WaitingTimeEntry.connection_id == self.connection_id, WaitingTimeEntry.work_date.between(start, end))).all()
        self.missing.update((external_id, ("entry", row_id)) for row_id, external_id, day in rows
                            if not read(external_id, day))
        self.missing.update((external_id, ("waiting", row_id)) for row_id, external_id, day in waiting
                            if not read(external_id, day))
        for day in [day for day in seen if day < end]:
            del seen[day]

    def reconcile(self, start: date, end: date) -> None:
        """After a full read: entries the tool no longer has (dated up to `end`, from the days closed before and
        start..end) are removed, or held on approved time; waiting time the tool no longer has goes."""
        self.close_days(start, end)
        for kind, row_id in sorted(self.missing.values()):
            if kind == "entry":
                self.remove(row_id, f"no longer in {self.label} (deleted there, or moved outside the synced days)")
            elif (waiting := self.session.get(WaitingTimeEntry, row_id)) is not None:
                self.session.delete(waiting)
        self.seen = self.missing = None

    def forget(self, waiting: list[str], failed: list[str]) -> None:
        """Entries the tool no longer has that never became time entries: waiting ones go, failed ones are
        resolved (nothing is left to retry)."""
        for chunk in _chunks(waiting):
            for row in self.session.scalars(select(WaitingTimeEntry).where(
                    WaitingTimeEntry.connection_id == self.connection_id, WaitingTimeEntry.external_id.in_(chunk))):
                self.session.delete(row)
        for external_id in failed:
            self.problems.add(external_id)
            self._resolved(external_id, f"no longer in {self.label}")

    def check_links(self) -> None:
        """Seed 002, "Connection was working, now it's not": linked projects deleted in the tool."""
        if not self.links or self.connector is None:
            return
        present = {project.id for project in self.connector.list_projects(include_archived=True)}
        for link in self.links.values():
            if link.external_id not in present:
                offering = self.offerings.get(link.offering_id)
                where = f"{offering.name} ({offering.project.name})" if offering else "an offering"
                self.note(link.external_id, f"The {self.label} project #{link.external_id} linked to {where} no "
                          f"longer exists in the workspace. Check: was the {self.label} project deleted? Disconnect "
                          "the offering and provision or connect it again.", "check", entity="project",
                          status=MessageStatus.FAILED)

    def check_doubles(self, start: date, end: date) -> None:
        """Seed 002, "Duplicate time entries appearing": the same time entered in the portal too."""
        tool, native = aliased(TimeEntry), aliased(TimeEntry)
        rows = self.session.execute(
            select(native.resource_id, native.work_date, native.hours).join(tool, and_(
                tool.resource_id == native.resource_id, tool.work_date == native.work_date,
                tool.offering_id == native.offering_id, tool.hours == native.hours))
            .where(tool.connection_id == self.connection_id, native.connection_id.is_(None),
                   native.work_date.between(start, end)).order_by(native.work_date)).all()
        if rows:
            resource_id, day, hours = rows[0]
            who = self.session.get(Resource, resource_id).name
            example = f"{who}, {formatting.hours(hours)} h on {day:%d %b %Y}"
            entries = formatting.plural(len(rows), "entry", "entries")
            self.note(None, f"{entries} typed into the portal match {self.label} time exactly (same "
                      f"person, day, offering and hours), e.g. {example}. Check: was the time entered in both systems? "
                      f"Delete the portal's copy and keep the {self.label} one; "
                      f"remind the team to use {self.label} only.", "check", entity="time_entry")

    def waiting_of_matched(self) -> list[ExternalTimeEntry]:
        """The waiting entries whose person is matched now (linked, or an email fixed): the backfill."""
        for link in list(self.session.scalars(select(PersonLink).where(
                PersonLink.connection_id == self.connection_id, PersonLink.resource_id.is_(None),
                PersonLink.id.in_(select(WaitingTimeEntry.person_link_id))))):
            self.people.match(link)
        rows = self.session.execute(select(WaitingTimeEntry, PersonLink).join(PersonLink).where(
            WaitingTimeEntry.connection_id == self.connection_id, PersonLink.resource_id.is_not(None))).all()
        return [ExternalTimeEntry(id=w.external_id, user_id=person.external_id, project_id=w.external_project_id,
                                  work_date=w.work_date, seconds=w.seconds, billable=w.billable,
                                  description=w.description, updated_at=w.external_updated_at,
                                  user_email=person.external_email, started_at=w.started_at) for w, person in rows]

    # The run's summary --------------------------------------------------------------------------------
    def finish(self) -> None:
        """Budget checks once per offering touched, the audit of what was imported in bulk (changes and
        removals are audited one by one), and the run's notes naming the checks to make."""
        if self.counts["new"] > self._audited:
            audit.record(self.session, self.actor, "time_sync.imported", self.connection,
                         after={"run_id": self.run.id, "new": self.counts["new"] - self._audited},
                         summary=f"Sync run {self.run.id} imported {self.counts['new'] - self._audited} new "
                                 f"{self.label} time entries")
            self._audited = self.counts["new"]
        for chunk in _chunks(sorted(self.touched.values())):
            for entry in self.session.scalars(select(TimeEntry).where(
                    TimeEntry.connection_id == self.connection_id, among(TimeEntry.external_id, chunk))
                    .order_by(TimeEntry.id)):
                events.time_entry_changed.send(entry, session=self.session, actor=self.actor, changes={})
        self.touched.clear()
        label = self.label
        for person_id, count in self.unmatched.items():
            person = self.session.get(PersonLink, person_id)
            who = f"{person.external_name or 'A ' + label + ' user'} ({person.external_email or 'no email known'}, " \
                  f"{label} user {person.external_id})"
            entries = formatting.plural(count, "entry", "entries")
            self.note(person.external_id, f"{entries} of {who} wait: no resource has this email. Check: is "
                      f"the email identical in both systems, and is the member active in {label}? Fix the email (then "
                      "Match again), or link them under Unmatched people; their waiting time is then imported.",
                      "wait", entity="person")
        if self.not_linked:
            projects = ", ".join(f"#{pid or 'none'}: {n}" for pid, n in sorted(
                self.not_linked.items(), key=lambda item: -item[1])[:5])
            total = sum(self.not_linked.values())
            entries = formatting.plural(total, "entry", "entries")
            on_projects = formatting.plural(len(self.not_linked), f"{label} project")
            self.note(None, f"{entries} on {on_projects} that no offering links to {'was' if total == 1 else 'were'} "
                      f"ignored ({projects}). Check: is the Project Offering connected to {label} (the project's "
                      f"Integrations tab), and is the time logged to the right {label} project?", "ignore",
                      entity="project")
        if self.counts["skipped_running_timers"]:
            self.note(None, f"{self.counts['skipped_running_timers']} running timers were skipped. Check: is the "
                      "time entry completed? They sync once stopped.", "skip")
        if self.counts["skipped_zero_length"]:
            self.note(None, f"{self.counts['skipped_zero_length']} entries with no time (zero length, or under half "
                      "a minute) were skipped: there are no hours to log.", "skip")
        self.unmatched.clear()
        self.not_linked.clear()


def entry_payload(entry: ExternalTimeEntry) -> dict:
    """What a problem message keeps of an entry, so Retry can apply it again without asking the tool."""
    return {"id": entry.id, "user_id": entry.user_id, "project_id": entry.project_id,
            "work_date": entry.work_date.isoformat(), "seconds": entry.seconds, "billable": entry.billable,
            "description": entry.description, "updated_at": entry.updated_at.isoformat() if entry.updated_at else None,
            "user_email": entry.user_email, "user_name": entry.user_name,
            "started_at": entry.started_at.isoformat() if entry.started_at else None}


def entry_from_payload(payload: dict) -> ExternalTimeEntry:
    return ExternalTimeEntry(
        id=payload["id"], user_id=payload["user_id"], project_id=payload.get("project_id"),
        work_date=date.fromisoformat(payload["work_date"]), seconds=int(payload["seconds"]),
        billable=bool(payload["billable"]), description=payload.get("description") or "",
        updated_at=datetime.fromisoformat(payload["updated_at"]) if payload.get("updated_at") else None,
        user_email=payload.get("user_email") or "", user_name=payload.get("user_name") or "",
        started_at=datetime.fromisoformat(payload["started_at"]) if payload.get("started_at") else None)


def zone_of(name: str | None) -> ZoneInfo | None:
    """A stored IANA zone name as a zone (None when unknown: the organization's applies)."""
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None
