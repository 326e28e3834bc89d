"""A sync gathers report pages into batches of TIME_SYNC_BATCH entries, one transaction each (issue 14: a
transaction per 50-entry page cost more than the writing); when reading stops, what was read is applied first."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, event, select

from portal.columns import utcnow
from portal.errors import ExternalServiceError
from portal.integrations.connectors import ExternalTimeEntry, TimeEntryPage
from portal.integrations.toggl import inbound
from portal.integrations.toggl import sync as time_sync
from portal.integrations.toggl.connector import TogglConnector
from portal.integrations.toggl.inbound import Importer
from portal.integrations.toggl.sync import batches
from portal.timesheets.models import TimeEntry
from tests.integrations.toggl.time_sync_support import days_ago, link, sync, synced


def _pages(count: int, size: int = 50, fail_after: int | None = None):
    for number in range(count):
        if fail_after is not None and number == fail_after:
            raise ExternalServiceError("Toggl is down")
        yield TimeEntryPage([ExternalTimeEntry(id=f"{number}-{n}", user_id="1", project_id="1",
                                               work_date=date(2026, 3, 2), seconds=3600, billable=True,
                                               description="", updated_at=None) for n in range(size)], number + 1)


def test_pages_are_applied_in_batches_of_the_configured_size():
    sizes = [len(batch) for batch in batches(_pages(45), 1000)]
    assert sizes == [1000, 1000, 250]


def test_what_was_read_before_the_tool_failed_is_handed_over_then_the_failure():
    read = []
    with pytest.raises(ExternalServiceError):
        for batch in batches(_pages(30, fail_after=23), 1000):
            read.append(len(batch))
    assert read == [1000, 150]


def _synced_workspace(app, monkeypatch, session, tool, run_jobs, batch: int) -> list[int]:
    """120 entries of one person over 30 days, read once, with report pages of 10 and batches of `batch`."""
    monkeypatch.setitem(app.config, "TOGGL_REPORT_PAGE_SIZE", 10)
    monkeypatch.setitem(app.config, "TIME_SYNC_BATCH", batch)
    linked = link(session, tool, tool.offering(people={"ana@example.test": "150"}, name="Platform build"))
    ids = tool.sandbox.entries(count=120, emails=["ana@example.test"], project_ids=[linked.toggl_project_id],
                               start_date=days_ago(40).isoformat(), days=30, seconds=3600)
    assert sync(session, run_jobs, tool.connection).status == "succeeded"
    return ids


def _full_read(session, tool, run_jobs):
    """Read everything again (as a first full read does), not the nightly's comparison of ids and totals."""
    tool.connection.settings = {k: v for k, v in tool.connection.settings.items() if k != time_sync.NIGHTLY_MARK}
    session.commit()
    run = sync(session, run_jobs, tool.connection)
    assert run.status == "succeeded", run.error
    return run


def test_a_full_read_keeps_a_few_days_of_ids_and_still_finds_deletions_and_moves(
        app, monkeypatch, session, tool, run_jobs):
    """Issue 14: the ids read are kept only for the days not yet compared (not the whole window), yet an entry
    deleted in Toggl is removed, and one moved to a later day is updated, not removed and imported again."""
    ids = _synced_workspace(app, monkeypatch, session, tool, run_jobs, batch=20)
    before = synced(session, tool.connection)
    assert len(before) == 120
    early = sorted(before.values(), key=lambda e: e.work_date)
    deleted, moved = early[10].external_id, early[12].external_id
    moved_row = early[12].id
    tool.sandbox.delete(int(deleted), emit=False)
    later = datetime.combine(days_ago(15), datetime.min.time(), UTC) + timedelta(hours=12)
    tool.sandbox.edit(int(moved), start=later.strftime("%Y-%m-%dT%H:%M:%SZ"),
                      stop=(later + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"), emit=False)

    held = []
    original = Importer.apply

    def apply(self, entries):
        counts = original(self, entries)
        if self.seen is not None:
            held.append(sum(len(day) for day in self.seen.values()))
        return counts

    monkeypatch.setattr(Importer, "apply", apply)
    run = _full_read(session, tool, run_jobs)
    after = synced(session, tool.connection)
    assert set(after) == {str(i) for i in ids} - {deleted}
    assert after[moved].id == moved_row and after[moved].work_date == days_ago(15)
    assert run.counts["deleted"] == 1 and run.counts["updated"] == 1
    assert held and max(held) <= 40  # a batch (20) and a few days (4 a day), never the window's 120
    assert session.scalar(select(TimeEntry.id).where(TimeEntry.external_id == deleted)) is None


def test_an_entry_changed_during_a_full_read_by_a_portal_clock_behind_the_database_is_judged_by_the_next(
        app, monkeypatch, session, tool, run_jobs):
    """A full read removes entries of the days it read that Toggl no longer lists, but not those changed through
    the portal since it began (a webhook, an approver accepting a change): the next full read judges them. The
    portal stamps such changes with its own clock, so the read's start is taken on that clock too; taken on
    the database's (PostgreSQL's clock_timestamp()), a portal clock a minute behind stamped the change "before
    the read" and the entry was removed as missing."""
    _synced_workspace(app, monkeypatch, session, tool, run_jobs, batch=20)
    entries = TimeEntry.__table__
    session.execute(entries.update().values(updated_at=utcnow() - timedelta(hours=1)))  # imported an hour ago
    gone = min(synced(session, tool.connection).values(), key=lambda e: e.work_date)
    gone_id, gone_external_id = gone.id, gone.external_id
    tool.sandbox.delete(int(gone_external_id), emit=False)
    behind = timedelta(minutes=1)
    monkeypatch.setattr(inbound, "utcnow", lambda: utcnow() - behind)  # the portal's clock, as watch() reads it
    original = Importer.apply

    def apply(self, entries_read):  # the entry is changed through the portal while the read goes on
        counts = original(self, entries_read)
        self.session.execute(entries.update().where(entries.c.id == gone_id).values(updated_at=utcnow() - behind))
        return counts

    monkeypatch.setattr(Importer, "apply", apply)
    run = _full_read(session, tool, run_jobs)
    assert gone_external_id in synced(session, tool.connection) and not run.counts.get("deleted")

    monkeypatch.setattr(Importer, "apply", original)  # the next full read, nothing changed meanwhile
    monkeypatch.setattr(inbound, "utcnow", utcnow)
    run = _full_read(session, tool, run_jobs)
    assert gone_external_id not in synced(session, tool.connection) and run.counts["deleted"] == 1


def test_an_entry_a_concurrent_sync_inserted_after_the_lookup_is_left_alone_and_the_batch_applied_again(
        app, monkeypatch, session, tool, run_jobs):
    """New entries are COPYed straight in on PostgreSQL: the lookup found none of them there. One inserted by a
    concurrent sync after that lookup (played here by a lookup that misses it, every time) makes the unique key
    refuse the COPY; the batch is applied again from its start with ON CONFLICT, which leaves that entry alone,
    and the rest of the run goes that way too. SQLite goes that way from the start."""
    _synced_workspace(app, monkeypatch, session, tool, run_jobs, batch=20)
    before = {external_id: entry.id for external_id, entry in synced(session, tool.connection).items()}
    raced = min(before, key=int)
    session.execute(delete(TimeEntry).where(TimeEntry.connection_id == tool.connection.id,
                                            TimeEntry.external_id != raced))
    session.commit()
    original = Importer._existing
    attempts = []

    def existing(self, ids):
        attempts.append(self.straight)
        return {key: value for key, value in original(self, ids).items() if key != raced}

    monkeypatch.setattr(Importer, "_existing", existing)
    run = _full_read(session, tool, run_jobs)
    after = synced(session, tool.connection)
    assert set(after) == set(before) and after[raced].id == before[raced]
    assert run.counts["new"] == len(before) - 1 and run.counts["unchanged"] == 1
    if session.get_bind().dialect.name == "postgresql":
        refused = attempts.index(False)  # the batch's first attempt was refused; ON CONFLICT from then on
        assert refused >= 1 and attempts == [True] * refused + [False] * (len(attempts) - refused)
    else:
        assert all(attempts)  # SQLite inserts with ON CONFLICT anyway


def test_the_next_batch_is_read_while_this_one_is_written():
    """read_ahead fetches up to `depth` pages (a batch's worth) while the one before is applied, no more."""
    fetched = []

    def pages():
        for number in range(50):
            fetched.append(number)
            yield TimeEntryPage([], number + 1)

    reader = time_sync.read_ahead(pages(), 5)
    next(reader)
    deadline = time.monotonic() + 5
    while len(fetched) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert len(fetched) == 6  # the page being applied and five ahead
    reader.close()


def test_the_nightly_reads_its_changes_and_differing_days_in_batches(app, monkeypatch, session, tool, run_jobs):
    """The nightly's changes and the days that differ from Toggl are applied in batches of TIME_SYNC_BATCH, not
    a transaction per report page."""
    ids = _synced_workspace(app, monkeypatch, session, tool, run_jobs, batch=40)
    session.execute(delete(TimeEntry).where(TimeEntry.connection_id == tool.connection.id))
    session.commit()
    sizes = []
    original = Importer.apply

    def apply(self, entries):
        entries = list(entries)
        sizes.append(len(entries))
        return original(self, entries)

    monkeypatch.setattr(Importer, "apply", apply)
    run = sync(session, run_jobs, tool.connection, "nightly")
    assert run.status == "succeeded", run.error
    assert set(synced(session, tool.connection)) == {str(i) for i in ids}
    assert max(sizes) > 10 and all(size <= 40 + 10 for size in sizes)  # batches of pages, not a page each


def test_a_first_read_looks_nothing_up_and_an_entry_met_again_later_is_updated_not_imported_twice(
        app, monkeypatch, session, tool, run_jobs):
    """On PostgreSQL a connection's first read sends no lookups: it has no entries to find. An entry met again
    in a later batch (Toggl's row numbers shift when an entry changes during the read: played here by a page
    that repeats the first page's first entry, changed) is refused by the unique key, and that batch is applied
    again with lookups: the entry is updated, not imported twice. SQLite looks every batch up."""
    monkeypatch.setitem(app.config, "TOGGL_REPORT_PAGE_SIZE", 10)
    monkeypatch.setitem(app.config, "TIME_SYNC_BATCH", 20)
    linked = link(session, tool, tool.offering(people={"ana@example.test": "150"}, name="Platform build"))
    tool.sandbox.entries(count=60, emails=["ana@example.test"], project_ids=[linked.toggl_project_id],
                         start_date=days_ago(40).isoformat(), days=30, seconds=3600)
    read = TogglConnector.time_entry_pages

    def pages(self, *args, **kwargs):
        return repeating(read(self, *args, **kwargs))  # asked now, read in the read-ahead thread

    def repeating(pages):
        first = None
        for number, page in enumerate(pages):
            first = first or page.entries[0]
            if number == 4:  # the third batch
                page = TimeEntryPage([*page.entries, replace(first, description="Changed during the read",
                                                              updated_at=first.updated_at + timedelta(minutes=1))],
                                     page.next_row)
            yield page

    monkeypatch.setattr(TogglConnector, "time_entry_pages", pages)
    looked_up = []
    original = Importer._existing
    monkeypatch.setattr(Importer, "_existing", lambda self, ids: looked_up.append(self.straight) or original(self, ids))
    run = sync(session, run_jobs, tool.connection)
    assert run.status == "succeeded", run.error
    entries = synced(session, tool.connection)
    assert len(entries) == 60 and (run.counts["new"], run.counts["updated"]) == (60, 1)
    repeated = [e for e in entries.values() if e.description == "Changed during the read"]
    assert len(repeated) == 1
    # PostgreSQL: only the refused batch looked up, applied again, still COPYed straight in (no concurrent sync
    # was met: the run's entries were there); SQLite looks every batch up.
    assert looked_up == ([True] if session.get_bind().dialect.name == "postgresql" else [True, True, True])


def test_a_first_full_read_reads_none_of_its_entries_back_and_the_next_one_removes_what_toggl_deleted(
        app, monkeypatch, session, tool, run_jobs):
    """A full read notes, a few days at a time, the entries of the days it read that Toggl did not list. The
    first one begins with no entries of the connection, so those of its days are the ones it wrote: it reads
    none of them back (a query every few days that read every row again). A later one does, and removes an
    entry deleted in Toggl without a webhook."""
    read_back = []

    def note(_connection, _cursor, statement, *_):
        if statement.startswith("SELECT time_entries.id, time_entries.external_id, time_entries.work_date"):
            read_back.append(statement)

    bind = session.connection()
    event.listen(bind, "before_cursor_execute", note)
    try:
        ids = _synced_workspace(app, monkeypatch, session, tool, run_jobs, batch=20)
        assert len(synced(session, tool.connection)) == 120 and read_back == []
        gone = min(synced(session, tool.connection).values(), key=lambda e: e.work_date).external_id
        tool.sandbox.delete(int(gone), emit=False)
        run = _full_read(session, tool, run_jobs)
    finally:
        event.remove(bind, "before_cursor_execute", note)
    assert read_back, "the second full read compares the portal's entries with what it read"
    assert set(synced(session, tool.connection)) == {str(i) for i in ids} - {gone} and run.counts["deleted"] == 1
