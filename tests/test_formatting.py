"""How numbers and sentences read on a page (issue 15: hours with at most two decimals, "1 project", no "..")."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from portal.formatting import hours, hours_plain, hours_text, plural, sentence


@pytest.mark.parametrize("value,text", [
    (Decimal("1.5000"), "1.5 h"), (Decimal("8.0000"), "8 h"), (Decimal("7.2500"), "7.25 h"),
    (Decimal("0.0083"), "0.01 h"), (Decimal("1234.5"), "1,234.5 h"), (Decimal("100.00"), "100 h"), (None, "0 h"),
])
def test_hours_in_a_sentence_have_at_most_two_decimals(value, text):
    assert hours_text(value) == text


def test_hours_in_a_table_have_two_decimals():
    assert hours(Decimal("37.5000")) == "37.50" and hours(None) == "—"


def test_plural():
    assert plural(1, "project") == "1 project" and plural(2, "project") == "2 projects"
    assert plural(1, "person", "people") == "1 person" and plural(0, "person", "people") == "0 people"


@pytest.mark.parametrize("text,shown", [
    ("Possible duplicate of ACME, Inc.. Map it instead.", "Possible duplicate of ACME, Inc. Map it instead."),
    ("Is the week starting Saturday?.", "Is the week starting Saturday?"),
    ("A timer left running (really?).", "A timer left running (really?)."),
    ("Loading...", "Loading..."),
    ("Saved.", "Saved."),
])
def test_a_sentence_never_ends_twice(text, shown):
    assert sentence(text) == shown


def test_hours_read_back_have_no_thousands_separator():
    """An input's value and a CSV cell: `1,200.00` in the Team tab's planned hours would not parse on save."""
    assert hours_plain(Decimal("1200.5000")) == "1200.50" and hours_plain(None) == ""


ROOT = Path(__file__).resolve().parent.parent
HAND_FORMATTED = re.compile(r"\{[^{}\"']*hours[^{}\"']*:[,.0-9]*f\}|\{[a-z_.]*hours\}"
                            r"|'%\.\d?f' *\| *format\([^)]*hours")


def test_hours_go_through_the_one_formatter():
    """Every message, table and CSV writes hours through portal.formatting (hours, hours_text, hours_plain):
    a hand-made `{x.hours}` shows `1.5000`, and two hand-made formats drift."""
    found = []
    for path in [*(ROOT / "portal").rglob("*.py"), *(ROOT / "templates").rglob("*.html"),
                 *(ROOT / "templates").rglob("*.txt")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if HAND_FORMATTED.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []
