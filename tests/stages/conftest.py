"""Fixtures for stage tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def pm_project(session):
    """A project in In Progress whose PM (a user with the pm role) is `pm`; returns (pm, project)."""
    from tests.factories import ProjectFactory, UserFactory

    pm = UserFactory(role="pm")
    project = ProjectFactory(pm_id=pm.id)
    session.flush()
    return pm, project
