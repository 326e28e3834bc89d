"""Browser flows of the stage editor: an admin's change reaches a PM; a PM moves a project."""

from __future__ import annotations

import pytest

from portal.auth.models import Permission
from tests.conftest import browser_login
from tests.factories import OfferingFactory, ProjectFactory, UserFactory, stage
from tests.stages.helpers import set_flags


@pytest.mark.browser
def test_an_admin_turns_a_pm_right_off_and_the_pm_is_refused(browser, live_server, page, committed):
    with committed() as session:
        UserFactory(email="admin@example.test", role="admin", permissions=[Permission.SYSTEM_SETTINGS])
        pm = UserFactory(email="pm@example.test", role="pm")
        project = ProjectFactory(name="Harbour app", pm=pm)
        set_flags(stage("In Progress"), pm_edit_tasks=True)
        session.flush()
        project_id = project.id

    # The PM has the Plan tab open, with the "Add task" form the stage allows.
    pm_context = browser.new_context(base_url=live_server)
    pm_page = pm_context.new_page()
    browser_login(pm_page, "pm@example.test")
    pm_page.goto(f"/projects/{project_id}/plan")
    pm_page.fill("#new-task-name", "Kick-off")
    pm_page.click("text=Add task")
    pm_page.wait_for_selector("input[aria-label='Name of task Kick-off']")

    # The admin turns "Edit tasks" off for In Progress, in the stage editor.
    browser_login(page, "admin@example.test")
    page.click("nav summary:has-text('Admin')")
    page.click("nav >> text=Stages")
    page.click("a:has-text('In Progress')")
    page.locator("#s-pm_edit_tasks").uncheck()  # saves itself
    page.wait_for_selector("#setting-pm_edit_tasks .saved:has-text('Saved: Edit tasks on → off.')")

    # The PM's next task is refused with the stage's reason, and the form is gone on reload.
    pm_page.fill("#new-task-name", "Design review")
    pm_page.click("text=Add task")
    pm_page.wait_for_selector("#flash .flash-error:has-text('You cannot change the task plan while Harbour app "
                              "is in In Progress.')")
    pm_page.reload()
    pm_page.wait_for_selector("text=The task plan cannot be changed by you while the project is in In Progress.")
    assert pm_page.locator("#new-task-name").count() == 0
    assert pm_page.locator("text=Design review").count() == 0
    pm_context.close()


@pytest.mark.browser
def test_a_pm_moves_a_project_and_the_dialog_offers_only_allowed_targets(page, committed):
    with committed() as session:
        pm = UserFactory(email="mover@example.test", role="pm")
        project = ProjectFactory(name="Bridge survey", pm=pm, stage=stage("Planning"))
        OfferingFactory(project=project)
        set_flags(stage("Pre-Close"), pm_move_to=False)
        set_flags(stage("Closed"), pm_move_to=False)
        session.flush()
        project_id = project.id

    browser_login(page, "mover@example.test")
    page.goto(f"/projects/{project_id}")
    page.click("#move-button")
    select = page.locator("#move-dialog select[name=stage_id]")
    select.wait_for()
    options = select.locator("option").all_inner_texts()
    assert options == ["Choose…", "Opportunity", "In Progress"]
    assert page.locator("#move-dialog button[type=submit]").is_disabled()

    select.select_option(label="In Progress")
    page.wait_for_selector("#move-dialog button:has-text('Move to In Progress')")
    page.click("#move-dialog button:has-text('Move to In Progress')")
    page.wait_for_selector("#flash:has-text('Moved Bridge survey from Planning to In Progress.')")
    assert page.locator(".project-head .badge").inner_text() == "In Progress"
