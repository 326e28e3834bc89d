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
  field's places and within what the columns hold, whole numbers within MAX_INT, dates within DATE_RANGE;
- JSON bodies (webhook deliveries): `json_document` parses within bounds (nesting depth, finite numbers,
  whole numbers of at most 20 digits, no NUL), and `json_id`, `json_text`, `json_instant`, `json_whole`,
  `json_bool`, `json_object` read one field of the sender's documented shape, raising BadShape (a
  ValueError) naming the field. Views that read their body themselves are marked `@raw_body`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from flask import current_app, request
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter

from portal.columns import MONEY, largest
from portal.errors import InvalidInput, InvalidQuery

MAX_INT = 2**31 - 1  # PostgreSQL's integer: every id and whole-number column
MAX_ID = MAX_INT
DATE_RANGE = (date(1900, 1, 1), date(2999, 12, 31))  # what dates of work, periods and plans are about
# The largest number any numeric column holds (MONEY); narrower columns bound their fields with NumberRange.
MAX_NUMBER = largest(MONEY)
MAX_JSON_DEPTH = 32  # objects and lists within each other; the tools' events nest three or four deep
MAX_EXTERNAL_ID = 64  # characters of another system's id (SyncMessage.external_id)
View = TypeVar("View", bound=Callable[..., Any])


class IdConverter(IntegerConverter):
    """`<int:...>` in routes: a non-negative whole number a database id can be; larger ones match no route."""

    def __init__(self, url_map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,  # noqa: A002
                 signed: bool = False) -> None:
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=MAX_ID if max is None else max,
                         signed=signed)


def raw_body(view: View) -> View:
    """Mark a view that reads its request body itself, bounded (webhooks): no hook parses it as a form first."""
    view.raw_body = True  # type: ignore[attr-defined]
    return view


def refuse_nul() -> None:
    """A before_request hook: no NUL character anywhere in the path, the query or a submitted form."""
    if "\x00" in request.path:
        raise InvalidQuery("The address contains a NUL character.")
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise InvalidQuery(f"The query parameter {_shown(name)} contains a NUL character.")
    view = current_app.view_functions.get(request.endpoint or "")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") \
            and not getattr(view, "raw_body", False):
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


# JSON bodies ------------------------------------------------------------------------------------------

class BadShape(ValueError):
    """A JSON body that is not the shape its sender documents; the message names the field."""


def _no_constant(name: str) -> Any:
    raise BadShape(f"{name} is not a JSON number the portal reads.")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadShape(f"the number {text[:20]} is out of range.")
    return value


def _whole(text: str) -> int:
    if len(text.lstrip("-")) > 20:
        raise BadShape("a whole number has more than 20 digits.")
    return int(text)


def json_document(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A JSON document from an untrusted body: UTF-8, finite numbers (no NaN, Infinity, 1e309), whole numbers
    of at most 20 digits, no NUL character in any string, at most `max_depth` levels of nesting."""
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite,
                              parse_int=_whole)
    except RecursionError:
        raise BadShape(f"the JSON nests deeper than {max_depth} levels.") from None
    except BadShape:
        raise
    except ValueError as error:  # not UTF-8, not JSON
        raise BadShape(f"the body is not JSON ({str(error)[:80]}).") from None
    pending = [(document, 1)]
    while pending:  # iterative: a hostile depth cannot exhaust the stack here
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                raise BadShape(f"the JSON nests deeper than {max_depth} levels.")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and "\x00" in key:
                    raise BadShape("a key contains a NUL character.")
                pending.append((item, depth + 1))
        elif isinstance(value, str) and "\x00" in value:
            raise BadShape("a string contains a NUL character.")
    return document


def json_object(value: Any, name: str, required: bool = False) -> dict:
    """An object field (absent or null: {} unless `required`)."""
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise BadShape(f"{name!r} must be an object.")
    return value


def json_id(value: Any, name: str, required: bool = False) -> str | None:
    """Another system's id: a whole number (0 to 2**63 - 1) or a string of 1 to MAX_EXTERNAL_ID characters."""
    if value is None or value == "":
        if required:
            raise BadShape(f"{name!r} is missing.")
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return str(value)
    if isinstance(value, str) and len(value) <= MAX_EXTERNAL_ID and value.isprintable():
        return value
    raise BadShape(f"{name!r} must be an id (a whole number or up to {MAX_EXTERNAL_ID} characters).")


def json_text(value: Any, name: str, max_length: int, required: bool = False) -> str:
    """A string field of at most `max_length` characters (absent or null: "" unless `required`)."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise BadShape(f"{name!r} must be a string.")
    if len(value) > max_length or (required and not value):
        raise BadShape(f"{name!r} must be 1 to {max_length} characters.")
    return value


def json_instant(value: Any, name: str, required: bool = False) -> datetime | None:
    """An ISO 8601 instant string within DATE_RANGE (UTC when it names no offset); absent or null: None."""
    if value is None or value == "":
        if required:
            raise BadShape(f"{name!r} is missing.")
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise BadShape(f"{name!r} must be an ISO 8601 date and time string.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadShape(f"{name!r} must be an ISO 8601 date and time string.") from None
    if not DATE_RANGE[0].year <= moment.year <= DATE_RANGE[1].year:
        raise BadShape(f"{name!r} must be between {DATE_RANGE[0].year} and {DATE_RANGE[1].year}.")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def json_whole(value: Any, name: str, bound: int, required: bool = False) -> int | None:
    """A whole-number field from -bound to bound (a JSON integer, not a string, float or boolean)."""
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > bound:
        raise BadShape(f"{name!r} must be a whole number from {-bound} to {bound}.")
    return value


def json_bool(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise BadShape(f"{name!r} must be true or false.")

def clean_name(name: str | None, what: str, limit: int) -> str:
    """A record's name as services store it: stripped, not empty, at most `limit` characters (its column's)."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput(f"Enter the {what}'s name.", fields={"name": "Enter a name."})
    if len(name) > limit:
        raise InvalidInput(f"A {what} name has at most {limit} characters.", fields={"name": "Too long."})
    return name
