"""Organization settings: the re-push offered after a pushed setting changed swaps only its own panel."""

from __future__ import annotations

import pytest

from tests.conftest import browser_login
from tests.factories import UserFactory
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
