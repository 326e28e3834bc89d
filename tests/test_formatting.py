"""How numbers and sentences read on a page (issue 15: hours with at most two decimals, "1 project", no "..")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.formatting import hours, hours_text, plural, sentence


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
