"""Executing a time sync run: read the tool, apply what it says, and say what happened.

Team time is read from one query stream per workspace (the tool's report of everyone's entries), never one
per project, so an hourly sync costs about one request plus one per page of changes however many projects
are linked. Pages are applied in batches of TIME_SYNC_BATCH entries, each committed with the run's progress and
a checkpoint (only as far as what is written), so a run whose worker dies is resumed by the sweeper from its
last batch, not from the start. Before the request budget
runs out (the tool's quota headers) the run pauses — "waiting for the quota to reset at …" — and is put
back in the queue for then, keeping its checkpoint; it never fails for the quota.

The passes (time_runs explains when each runs): recent, full, project, and drain (webhook events, then the
waiting time of people who are matched now), which ends every connection-level pass. A full pass reads the
whole look-back only the first time (then reconciliation: entries of fully read days that the tool no longer
has are removed, or held on approved time); after that it reconciles within the quota (reconcile.py): the
changes since the last one, then a week at a time the entry ids and the daily totals, then only the days
that differ. Each run records the requests it spent and the quota the tool last reported (on the connection), so
the settings page and the sync log show them; a token the tool no longer accepts marks the connection as
needing a new one (connection.token_refused) and syncs stop until it is validated again.
"""

from __future__ import annotations

import json
import logging
import queue as queue_module
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from portal import audit, queue
from portal.auth import policy
from portal.auth.models import User
from portal.columns import today, utcnow
from portal.errors import Conflict, NotFound, PortalError
from portal.integrations import connectors
from portal.integrations.connectors import ExternalTimeEntry, TimeEntryPage, TimesheetConnector
from portal.integrations.http import AuthenticationFailed, RateLimited
from portal.integrations.models import Connection, ProjectLink
from portal.integrations.registry import connector_for
from portal.integrations.services import require_connected
from portal.integrations.toggl import reconcile, time_runs
from portal.integrations.toggl.inbound import COUNTS, Importer, entry_from_payload
from portal.runs import services as runs
from portal.runs.models import MessageStatus, SyncMessage, SyncRun
from portal.timesheets import synced

log = logging.getLogger(__name__)

BATCH = 1000  # entries per transaction: stored entries (waiting time, webhook events); pages read: TIME_SYNC_BATCH
# The newest change each reading has seen (the tool's `at`): the hourly's recent days, the nightly's window.
HOURLY_MARK, NIGHTLY_MARK = "time_watermark", "nightly_watermark"
CLOCK_MARGIN = timedelta(minutes=5)
ATTEMPTS = 3  # a batch that deadlocks with a concurrent sync is applied again this many times


def run_time_sync(session: Session, run_id: int) -> SyncRun | None:
    return runs.execute(session, run_id, _sync)


def _sync(session: Session, run: SyncRun) -> str:
    connection = require_connected(session, run.connection_id, connectors.TIME_ENTRIES)
    connector = connector_for(connection)
    work = Pass(session, run, connection, connector)
    try:
        runs.report(session, run, add={key: 0 for key in COUNTS}, text="Reading time from " + work.importer.label)
        mode = run.params.get("mode") or time_runs.DRAIN
        while mode:
            work.execute(mode)
            again = runs.take_again(session, run)
            mode = again if again in time_runs.RANK else (time_runs.DRAIN if again else None)
    except (PortalError, runs.Pause) as stop:
        session.rollback()  # the batch in flight; the pages committed before it stay
        if isinstance(stop, RateLimited):  # the quota ran out outside the paged reads: wait for it too
            stop = runs.Pause(stop.resets_at, work._waiting_text(stop.resets_at))
        # "Connection was working, now it's not" (seed 002): the failed run marks the connection as needing a new
        # token, as any run does that meets the refusal (credentials.py receives events.sync_run_failed).
        if isinstance(stop, AuthenticationFailed) and not stop.details.get("token_refused"):
            stop = AuthenticationFailed(
                f"{stop.message} Check: was the {work.importer.label} API token regenerated, or the connected "
                "user removed from the workspace?", service=work.importer.label, status_code=stop.status_code,
                token_refused=True)
        # What was imported before the run stopped or paused still gets its budget checks and notes.
        work.importer.finish()
        note_usage(session, run.id, connection.id, connector)
        raise stop from None
    finally:
        connector.close()
    work.importer.finish()
    note_usage(session, run.id, connection.id, connector)
    return outcome(session.get(SyncRun, run.id).counts or {})


def note_usage(session: Session, run_id: int, connection_id: int, connector: TimesheetConnector) -> None:
    """Add the requests the run sent to its count (a paused run adds each leg's), and keep the quota the tool
    last reported on the connection (Connection.settings["quota"]): the pages and /metrics read it."""
    run = session.get(SyncRun, run_id)
    run.requests = (run.requests or 0) + connector.requests_sent()
    quota = connector.quota()
    if quota is not None:
        connection = session.get(Connection, connection_id)
        connection.settings = {**(connection.settings or {}), "quota": quota.stored()}
    session.commit()


def outcome(counts: dict[str, int]) -> str:
    said = [f"{counts.get(key, 0)} {key.replace('_', ' ')}" for key in COUNTS if counts.get(key)]
    return "Finished: " + (", ".join(said) if said else "nothing new")


class Pass:
    """Reads and applies for one run; `execute(mode)` does one pass."""

    def __init__(self, session: Session, run: SyncRun, connection: Connection, connector: TimesheetConnector):
        self.session, self.run, self.connection, self.connector = session, run, connection, connector
        self.importer = Importer(session, connection, run, connector)
        config = current_app.config
        self.recent_days = int(config.get("TIME_SYNC_RECENT_DAYS", 3))
        self.lookback_days = int(config.get("TIME_SYNC_LOOKBACK_DAYS", 62))
        self.reserve = int(config.get("SYNC_QUOTA_RESERVE", 3))

    def execute(self, mode: str) -> None:
        if not self.importer.links:  # nothing to read time for: spare the quota
            runs.report(self.session, self.run, text=f"No offering is linked to a {self.importer.label} project")
        elif mode == time_runs.RECENT:
            self._recent()
        elif mode == time_runs.FULL and self._cheap():
            self._reconcile()
        elif mode == time_runs.FULL:
            self._by_date(mode)
        elif mode == time_runs.PROJECT:
            self._project()
        if mode != time_runs.PROJECT:
            self.drain()

    def _cheap(self) -> bool:
        """Whether the nightly may reconcile within the quota: the tool gives ids and totals, a first full
        read set the nightly's watermark, and no full read is half done."""
        checkpoint = self.run.checkpoint or {}
        resuming = checkpoint.get("mode") == time_runs.FULL and checkpoint.get("resume_from")
        return (self.connector.supports(connectors.TOTALS) and bool(self.connection.settings.get(NIGHTLY_MARK))
                and not resuming)

    # Reading ------------------------------------------------------------------------------------------
    def _recent(self) -> None:
        """Changes of the last few days, newest first, until a page reaches what an earlier pass saw."""
        end = today()
        self._changes(end - timedelta(days=self.recent_days), end, HOURLY_MARK)

    def _changes(self, start: date, end: date, mark: str) -> None:
        """The entries dated start..end changed since the watermark `mark`; the watermark then moves to the
        newest change read."""
        self._watermark(self._changed_since(start, end, _instant(self.connection.settings.get(mark))), mark)

    def _changed_since(self, start: date, end: date, seen_up_to: datetime | None,
                       project_ids: list[str] | None = None) -> datetime | None:
        """Apply the entries dated start..end (of `project_ids`' projects, else all) changed since `seen_up_to`,
        most recently changed first: one request, plus one a page of changes. The newest change read."""
        newest = seen_up_to

        def unseen() -> Iterator[TimeEntryPage]:  # pages until one reaches what an earlier pass saw
            for page in self._pages(start, end, ahead=0, newest_first=True, project_ids=project_ids):
                yield page
                stamps = [e.updated_at for e in page.entries if e.updated_at]
                if seen_up_to is not None and stamps and min(stamps) <= seen_up_to:
                    return

        done = 0
        for entries in batches(unseen(), self._batch()):
            done += len(entries)
            newest = max([s for s in (newest, *(e.updated_at for e in entries)) if s], default=None)
            self._apply(entries, done=done, text=f"Read {done} recently changed entries")
        return newest

    def _reconcile(self) -> None:
        """The nightly within the quota (reconcile.py): changes since the last one, then a week at a time every
        id (removals) and the daily totals, then only the differing days in detail. Resumes at its next week to
        compare, or at its next span of days to read."""
        checkpoint = self.run.checkpoint or {}
        phase = checkpoint.get("phase") if checkpoint.get("mode") == time_runs.FULL else None
        resuming = phase in ("compare", "days")
        if resuming:
            start, end = (date.fromisoformat(d) for d in checkpoint["window"])
        else:
            end = today()
            start = end - timedelta(days=self.lookback_days)
        compared = 1 + len(reconcile.weeks(start, end))  # the steps before the differing days: changes, weeks
        if not resuming:
            runs.report(self.session, self.run, done=0, total=compared,
                        text=f"Reading the {self.importer.label} changes since the last nightly sync")
            self._changes(start, end, NIGHTLY_MARK)
        if phase == "days":
            todo = [tuple(date.fromisoformat(d) for d in span) for span in checkpoint["spans"]]
        else:
            todo = self._compare(start, end)
        projects = sorted({link.external_id for link in self.importer.links.values()})
        total = compared + len(todo)
        for number, (first, last) in enumerate(list(todo), start=compared):
            runs.report(self.session, self.run, done=number, total=total, checkpoint={
                "mode": time_runs.FULL, "phase": "days", "window": [start.isoformat(), end.isoformat()],
                "spans": [[a.isoformat(), b.isoformat()] for a, b in todo], "compared_to": None, "differing": None},
                text=f"Reading {first:%d %b}" + (f" – {last:%d %b}" if last != first else "") +
                     f": it differs from {self.importer.label}")
            for entries in batches(self._pages(first, last, self._ahead(), project_ids=projects), self._batch()):
                self._apply(entries)
            todo = todo[1:]
        before = Counter(self.importer.counts)
        self.importer.check_links()
        self.importer.check_doubles(start, end)
        runs.report(self.session, self.run, add=dict(self.importer.counts - before), done=total, total=total,
                    checkpoint={"mode": None, "phase": None, "spans": None, "window": None, "compared_to": None,
                                "differing": None})

    def _compare(self, start: date, end: date) -> list[tuple[date, date]]:
        """A week at a time (so the worker holds a week's ids and totals, however many entries the window has):
        remove what the tool no longer lists, then compare the daily totals. The spans of days that differ."""
        projects = {link.offering_id: link.external_id for link in self.importer.links.values()}
        linked = sorted(set(projects.values()))
        people = reconcile.People(self.session, self.connection)
        checkpoint = self.run.checkpoint or {}
        resuming = checkpoint.get("mode") == time_runs.FULL and checkpoint.get("phase") == "compare"
        done = date.fromisoformat(checkpoint["compared_to"]) if resuming else None
        differing = [date.fromisoformat(d) for d in checkpoint.get("differing") or []] if resuming else []
        window, label = (start, end), self.importer.label
        every = reconcile.weeks(start, end)
        for number, (first, last) in enumerate(every, start=2):  # step 1: the changes read
            if done is not None and last <= done:
                continue
            # An entry is judged against the ids of its day and the day either side (its date in the tool may
            # differ by one: time zones), so the window's first and last days are not judged.
            # Two requests a week (ids, totals), paused for together: the ids are not asked for twice.
            ids = self._ask(lambda a=first, b=last: self.connector.entry_ids(max(start, a - reconcile.DAY),
                                                                              min(end, b + reconcile.DAY), linked),
                            needs=2)
            if ids is None:  # the tool did not list them: read everything, as the first nightly did
                return [(start, end)]
            days = (max(first, start + reconcile.DAY), min(last, end - reconcile.DAY))
            before = Counter(self.importer.counts)
            gone = reconcile.unlisted(self.session, self.connection, ids, days, window)
            del ids  # not kept while the week's totals are read
            for entry_id in gone.entries:
                self.importer.remove(entry_id, f"no longer in {label} (deleted there, moved to a project no "
                                               "offering links to, or outside the synced days)")
            self.importer.forget(gone.waiting, gone.failed)
            runs.report(self.session, self.run, add=dict(self.importer.counts - before),
                        text=f"Comparing {first:%d %b} – {last:%d %b} with {label}")
            totals = self._ask(lambda a=first, b=last: self.connector.daily_totals(a, b, linked))
            held = reconcile.held_seconds(self.session, self.connection, (first, last), window, projects, people)
            differing += reconcile.differing_days(totals, held, people, set(linked))
            runs.report(self.session, self.run, done=number, total=1 + len(every), checkpoint={
                "mode": time_runs.FULL, "phase": "compare", "window": [start.isoformat(), end.isoformat()],
                "compared_to": last.isoformat(), "differing": [d.isoformat() for d in differing]})
        return reconcile.spans(differing)

    def _ask(self, question: Callable[[], Any], needs: int = 1) -> Any:
        """One report request within the budget: pause when the quota is (nearly) spent, or would be before the
        `needs` requests that go together are sent."""
        quota = self.connector.quota()
        if quota is not None and quota.remaining < self.reserve + needs:
            raise runs.Pause(quota.resets_at, self._waiting_text(quota.resets_at))
        try:
            return question()
        except RateLimited as error:
            raise runs.Pause(error.resets_at, self._waiting_text(error.resets_at)) from None

    def _project(self) -> None:
        """One project's linked tool projects. Once each of its links has been read in full: only the changes
        since the oldest of their marks, one request plus one a page of changes (the look-back in full costs a
        request for every 50 entries, out of the tool's hourly quota). Else (a first sync, a link added since, a
        read half done): the look-back by date. Then the entries of those tool projects that failed or were
        refused are applied again, from what the tool last sent: the project's rules may have changed (a stage
        opened). The links then keep how far the tool's changes are read."""
        links = time_runs.project_links(self.session, self.connection, self.run.params["project_id"])
        if not links:
            raise NotFound("None of the project's offerings is linked any more.")
        link_ids, marks = [link.id for link in links], [link.time_read_up_to for link in links]
        project_ids = sorted({link.external_id for link in links})
        checkpoint = self.run.checkpoint or {}
        half_done = checkpoint.get("mode") == time_runs.PROJECT and checkpoint.get("resume_from")
        if all(marks) and not half_done:
            end = today()
            read_up_to = self._changed_since(end - timedelta(days=self.lookback_days), end, min(marks), project_ids)
        else:
            read_up_to = self._read_by_date_up_to(self._by_date(time_runs.PROJECT, project_ids))
        self._apply_failed(project_ids)
        self.session.execute(update(ProjectLink).where(
            ProjectLink.id.in_(link_ids),
            or_(ProjectLink.time_read_up_to.is_(None), ProjectLink.time_read_up_to < read_up_to),
        ).values(time_read_up_to=read_up_to))
        self.session.commit()

    def _apply_failed(self, project_ids: list[str]) -> None:
        """Apply again the entries of these tool projects that failed or were refused before this run, as Retry
        would (from the copy their message keeps, without asking the tool): imported if the rules allow it now,
        else their message stays failed, tried once more."""
        wanted = set(project_ids)
        payloads = [payload for payload in self.session.scalars(
            select(SyncMessage.payload).where(SyncMessage.connection_id == self.connection.id,
                                              SyncMessage.direction == "inbound", SyncMessage.entity == "time_entry",
                                              SyncMessage.status == MessageStatus.FAILED,
                                              SyncMessage.payload.is_not(None),
                                              SyncMessage.run_id.is_distinct_from(self.run.id))
            .order_by(SyncMessage.id))
                    if "remove" not in payload and str(payload.get("project_id")) in wanted]
        self._apply_stored([entry_from_payload(payload) for payload in payloads],
                           "Applied again the entries that failed or were refused")

    def _by_date(self, mode: str, project_ids: list[str] | None = None) -> datetime | None:
        """Every entry of the look-back (of `project_ids`' tool projects: one project's), by date; resumable.
        The newest change read."""
        checkpoint = self.run.checkpoint or {}
        if checkpoint.get("mode") == mode and checkpoint.get("window"):
            start, end = (date.fromisoformat(d) for d in checkpoint["window"])
        else:
            end = today()
            start = end - timedelta(days=self.lookback_days)
        resume = date.fromisoformat(checkpoint["resume_from"]) if checkpoint.get("mode") == mode \
            and checkpoint.get("resume_from") else start
        total = (end - start).days + 1
        window = [start.isoformat(), end.isoformat()]
        runs.report(self.session, self.run, done=(resume - start).days, total=total,
                    checkpoint={"mode": mode, "window": window, "resume_from": resume.isoformat()},
                    text=f"Reading {self.importer.label} time from {resume:%d %b}" +
                         (" (resumed)" if resume > start else ""))
        newest = None
        size = self._batch()
        # Removals (FULL): a day is compared once the read is two days past it (a work date may differ from
        # the tool's by a day), so only a few days of ids are kept; the first and last day are left out.
        unclosed = resume + timedelta(days=1)
        if mode == time_runs.FULL:
            self.importer.watch()
        for entries in batches(self._pages(resume, end, self._ahead(), project_ids=project_ids), size):
            reached = max((e.work_date for e in entries), default=resume)
            stamps = [e.updated_at for e in entries if e.updated_at]
            newest = max([s for s in (newest, *stamps) if s], default=None)
            # The next page may still hold entries of `reached`: a resume re-reads that day (idempotently).
            self._apply(entries, done=min(total, (reached - start).days + 1),
                        checkpoint={"resume_from": max(resume, reached).isoformat()},
                        text=f"Read {self.importer.label} time up to {reached:%d %b %Y}")
            if mode == time_runs.FULL and reached - timedelta(days=2) >= unclosed:
                self.importer.close_days(unclosed, reached - timedelta(days=2))
                unclosed = reached - timedelta(days=1)
        if mode == time_runs.FULL:
            before = Counter(self.importer.counts)
            self.importer.reconcile(unclosed, end - timedelta(days=1))
            self.importer.check_links()
            self.importer.check_doubles(start, end)
            runs.report(self.session, self.run, add=dict(self.importer.counts - before))
            self._watermark(newest, HOURLY_MARK)
            self._watermark(self._read_by_date_up_to(newest), NIGHTLY_MARK)
        runs.report(self.session, self.run, done=total, checkpoint={"mode": None, "resume_from": None})
        return newest

    def _read_by_date_up_to(self, newest: datetime | None) -> datetime:
        """How far a read by date has seen the tool's changes, for the next read of changes: its newest change,
        but not later than when the read began (less a margin for the clocks), so a change made during the read
        to a day already read is not lost."""
        began = (self.run.started_at or utcnow()) - CLOCK_MARGIN
        return min(newest, began) if newest else began

    def _batch(self) -> int:
        """Entries applied per transaction when reading by date (pages of 50 would be a transaction each)."""
        return int(current_app.config.get("TIME_SYNC_BATCH", BATCH))

    def _ahead(self) -> int:
        """Pages read ahead by date: the next batch's, read while this batch is written."""
        return max(1, self._batch() // max(1, int(current_app.config.get("TOGGL_REPORT_PAGE_SIZE", 50))))

    def _pages(self, start: date, end: date, ahead: int = 1, **options) -> Iterator[TimeEntryPage]:
        """The query's pages; up to `ahead` are fetched while the one before is applied (none for incremental
        reads, which usually stop after the first page: a page read ahead would cost quota for nothing)."""
        pages = self._within_budget(self.connector.time_entry_pages(start, end, **options))
        try:
            yield from read_ahead(pages, ahead) if ahead else pages
        except RateLimited as error:  # the quota ran out anyway (other users of the token): wait for it
            raise runs.Pause(error.resets_at, self._waiting_text(error.resets_at)) from None

    def _within_budget(self, pages: Iterator[TimeEntryPage]) -> Iterator[TimeEntryPage]:
        """Pause before the quota is spent, leaving a few requests for people using the portal (checked
        before each further request, so a page read ahead never goes beyond the budget)."""
        for page in pages:
            yield page
            quota = self.connector.quota()
            if page.next_row and quota is not None and quota.remaining <= self.reserve:
                raise runs.Pause(quota.resets_at, self._waiting_text(quota.resets_at))

    def _waiting_text(self, resets_at: datetime) -> str:
        return f"Waiting for the {self.importer.label} quota to reset at {resets_at:%H:%M} UTC"

    def _watermark(self, newest: datetime | None, mark: str) -> None:
        current = _instant(self.connection.settings.get(mark))
        if newest is not None and (current is None or newest > current):
            self.connection.settings = {**self.connection.settings, mark: newest.isoformat()}
            self.session.commit()

    # Applying -----------------------------------------------------------------------------------------
    def _apply(self, entries: list[ExternalTimeEntry], after: Callable[[], None] | None = None,
               **progress: Any) -> dict[str, int]:
        """Apply one batch in its own transaction, committed with the run's counts and `progress` (done,
        checkpoint, text); a deadlock with a concurrent sync, or an entry it inserted first, is retried."""
        for attempt in range(1, ATTEMPTS + 1):
            mark = self.importer.mark()
            looked_up = not self.importer.first_read
            try:
                counts = self.importer.apply(entries)
                if after is not None:
                    after()
                runs.report(self.session, self.run, add=dict(counts), **progress)
                return counts
            except (OperationalError, synced.InsertedMeanwhile) as error:
                self.session.rollback()
                self.importer.rewind(mark)  # a first read looks its entries up from now on (some are there)
                if isinstance(error, synced.InsertedMeanwhile) and looked_up:
                    self.importer.straight = False  # another sync is writing too: ON CONFLICT from now on
                if attempt == ATTEMPTS:
                    raise
                log.warning("run %s: a batch met entries written meanwhile, by a concurrent sync or earlier in the "
                            "run (attempt %s); applying it again", self.run.id, attempt)
        return {}

    def drain(self) -> None:
        """Queued messages (webhook events, retried entries), then the waiting time of people matched since."""
        while True:
            messages = list(self.session.scalars(
                select(SyncMessage).where(SyncMessage.connection_id == self.connection.id,
                                          SyncMessage.direction == "inbound", SyncMessage.payload.is_not(None),
                                          SyncMessage.status == MessageStatus.PENDING)
                .order_by(SyncMessage.id).limit(100)))
            if not messages:
                break
            for message in messages:
                self._message(message)
        waiting = self.importer.waiting_of_matched()
        self._apply_stored(waiting, "Imported the waiting time of matched people")

    def _apply_stored(self, entries: list[ExternalTimeEntry], what: str) -> None:
        """Entries the portal kept (not read now), BATCH to a transaction, each saying how far it got."""
        for start in range(0, len(entries), BATCH):
            self._apply(entries[start:start + BATCH],
                        text=f"{what} ({min(len(entries), start + BATCH)} of {len(entries)})")

    def _message(self, message: SyncMessage) -> None:
        """Apply one queued message: a webhook event, or an entry (or removal) someone retried."""
        payload = message.payload
        entries: list[ExternalTimeEntry] = []
        if "event_id" in payload:
            delivery = self.connector.parse_webhook(json.dumps(payload).encode())
            entries = [delivery.entry] if delivery.entry is not None else []
        elif "remove" not in payload:
            entries = [entry_from_payload(payload)]

        def applied() -> None:
            if "remove" in payload:
                self.importer.remove_by_external_id(payload["id"], payload["remove"])
            message.run_id = self.run.id
            message.attempts += 1

        counts = self._apply(entries, after=applied)
        if message.status == MessageStatus.PENDING:  # not failed again by the importer
            message.status, message.processed_at = MessageStatus.PROCESSED, utcnow()
            message.reason = event_outcome(counts) if "event_id" in payload else \
                f"{message.reason} — retried: {event_outcome(counts).lower()}"[:2000]
        self.session.commit()


_DONE = object()


def batches(pages: Iterator[TimeEntryPage], size: int) -> Iterator[list[ExternalTimeEntry]]:
    """The entries of consecutive pages, a batch once `size` are read: each batch is one transaction, and a
    transaction per report page (50 entries) would cost more than writing them (issue 14). When reading stops
    (a pause for the quota, the tool failing) what was read is handed over first: the checkpoint moves past
    it, and no request is spent twice."""
    batch: list[ExternalTimeEntry] = []
    try:
        for page in pages:
            batch.extend(page.entries)
            if len(batch) >= size:
                yield batch
                batch = []
    except Exception:
        if batch:
            yield batch
        raise
    if batch:
        yield batch


def read_ahead(pages: Iterator[TimeEntryPage], depth: int = 1) -> Iterator[TimeEntryPage]:
    """Fetch the next pages from the tool while this one is applied, so the network wait and the database
    work overlap; never more than `depth` pages ahead (a batch's worth when pages are applied in batches, so
    the next batch is read while this one is written). The fetching thread touches no database; its errors
    are raised here, in order. A caller that stops early has had at most `depth` pages read for nothing."""
    handoff: queue_module.Queue = queue_module.Queue()
    may_fetch = threading.Semaphore(max(1, depth))
    stop = threading.Event()

    def fetch() -> None:
        try:
            while may_fetch.acquire() and not stop.is_set():
                page = next(pages, _DONE)
                handoff.put(page)
                if page is _DONE:
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            handoff.put(error)

    worker = threading.Thread(target=fetch, name="read-ahead", daemon=True)
    worker.start()
    try:
        while (item := handoff.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            may_fetch.release()  # the next page is fetched while this one is applied
            yield item
    finally:
        stop.set()
        may_fetch.release()
        worker.join(timeout=60)


def event_key(connection: Connection, event_id: str) -> str:
    """A webhook delivery's dedupe key: one message per event, so a replay is recognised."""
    return f"{connection.kind}:{connection.id}:event:{event_id}"


def event_outcome(counts: dict[str, int]) -> str:
    words = {"new": "Imported", "updated": "Applied the change", "deleted": "Removed the entry",
             "unchanged": "Already up to date (a poll or an earlier event brought it)",
             "skipped_running_timers": "A running timer: it syncs once stopped",
             "skipped_zero_length": "No time (zero length): skipped",
             "unmatched": "Waiting: the person is not matched to a resource",
             "refused": "Refused (the entry's own message says why)", "failed": "Failed (the entry's message says why)",
             "held_for_approval": "Held for the approver (changed after approval)"}
    said = [words[key] for key, value in counts.items() if value and key in words]
    return "; ".join(said) or "Nothing to change: not on a linked project, or already removed"


def retry_message(session: Session, actor: User, message_id: int) -> SyncRun:
    """Retry a failed message: queue its stored entry (or event) again and start a run that applies it
    under today's rules (a person linked, a stage opened, a description added in the tool since)."""
    policy.require(policy.can_manage_connections(actor), "Only admins retry sync messages.")
    message = session.get(SyncMessage, message_id, with_for_update=True, populate_existing=True)
    if message is None:
        raise NotFound("That sync message does not exist.")
    if message.status != MessageStatus.FAILED or not message.payload:
        raise Conflict("Only a failed message that kept its record can be retried; start a sync instead.")
    connection = require_connected(session, message.connection_id, connectors.TIME_ENTRIES)
    message.status = MessageStatus.PENDING
    audit.record(session, actor, "sync_message.retried", message, summary=f"Retry of {message.entity} "
                 f"{message.external_id or ''}: {message.reason[:200]}")
    return time_runs.start(session, connection, "backfill", actor.id, queue.INTERACTIVE)[0]


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
