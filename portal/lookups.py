"""Searchable selects: a choice among an unbounded number of records (projects, people, offerings, tasks,
clients, users) is a text box that asks the server for the first matches as the person types, never a
`<select>` listing a whole table.

A domain registers each kind of lookup once (`register`, run when the app factory imports the domain's
lookups module): how to search it and how to name one chosen record. `GET /lookup/<kind>?q=...`
(portal/projects/lookup_views.py) answers with at most `LIMIT` options; the
page renders the box with `templates/macros/lookup.html` and `static/js/lookup.js` runs it (keyboard:
arrows, Enter, Escape). A form field is a `LookupField`: it holds the chosen id, and `resolve` names it,
so a form re-rendered with errors shows what was chosen and an id that names nothing is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session
from wtforms import SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from portal.errors import NotFound

LIMIT = 20


@dataclass(frozen=True)
class Option:
    value: int
    label: str
    hint: str = ""  # shown beside the label in the list ("your assignment", an email)


# search(session, user, text, params, limit) -> options in order; describe(session, ids) -> {id: label}
Search = Callable[[Session, Any, str, Mapping[str, str], int], list[Option]]
Describe = Callable[[Session, list[int]], dict[int, str]]


@dataclass(frozen=True)
class Lookup:
    search: Search
    describe: Describe
    noun: str  # "project": for "No project matches" and "Not a project we know"


KINDS: dict[str, Lookup] = {}


def register(kind: str, search: Search, describe: Describe, noun: str) -> None:
    KINDS[kind] = Lookup(search, describe, noun)


def lookup(kind: str) -> Lookup:
    if kind not in KINDS:
        raise NotFound("There is no such list.")
    return KINDS[kind]


def search(session: Session, user: Any, kind: str, text: str, params: Mapping[str, str]) -> tuple[list[Option], bool]:
    """The first `LIMIT` options matching `text`, and whether more match."""
    found = lookup(kind).search(session, user, text.strip()[:100], params, LIMIT + 1)
    return found[:LIMIT], len(found) > LIMIT


def describe(session: Session, kind: str, ids: list[int]) -> dict[int, str]:
    return lookup(kind).describe(session, ids) if ids else {}


def name(session: Session, kind: str, ident: int | None) -> str:
    """The label of one chosen record (a filter's current value), or "" for none."""
    return describe(session, kind, [ident]).get(ident, "") if ident is not None else ""


def contains(column, text: str):
    """A case-insensitive substring match (ILIKE on PostgreSQL, LIKE on SQLite), wildcards in `text` escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


class _Lookup:
    """What both lookup fields share: the kind of record they choose among, ids as values, and the choices
    named from the chosen ids only (`_name`)."""

    def __init__(self, label=None, validators=None, kind: str = "", **kwargs):
        kwargs.setdefault("coerce", _optional_int)
        kwargs.setdefault("choices", [])
        super().__init__(label, validators, **kwargs)
        self.kind = kind

    def _name(self, session: Session, ids: list[int]) -> None:
        self.choices = [SelectChoice(value, label) for value, label in describe(session, self.kind, ids).items()]


class LookupField(_Lookup, SelectField):
    """A single choice among records of `kind`; `resolve(session)` before validating or rendering."""

    def resolve(self, session: Session) -> None:
        self._name(session, [self.data] if isinstance(self.data, int) else [])

    @property
    def chosen(self) -> str:
        return next((label for _, label, match, *_ in self.iter_choices() if match), "")

    def pre_validate(self, form) -> None:
        # An empty value is for the field's own validators (DataRequired or Optional) to judge.
        if self.data is not None and not any(match for _, _, match, *_ in self.iter_choices()):
            raise ValidationError("Not one we know: choose from the list.")


class LookupMultipleField(_Lookup, SelectMultipleField):
    """Several records of `kind` (chosen one by one in the box, each shown with a Remove button)."""

    def resolve(self, session: Session) -> None:
        self._name(session, [v for v in self.data or [] if isinstance(v, int)])

    @property
    def chosen(self) -> list[SelectChoice]:
        return [SelectChoice(value, label) for value, label, match, *_ in self.iter_choices() if match]

    def pre_validate(self, form) -> None:
        known = {self.coerce(value) for value, *_ in self.iter_choices()}
        if any(v not in known for v in self.data or []):
            raise ValidationError("Not one we know: choose from the list.")


MAX_ID = 2**31 - 1  # ids are 32-bit integers: a larger number names nothing (and must not reach the database)


def _optional_int(value):
    if value in (None, "", "None"):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError("Choose from the list.") from None
    if not 0 < number <= MAX_ID:
        raise ValueError("Choose from the list.")
    return number
