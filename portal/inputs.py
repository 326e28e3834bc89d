"""The input layer: what a value from a request must be before any view or service reads it.

Every value a browser (or anyone) sends is held to what the database columns can store and what the rules
can compute with, so bad input is a clear 4xx naming the field and never a 500 or a half-written record:

- ids in paths: the `int` URL converter stops at MAX_ID (the id columns are 32-bit integers), so a larger
  one is simply a page that does not exist (404);
- NUL characters, which no text column stores: refused for the whole request before any view runs (a form
  field: 422; a query parameter or the path: 400), see `refuse_nul`;
- query parameters: read through `query_int`, `query_date`, `query_choice`, which answer 400 naming the
  parameter instead of guessing;
- form values read without a WTForms form: `form_ids`, `form_id` (422 naming the field);
- WTForms fields: every PortalForm applies `field_filters` (portal/forms.py): finite numbers rounded to the
  field's places and within what the columns hold, whole numbers within MAX_INT, dates within DATE_RANGE.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from flask import request
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter

from portal.columns import MONEY, largest
from portal.errors import InvalidInput, InvalidQuery

MAX_INT = 2**31 - 1  # PostgreSQL's integer: every id and whole-number column
MAX_ID = MAX_INT
DATE_RANGE = (date(1900, 1, 1), date(2999, 12, 31))  # what dates of work, periods and plans are about
# The largest number any numeric column holds (MONEY); narrower columns bound their fields with NumberRange.
MAX_NUMBER = largest(MONEY)


class IdConverter(IntegerConverter):
    """`<int:...>` in routes: a non-negative whole number a database id can be; larger ones match no route."""

    def __init__(self, url_map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,  # noqa: A002
                 signed: bool = False) -> None:
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=MAX_ID if max is None else max,
                         signed=signed)


def refuse_nul() -> None:
    """A before_request hook: no NUL character anywhere in the path, the query or a submitted form."""
    if "\x00" in request.path:
        raise InvalidQuery("The address contains a NUL character.")
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise InvalidQuery(f"The query parameter {_shown(name)} contains a NUL character.")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            if "\x00" in name or "\x00" in value:
                message = f"{_shown(name)} contains a NUL character; remove it and try again."
                raise InvalidInput(message, fields={name: "Contains a NUL character."})


def _shown(name: str) -> str:
    return repr(name.replace("\x00", "")[:40])


def _source(values: MultiDict | None) -> MultiDict:
    return request.args if values is None else values


def query_int(name: str, default: int | None = None, minimum: int = 0, values: MultiDict | None = None) -> int | None:
    """A whole-number query parameter (an id, a count); absent or empty: `default`. `values`: where to read it
    (the query string unless a filter form posts its fields)."""
    raw = _source(values).get(name, "").strip()
    if not raw:
        return default
    if not raw.lstrip("-").isdigit() or len(raw) > 12 or not minimum <= int(raw) <= MAX_INT:
        raise InvalidQuery(f"The query parameter {name!r} must be a whole number from {minimum} to {MAX_INT}.")
    return int(raw)


def query_date(name: str, values: MultiDict | None = None) -> date | None:
    """A date query parameter (YYYY-MM-DD); absent or empty: None."""
    raw = _source(values).get(name, "").strip()
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise InvalidQuery(f"The query parameter {name!r} must be a date like 2026-03-02.") from None
    if not DATE_RANGE[0] <= value <= DATE_RANGE[1]:
        raise InvalidQuery(f"The query parameter {name!r} must be a date between {DATE_RANGE[0].year} and "
                           f"{DATE_RANGE[1].year}.")
    return value


def query_choice(name: str, choices: Iterable[str], default: str, values: MultiDict | None = None) -> str:
    """A query parameter that is one of `choices`; absent: `default`."""
    raw = _source(values).get(name)
    if raw is None:
        return default
    allowed = list(choices)
    if raw not in allowed:
        raise InvalidQuery(f"The query parameter {name!r} must be one of: "
                           + ", ".join(repr(c) for c in allowed) + ".")
    return raw


def parse_id(raw: str | None, name: str) -> int | None:
    """A submitted id, or None when empty; InvalidInput naming the field otherwise."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 10 or int(raw) > MAX_ID:
        raise InvalidInput("Choose from the list.", fields={name: "Not one of the choices."})
    return int(raw)


def form_id(name: str) -> int | None:
    return parse_id(request.form.get(name), name)


def form_ids(name: str) -> list[int]:
    """Every id submitted under `name` (ticked boxes); empty values are skipped."""
    return [ident for raw in request.form.getlist(name) if (ident := parse_id(raw, name)) is not None]


def clean_name(name: str | None, what: str, limit: int) -> str:
    """A record's name as services store it: stripped, not empty, at most `limit` characters (its column's)."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput(f"Enter the {what}'s name.", fields={"name": "Enter a name."})
    if len(name) > limit:
        raise InvalidInput(f"A {what} name has at most {limit} characters.", fields={"name": "Too long."})
    return name
