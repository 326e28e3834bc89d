"""Admin pages: the re-push offered in Organization settings swaps only its own panel; mapping a tool's client
refreshes the table of the tool's clients."""

from __future__ import annotations

import pytest

from tests.conftest import browser_login
from tests.factories import ClientFactory, UserFactory
from tests.toggl_sandbox import make_connection


@pytest.mark.browser
def test_repush_after_saving_keeps_the_settings_form(page, committed, toggl, run_jobs):
    """Clicking "Re-push every linked Toggl project now" used to replace the whole form with the re-push panel."""
    world = toggl.standard()
    with committed() as session:
        UserFactory(email="root@example.test", role="super_admin")
        make_connection(session, world)

    browser_login(page, "root@example.test")
    page.goto("/settings/organization")
    page.get_by_label("Assignment Level Budgeting").check()
    page.get_by_role("button", name="Save settings").click()
    button = page.get_by_role("button", name="Re-push every linked Toggl project now")
    button.click()
    page.get_by_role("progressbar").wait_for()  # queued: the panel polls its run
    page.wait_for_timeout(1500)  # one poll while the run waits
    assert page.locator("#settings-form").count() == 1
    run_jobs()
    page.get_by_role("progressbar").wait_for(state="detached")  # the last poll shows the finished run
    form = page.locator("#settings-form")
    assert form.count() == 1
    assert form.get_by_label("Name").count() == 1 and form.get_by_role("button", name="Save settings").count() == 1
    assert form.locator("[id^=resync-]").count() == 1  # the panel took the button's place inside the form


@pytest.mark.browser
def test_map_to_a_duplicate_updates_the_tools_clients_table(page, committed, toggl, run_jobs):
    """After "Map to <client>" the tool's clients table used to offer the same mapping until a reload."""
    world = toggl.standard()
    toggl.seed(clients=[{"workspace_id": world.workspace_id, "name": "Acme"}])
    with committed() as session:
        UserFactory(email="admin@example.test", role="admin", permissions=["maintain_projects"])
        connection = make_connection(session, world)
        ClientFactory(name="Acme Inc")
        ClientFactory(name="ACME, Inc.")
        session.flush()
        connection_id = connection.id

    browser_login(page, "admin@example.test")
    page.goto(f"/settings/integrations/connections/{connection_id}/clients")
    table = page.locator(f"#tool-clients-{connection_id}")
    table.get_by_role("button", name="Map to Acme Inc").click()
    page.get_by_role("progressbar").wait_for()
    run_jobs()
    table.get_by_text("Also named like it").wait_for()  # refreshed once the row's run finished
    assert table.get_by_role("button", name="Map to Acme Inc").count() == 0
    assert table.get_by_role("link", name="Acme Inc").count() == 1
    assert table.get_by_role("button", name="Map to ACME, Inc.").count() == 1
