"""SQL shapes that keep a query on the indexes whatever the tables hold (issue 14).

`in_ids(column, subquery)`: `column IN (subquery)` where the subquery yields a few ids from an index (a
PM's projects' timesheets, a project's entries). PostgreSQL may plan an IN as a semi-join that reads the
outer table's whole filtered side (every submitted timesheet of the organization) and hashes the ids;
`column = ANY(ARRAY(subquery))` runs the subquery once and fetches the outer rows by their index, so
the cost follows the ids, not the table. SQLite gets a plain IN, which it already runs that way.

`among(column, values)`: `column` in a list of values, as one array parameter on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, Boolean, bindparam
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

    def __init__(self, column: Any, values: list) -> None:
        self.column = column
        self.array = bindparam(None, list(values), type_=ARRAY(column.type))
        self.listed = column.in_(values)

    def self_group(self, against=None) -> Among:
        return self


def among(column: Any, values: Iterable) -> Among:
    return Among(column, list(values))


@compiles(Among)
def _among(element: Among, compiler, **kw) -> str:
    return compiler.process(element.listed, **kw)


@compiles(Among, "postgresql")
def _among_postgresql(element: Among, compiler, **kw) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.array, **kw)})"
