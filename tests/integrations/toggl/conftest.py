"""Fixtures of the Toggl connector tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def clocked(toggl):
    """A sleep that moves the sandbox's clock instead of waiting, recording each wait."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        toggl.advance(seconds)

    sleep.slept = slept
    return sleep
