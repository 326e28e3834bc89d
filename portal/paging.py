"""Keyset paging by (date, id) or (name, id): a page link names the last row shown, so deep pages cost what
the first does (an index on the same columns serves it) and rows added meanwhile neither repeat nor vanish.
Used by lists ordered by a date, then id (approvals, ledgers) or by a name, then id (projects, clients,
people, users)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import Session

from portal.errors import InvalidInput, InvalidQuery
from portal.inputs import MAX_ID, parse_id

T = TypeVar("T")


def position(cursor: str | None) -> tuple[date, int] | None:
    """The (day, id) a page link names, or None for the first page."""
    if not cursor:
        return None
    try:
        text_day, text_id = cursor.split("_")
        day, ident = date.fromisoformat(text_day), parse_id(text_id, "after")
        if ident is None:
            raise ValueError(cursor)
    except (ValueError, InvalidInput):
        raise InvalidQuery("That page link is broken; start from the first page.") from None
    return day, ident


def after(day_column: Any, id_column: Any, cursor: str | None, descending: bool = False) -> ColumnElement | None:
    """The condition selecting rows past `cursor` in (day, id) order, or None for the first page."""
    if (past := position(cursor)) is None:
        return None
    return beyond(day_column, id_column, *past, descending=descending)


def beyond(day_column: Any, id_column: Any, day: Any, ident: Any, descending: bool = False) -> ColumnElement:
    """Rows past (day, ident) in (day, id) order: values, or parameters bound when the statement runs."""
    if descending:
        return or_(day_column < day, and_(day_column == day, id_column < ident))
    return or_(day_column > day, and_(day_column == day, id_column > ident))


def page(rows: Sequence[T], limit: int, key: Callable[[T], tuple[date, int]]) -> tuple[list[T], str | None]:
    """The first `limit` of `rows` (fetched with limit + 1) and the cursor of the next page, if any."""
    if len(rows) <= limit:
        return list(rows), None
    day, ident = key(rows[limit - 1])
    return list(rows[:limit]), f"{day.isoformat()}_{ident}"


def after_name(name_column: Any, id_column: Any, cursor: str | None) -> ColumnElement | None:
    """The condition selecting rows past `cursor` in (name, id) order, or None for the first page."""
    if not cursor:
        return None
    try:
        name, ident = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not (isinstance(name, str) and "\x00" not in name and isinstance(ident, int) and 0 <= ident <= MAX_ID):
            raise ValueError(cursor)
    except (ValueError, TypeError):
        raise InvalidQuery("That page link is broken; start from the first page.") from None
    return or_(name_column > name, and_(name_column == name, id_column > ident))


def page_by_name(rows: Sequence[T], limit: int, key: Callable[[T], tuple[str, int]]) -> tuple[list[T], str | None]:
    """The first `limit` of `rows` (fetched with limit + 1) and the cursor of the next page, if any."""
    if len(rows) <= limit:
        return list(rows), None
    return list(rows[:limit]), base64.urlsafe_b64encode(json.dumps(list(key(rows[limit - 1]))).encode()).decode()


def by_name(session: Session, query: Select, name_column: Any, id_column: Any, after: str | None,
            limit: int) -> tuple[list[Any], str | None]:
    """A page of `query`'s records in (name, id) order past the cursor `after`, and the next page's cursor: the
    order, the limit, the cursor's condition and the next cursor, for every list paged by a name."""
    position = after_name(name_column, id_column, after)
    if position is not None:
        query = query.where(position)
    rows = list(session.scalars(query.order_by(name_column, id_column).limit(limit + 1)))
    return page_by_name(rows, limit, lambda row: (getattr(row, name_column.key), getattr(row, id_column.key)))
