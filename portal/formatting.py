"""Jinja filters: how money, hours, dates and instants read on a page."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from flask import current_app


def money(value: Decimal | None, blank: str = "—") -> str:
    if value is None:
        return blank
    return f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def hours(value: Decimal | None, blank: str = "—") -> str:
    if value is None:
        return blank
    return f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def hours_plain(value: Decimal | None, blank: str = "") -> str:
    """Hours that a program or a form reads back: two decimals, no thousands separator (CSV cells, the value
    of an input: `1,200.00` in an input would not parse when the form is saved)."""
    if value is None:
        return blank
    return f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"


def hours_text(value: Decimal | int | float | str | None) -> str:
    """Hours in a sentence: at most two decimals and no trailing zeros, with the unit: `1.5 h`, `8 h`."""
    if value is None:
        return "0 h"
    rounded = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = f"{rounded:,.2f}".rstrip("0").rstrip(".")
    return f"{text} h"


def day(value: date | None, blank: str = "—") -> str:
    return value.strftime("%a %d %b %Y") if value else blank


def instant(value: datetime | None, blank: str = "—") -> str:
    """An instant in the organization's timezone."""
    if value is None:
        return blank
    zone = ZoneInfo(current_app.config.get("PORTAL_TIMEZONE", "UTC"))
    return value.astimezone(zone).strftime("%d %b %Y %H:%M")


def plural(count: int, one: str, many: str | None = None) -> str:
    """`1 project`, `2 projects`; `many` for irregular words (`1 person`, `3 people`)."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


# A sentence's full stop after a name or a question that already ends one: "ACME, Inc..", "running?)." is fine,
# "Saturday?." is not. Three dots stay three dots.
_DOUBLED_STOP = re.compile(r"(?<=[^.])([.?!])\.(?=\s|$)")


def sentence(text: str | None) -> str:
    """A message as shown: no doubled full stop where a name or a question ends the sentence."""
    return _DOUBLED_STOP.sub(r"\1", text or "")


def label(value: str | None) -> str:
    """snake_case enum values as words: time_and_materials -> Time and materials."""
    return (value or "").replace("_", " ").capitalize()


FILTERS = {"money": money, "hours": hours, "hours_plain": hours_plain, "hours_text": hours_text, "day": day,
           "instant": instant, "label": label, "plural": plural, "sentence": sentence}
