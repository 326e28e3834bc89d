"""Fixtures of the Toggl connector tests."""

from __future__ import annotations

import pytest

from tests.integrations.toggl.time_sync_support import PAGE


@pytest.fixture
def clocked(toggl):
    """A sleep that moves the sandbox's clock instead of waiting, recording each wait."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        toggl.advance(seconds)

    sleep.slept = slept
    return sleep


@pytest.fixture
def small_pages(app, monkeypatch):
    """Toggl's report pages of PAGE rows instead of 50, so a few entries make several pages."""
    monkeypatch.setitem(app.config, "TOGGL_REPORT_PAGE_SIZE", PAGE)
