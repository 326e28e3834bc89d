"""portal.sql.by_key: rows by a unique key among a list of values (issue 14). The same answers on both
databases; on PostgreSQL one probe of the unique index per value, even when the statistics say the
connection has no entries (as they do while a first sync fills the table), so a page of lookups costs
the same with a million entries as with a thousand."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from portal.extensions import db
from portal.integrations.models import Connection
from portal.sql import by_key
from portal.timesheets.models import TimeEntry
from tests.factories import TimeEntryFactory

COPIES = 3000


def _entries_of_a_new_connection(session, kind: str = "toggl") -> tuple[Connection, TimeEntry]:
    connection = Connection(kind=kind, status="connected", account_id="1", credentials=json.dumps({}))
    session.add(connection)
    session.flush()
    entry = TimeEntryFactory(connection_id=connection.id, external_id="0", source=kind)
    session.flush()
    return connection, entry


def _lookup(session, connection: Connection, values: list[str]):
    return by_key(session, [TimeEntry.id, TimeEntry.external_id], TimeEntry.external_id, values,
                  {TimeEntry.connection_id: connection.id})


def test_by_key_finds_the_listed_rows_and_skips_the_rest(session):
    connection, entry = _entries_of_a_new_connection(session)
    other = TimeEntryFactory(connection_id=connection.id, external_id="7", source="toggl")
    elsewhere, _ = _entries_of_a_new_connection(session, "procore")  # the same external id under another connection
    session.flush()
    found = dict((external_id, entry_id) for entry_id, external_id in session.execute(
        _lookup(session, connection, ["0", "7", "missing"])))
    assert found == {"0": entry.id, "7": other.id}
    assert len(list(session.execute(_lookup(session, elsewhere, ["0", "7"])))) == 1
    assert list(session.execute(_lookup(session, connection, []))) == []


@pytest.mark.postgres
def test_by_key_probes_the_unique_index_whatever_the_statistics_say(session):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner")
    connection, entry = _entries_of_a_new_connection(session)
    session.execute(text("ANALYZE time_entries"))  # the statistics: this connection has (almost) nothing
    columns = [c.name for c in TimeEntry.__table__.columns if c.name not in ("id", "external_id")]
    session.execute(text(
        f"INSERT INTO time_entries ({', '.join(columns)}, external_id) SELECT {', '.join(columns)}, g::text "
        f"FROM time_entries, generate_series(1, {COPIES}) AS g WHERE id = :id"), {"id": entry.id})
    wanted = [str(n) for n in range(1, COPIES, 3)] + ["not there"]
    statement = _lookup(session, connection, wanted)
    compiled = statement.compile(dialect=db.engine.dialect)
    plan = "\n".join(row[0] for row in session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params))
    assert "uq_time_entries_external_id_connection_id" in plan, plan
    assert "Seq Scan on time_entries" not in plan and "ix_time_entries_connection_date" not in plan, plan
    assert len(list(session.execute(statement))) == len(wanted) - 1
