"""SQL shapes that keep a query on the indexes whatever the tables hold (issue 14).

`in_ids(column, subquery)`: `column IN (subquery)` where the subquery yields a few ids from an index (a
PM's projects' timesheets, a project's entries). PostgreSQL may plan an IN as a semi-join that reads the
outer table's whole filtered side (every submitted timesheet of the organization) and hashes the ids;
`column = ANY(ARRAY(subquery))` runs the subquery once and fetches the outer rows by their index, so
the cost follows the ids, not the table. SQLite gets a plain IN, which it already runs that way.

`among(column, values)`: `column` in a list of values, as one array parameter on PostgreSQL;
`among_named(column, name)` the same with the list given when the statement runs (`params={name: [...]}`), for
a statement built once and run on every request.

`copy_rows(connection, table, columns, rows)`: PostgreSQL's COPY of `rows` into `table`, the fastest way in
(the sync's staging table, the nightly's ids); `empty(connection, table)` empties such a table after use.

`by_key(session, columns, key, values, where)`: the rows whose `key` is one of `values` and whose columns
equal `where`'s values, one index probe per value on PostgreSQL, by an index that leads with `key` (a unique
one: time entries' (external id, connection)). `key = ANY(:values) AND connection_id = :c` lets the planner pick
another index by its statistics, and those go stale while a sync fills the table: for a connection that had few
entries at the last ANALYZE it scanned every entry of the connection for each page of lookups, and a first sync
grew quadratic. Each value is looked up in a LATERAL subquery that names only `key` (OFFSET 0 keeps it from
being merged, and the other conditions from being pushed into it), which only that index serves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, Boolean, bindparam, func, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, Select
from sqlalchemy.sql.visitors import InternalTraversal


class InIds(ColumnElement[bool]):
    inherit_cache = True
    type = Boolean()
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("subquery", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any, subquery: Select) -> None:
        self.column = column
        self.subquery = subquery.scalar_subquery()

    def self_group(self, against=None) -> InIds:
        return self  # already a predicate: no "= 1" where booleans are integers (SQLite)


def in_ids(column: Any, subquery: Select) -> InIds:
    return InIds(column, subquery)


@compiles(InIds)
def _in_ids(element: InIds, compiler, **kw) -> str:
    return f"{compiler.process(element.column, **kw)} IN {compiler.process(element.subquery, **kw)}"


@compiles(InIds, "postgresql")
def _in_ids_postgresql(element: InIds, compiler, **kw) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY(ARRAY{compiler.process(element.subquery, **kw)})"


class Among(ColumnElement[bool]):
    """`column` is one of a list of values: on PostgreSQL `column = ANY(:array)`, one parameter however long
    the list (an IN of a thousand values costs the server a thousand-term plan and the driver a thousand
    placeholders to parse, on every page of a sync); elsewhere a plain IN."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("array", InternalTraversal.dp_clauseelement),
                           ("listed", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any, array: Any, listed: Any) -> None:
        self.column, self.array, self.listed = column, array, listed

    def self_group(self, against=None) -> Among:
        return self


def among(column: Any, values: Iterable) -> Among:
    values = list(values)
    return Among(column, bindparam(None, values, type_=ARRAY(column.type)), column.in_(values))


def among_named(column: Any, name: str) -> Among:
    """`among` with the list bound by name when the statement runs: one statement object reused, so it is not
    built, keyed and looked up in SQLAlchemy's cache again on each request."""
    return Among(column, bindparam(name, type_=ARRAY(column.type)), column.in_(bindparam(name, expanding=True)))


@compiles(Among)
def _among(element: Among, compiler, **kw) -> str:
    return compiler.process(element.listed, **kw)


@compiles(Among, "postgresql")
def _among_postgresql(element: Among, compiler, **kw) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.array, **kw)})"


def by_key(session: Any, columns: list, key: Any, values: list, where: dict) -> Select:
    """SELECT `columns` of the rows whose `key` is among `values` and whose columns equal `where`'s values
    (see the module's docstring)."""
    if session.get_bind().dialect.name != "postgresql":
        return select(*columns).where(key.in_(values), *(column == value for column, value in where.items()))
    wanted = func.unnest(bindparam(None, list(values), type_=ARRAY(key.type))).table_valued("value").render_derived()
    probe = select(*columns, *where).where(key == wanted.c.value).offset(0).lateral()
    return (select(*(probe.c[column.key] for column in columns)).select_from(wanted).join(probe, true())
            .where(*(probe.c[column.key] == value for column, value in where.items())))


def empty(connection: Any, table: str) -> None:
    """Empty a temporary staging table on a SQLAlchemy connection. PostgreSQL: TRUNCATE. A DELETE leaves the rows
    dead, nothing vacuums a temporary table, and the next scan reads them all again: the sync's staging table
    grew by a batch at every batch, each batch's insert scanned every batch before it, and a worker's
    long-lived connection kept the bloat from one run to the next."""
    connection.exec_driver_sql(f"{'TRUNCATE' if connection.dialect.name == 'postgresql' else 'DELETE FROM'} {table}")


def copy_rows(connection: Any, table: str, columns: Iterable[str], rows: Iterable[tuple]) -> None:
    """COPY `rows` (tuples in `columns`' order) into `table` on a SQLAlchemy connection to PostgreSQL, in its
    transaction."""
    with connection.connection.driver_connection.cursor() as cursor, \
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
