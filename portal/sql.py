"""SQL shapes that keep a query on the indexes whatever the tables hold (issue 14).

`in_ids(column, subquery)`: `column IN (subquery)` where the subquery yields a few ids from an index (a
PM's projects' timesheets, a project's entries). PostgreSQL may plan an IN as a semi-join that reads the
outer table's whole filtered side (every submitted timesheet of the organization) and hashes the ids;
`column = ANY(ARRAY(subquery))` runs the subquery once and fetches the outer rows by their index, so
the cost follows the ids, not the table. SQLite gets a plain IN, which it already runs that way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean
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
