"""Rules every template keeps, read from the template sources."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TAG = re.compile(r"<[a-z][^<>]*(?:\{[{%][^}]*[}%]\}[^<>]*)*>", re.S)


def test_a_region_that_polls_names_its_own_target():
    """A poll (hx-trigger "load"/"every") without hx-target inherits an ancestor's: inside Organization
    settings' form (hx-target="this") the re-push panel's poll replaced the whole form."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        for tag in TAG.findall(path.read_text()):
            trigger = re.search(r'hx-trigger="([^"]*)"', tag)
            if trigger and re.search(r"\b(load|every)\b", trigger.group(1)) and "hx-target" not in tag:
                offenders.append(f"{path.relative_to(TEMPLATES)}: {tag[:80]}")
    assert offenders == []
