"""Keyset paging by (date, id): a page link names the last row shown, so deep pages cost what the first
does and rows added meanwhile neither repeat nor vanish. Used by lists ordered by a date, then id."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_

from portal.errors import InvalidInput, InvalidQuery
from portal.inputs import parse_id

T = TypeVar("T")


def after(day_column: Any, id_column: Any, cursor: str | None, descending: bool = False) -> ColumnElement | None:
    """The condition selecting rows past `cursor` in (day, id) order, or None for the first page."""
    if not cursor:
        return None
    try:
        text_day, text_id = cursor.split("_")
        day, ident = date.fromisoformat(text_day), parse_id(text_id, "after")
        if ident is None:
            raise ValueError(cursor)
    except (ValueError, InvalidInput):
        raise InvalidQuery("That page link is broken; start from the first page.") from None
    if descending:
        return or_(day_column < day, and_(day_column == day, id_column < ident))
    return or_(day_column > day, and_(day_column == day, id_column > ident))


def page(rows: Sequence[T], limit: int, key: Callable[[T], tuple[date, int]]) -> tuple[list[T], str | None]:
    """The first `limit` of `rows` (fetched with limit + 1) and the cursor of the next page, if any."""
    if len(rows) <= limit:
        return list(rows), None
    day, ident = key(rows[limit - 1])
    return list(rows[:limit]), f"{day.isoformat()}_{ident}"
