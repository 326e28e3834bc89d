"""Helpers for stage tests: set a stage's settings directly, and freeze today's date."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timezone

import pytest
import time_machine

from portal.stages.models import Stage


def set_flags(stage: Stage, **values) -> Stage:
    stage.settings = {**(stage.settings or {}), **values}
    return stage


@contextmanager
def on_day(day: date):
    """Freeze the clock at noon UTC of `day` (the organization's timezone is UTC in tests)."""
    with time_machine.travel(datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc), tick=False):
        yield


@pytest.fixture
def pm_project(session):
    """A project in In Progress with a PM (a user with the pm role) on its team; returns (pm, project)."""
    from tests.factories import ProjectFactory, UserFactory

    pm = UserFactory(role="pm")
    project = ProjectFactory(pm_id=pm.id)
    session.flush()
    return pm, project
