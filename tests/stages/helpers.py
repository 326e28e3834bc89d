"""Helpers for tests that depend on stage settings or on today's date."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import time_machine

from portal.errors import Conflict, NotAllowed
from portal.stages.models import Stage


def set_flags(stage: Stage, **values) -> Stage:
    stage.settings = {**(stage.settings or {}), **values}
    return stage


@contextmanager
def on_day(day: date) -> Iterator[None]:
    """Freeze the clock at noon UTC of `day` (the organization's timezone is UTC in tests)."""
    with time_machine.travel(datetime(day.year, day.month, day.day, 12, tzinfo=UTC), tick=False):
        yield


def allowed(action) -> bool:
    """Run `action`; False when the portal refuses it (NotAllowed or Conflict), True when it goes through."""
    try:
        action()
    except (NotAllowed, Conflict):
        return False
    return True
