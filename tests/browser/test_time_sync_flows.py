"""An admin syncs every project from Admin → Integrations → Sync log, watches the progress bar and finds the
time on the project's timesheets marked From Toggl; then links an unmatched person, whose time appears."""

from __future__ import annotations

import pytest

from portal.integrations.models import ClientLink, Connection, ProjectLink
from portal.integrations.toggl import time_runs
from tests.conftest import browser_login
from tests.factories import (
    AssignmentFactory,
    ClientFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    UserFactory,
)
from tests.integrations.toggl.time_sync_support import days_ago
from tests.toggl_sandbox import make_connection


def _world(committed, toggl):
    world = toggl.standard(members=["dana@example.test", "lee@example.test"])
    toggl_project = toggl.seed(projects=[{"workspace_id": world.workspace_id, "name": "Platform build"}])["projects"][0]
    with committed() as session:
        UserFactory(email="admin@example.test", role="admin")
        connection = make_connection(session, world)
        client = ClientFactory(name="Northwind Traders")
        session.add(ClientLink(connection_id=connection.id, client_id=client.id, external_id="1",
                               external_name="Northwind", method="connected"))
        project = ProjectFactory(name="Northwind data platform", client=client)
        offering = OfferingFactory(project=project, name="Platform build")
        AssignmentFactory(offering=offering, resource=ResourceFactory(name="Dana", email="dana@example.test"))
        session.add(ProjectLink(connection_id=connection.id, offering_id=offering.id,
                                external_id=str(toggl_project["id"]), external_name="Platform build",
                                method="connected"))
        session.flush()
        ids = (connection.id, project.id, days_ago(10))
    return world, toggl_project["id"], ids


@pytest.mark.browser
def test_an_admin_syncs_every_project_and_finds_the_time_marked_from_toggl(page, committed, toggl, run_jobs):
    _, toggl_project_id, (connection_id, project_id, first_day) = _world(committed, toggl)
    toggl.entries(count=5, emails=["dana@example.test"], project_ids=[toggl_project_id],
                  start_date=first_day.isoformat(), days=3, seconds=5400, description="Schema work")

    browser_login(page, "admin@example.test")
    page.goto("/settings/integrations/toggl")
    page.click("text=Time sync and sync log")
    page.get_by_role("button", name="Sync all projects now").click()
    page.locator("#time-sync").get_by_role("progressbar").wait_for()  # queued: the card polls the run

    run_jobs()  # the worker, in the test thread, while the browser keeps polling

    page.locator("#time-sync").get_by_text("Finished: 5 new").wait_for()
    assert page.locator("#time-sync").get_by_role("progressbar").count() == 0
    assert "Skipped running timers: 0" in page.locator("#time-sync").inner_text()

    page.goto(f"/approvals?project={project_id}&status=")
    page.get_by_role("link", name="Dana").first.click()
    page.get_by_text("Entries (").click()
    marker = page.get_by_role("link", name="From Toggl").first
    marker.wait_for()
    assert marker.get_attribute("href").startswith(toggl.url)
    assert "Schema work" in page.locator("#timesheet").inner_text()


@pytest.mark.browser
def test_an_admin_links_an_unmatched_person_and_their_time_appears(page, committed, toggl, run_jobs):
    world, toggl_project_id, (connection_id, project_id, first_day) = _world(committed, toggl)
    toggl.entries(count=3, emails=["lee@example.test"], project_ids=[toggl_project_id],
                  start_date=first_day.isoformat(), days=3, seconds=3600)
    with committed() as session:
        time_runs.start(session, session.get(Connection, connection_id), "nightly")
        lee = ResourceFactory(name="Lee Adama", email="l.adama@example.test")
        lee_id = lee.id
    run_jobs()  # Lee's Toggl email matches no resource: their time waits

    browser_login(page, "admin@example.test")
    page.goto(f"/settings/integrations/connections/{connection_id}/sync-log")
    row = page.locator("table.unmatched tr[data-person='lee@example.test']")
    assert row.locator("td").nth(1).inner_text() == "3"
    row.get_by_role("combobox", name="Resource").fill("adama")  # a searchable select: people are unbounded
    row.get_by_role("option", name="Lee Adama").click()
    row.get_by_role("button", name="Link").click()
    page.get_by_text("their waiting time is being imported").wait_for()
    assert page.locator("table.unmatched tr[data-person='lee@example.test']").count() == 0

    run_jobs()  # the backfill

    page.goto(f"/time?resource={lee_id}&week={first_day.isoformat()}")
    page.get_by_role("link", name="From Toggl").first.wait_for()
    assert page.get_by_role("link", name="From Toggl").count() >= 1
