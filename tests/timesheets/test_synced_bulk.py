"""The bulk write path of synced time (portal/timesheets/synced.py insert_entries): idempotent on (connection,
external id), the timesheets' versions moved on, and on PostgreSQL a batch goes in by COPY, straight into the
table or (after meeting a concurrent sync's entry) through a staging table plus one INSERT ... SELECT, whatever
its size (issue 14: no statement with a parameter per row to parse)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select, text

from portal.extensions import db
from portal.integrations.models import Connection, ConnectionStatus
from portal.timesheets import synced
from portal.timesheets.models import TimeEntry, Timesheet
from portal.timesheets.synced import SyncedValues
from tests.factories import OfferingFactory, ResourceFactory, TimesheetFactory

MONDAY = date(2026, 3, 2)


@pytest.fixture
def world(session):
    connection = Connection(kind="toggl", status=ConnectionStatus.CONNECTED, account_id="1")
    offering = OfferingFactory()
    resource = ResourceFactory()
    sheet = TimesheetFactory(resource=resource, period_start=MONDAY)
    session.add(connection)
    session.flush()
    return connection, offering, resource, sheet


def _rows(offering, resource, sheet, ids) -> list[synced.NewEntry]:
    stamp = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    return [(f"t{n}", SyncedValues(resource_id=resource.id, offering_id=offering.id, project_id=offering.project_id,
                                   work_date=date(2026, 3, 3), hours=Decimal("1.25"), billable=n % 2 == 0,
                                   description=f"Work {n}\tand\nmore \\ “quoted”", external_url=f"https://t/{n}",
                                   external_updated_at=stamp), sheet.id, Decimal("150.00") if n % 3 else None)
            for n in ids]


def test_new_entries_go_in_once_with_their_values_and_move_the_timesheet_on(session, world):
    connection, offering, resource, sheet = world
    version = sheet.version
    first = synced.insert_entries(session, connection.id, "toggl", _rows(offering, resource, sheet, range(5)))
    assert sorted(first) == [f"t{n}" for n in range(5)]
    again = synced.insert_entries(session, connection.id, "toggl", _rows(offering, resource, sheet, range(3, 8)))
    assert sorted(again) == ["t5", "t6", "t7"]  # t3, t4 were there: left alone, not returned
    session.expire_all()
    entries = {e.external_id: e for e in session.scalars(select(TimeEntry).where(
        TimeEntry.connection_id == connection.id))}
    assert sorted(entries) == [f"t{n}" for n in range(8)]
    entry = entries["t4"]
    assert (entry.resource_id, entry.offering_id, entry.project_id, entry.timesheet_id, entry.source) == (
        resource.id, offering.id, offering.project_id, sheet.id, "toggl")
    assert (entry.hours, entry.billable, entry.bill_rate) == (Decimal("1.25"), True, Decimal("150.00"))
    assert entry.description == "Work 4\tand\nmore \\ “quoted”" and entry.external_url == "https://t/4"
    assert entry.external_updated_at == datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    assert entries["t3"].bill_rate is None and entries["t3"].billable is False
    assert entry.created_at is not None and entry.updated_at is not None
    assert db.session.get(Timesheet, sheet.id).version == version + 2
    synced.insert_entries(session, connection.id, "toggl", _rows(offering, resource, sheet, range(8)))
    session.expire_all()
    assert db.session.get(Timesheet, sheet.id).version == version + 2  # nothing new: the version stays


@pytest.mark.postgres
def test_on_postgresql_a_straight_copy_that_meets_an_entry_already_there_says_so_and_writes_nothing(session, world):
    """The caller looked the batch's entries up and found none; one inserted since (by a concurrent sync) makes the
    unique key refuse the COPY, and the caller must apply the batch again (the transaction is lost)."""
    connection, offering, resource, sheet = world
    synced.insert_entries(session, connection.id, "toggl", _rows(offering, resource, sheet, [3]))
    session.expire_all()
    version = db.session.get(Timesheet, sheet.id).version
    with pytest.raises(synced.InsertedMeanwhile), session.begin_nested():
        synced.insert_entries(session, connection.id, "toggl", _rows(offering, resource, sheet, range(5)),
                              straight=True)
    session.expire_all()
    assert list(session.scalars(select(TimeEntry.external_id).where(TimeEntry.connection_id == connection.id))) \
        == ["t3"]
    assert db.session.get(Timesheet, sheet.id).version == version


@pytest.mark.postgres
@pytest.mark.parametrize("straight", [True, False], ids=["straight", "through staging"])
def test_on_postgresql_a_batch_costs_the_same_statements_whatever_its_size(app, session, world, straight):
    connection, offering, resource, sheet = world

    def measure(ids) -> tuple[int, int]:
        statements: list[int] = []

        def count(_conn, _cursor, _statement, parameters, *_):
            statements.append(len(parameters) if isinstance(parameters, dict | list | tuple) else 0)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            inserted = synced.insert_entries(session, connection.id, "toggl", _rows(offering, resource, sheet, ids),
                                             straight=straight)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len(inserted) == len(ids)
        return len(statements), max(statements)

    small, large = measure(range(10)), measure(range(10, 2010))
    assert small[0] == large[0], f"{small[0]} statements for 10 rows, {large[0]} for 2,000"
    assert large[1] <= 5, f"a statement with {large[1]} parameters: the rows went in as parameters, not by COPY"
    assert session.scalar(select(func.count()).select_from(TimeEntry).where(
        TimeEntry.connection_id == connection.id)) == 2010


@pytest.mark.postgres
def test_on_postgresql_the_staging_table_keeps_no_dead_rows_between_batches(session, world):
    """A DELETE left each batch's rows dead in the temporary staging table, which nothing vacuums: the table
    grew by a batch at every batch, and every insert scanned all of them. Emptied by TRUNCATE, it holds no
    page once a batch is in."""
    connection, offering, resource, sheet = world
    for start in (0, 500, 1000):
        synced.insert_entries(session, connection.id, "toggl", _rows(offering, resource, sheet,
                                                                     range(start, start + 500)))
        assert session.scalar(text("SELECT pg_relation_size('time_entries_staged')")) == 0
