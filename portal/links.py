"""Links for the rows of a page: url_for once per endpoint, then a string per row.

A page of 25 rows with two or three links each called url_for 50–75 times, a fifth of the approvals page's
rendering (issue 14: approvals under load). The rows of one page link to the same endpoints with one
integer argument changing, so the URL is built once with a marker in that place and each row's link is the
marker replaced by its id; anything the marker cannot stand for (it appears twice) falls back to url_for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import url_for

_MARKER = 2_147_483_647  # an id no row on a page has (PostgreSQL's largest integer)


def url_for_each(endpoint: str, key: str, **values: Any) -> Callable[[int], str]:
    """A function of an integer `key` argument returning url_for(endpoint, key=that, **values)."""
    built = url_for(endpoint, **{key: _MARKER}, **values)
    head, marker, tail = built.partition(str(_MARKER))
    if not marker or str(_MARKER) in tail:
        return lambda ident: url_for(endpoint, **{key: ident}, **values)
    return lambda ident: f"{head}{int(ident)}{tail}"
