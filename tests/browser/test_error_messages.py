"""Every failed htmx request shows the server's own words (static/js/portal.js), whatever its status."""

from __future__ import annotations

import pytest

from portal.auth.models import Permission
from tests.conftest import browser_login
from tests.factories import ProjectFactory, UserFactory, stage

BANNER = "#flash .flash-error"


def _stage_editor(page, committed):
    with committed() as session:
        UserFactory(email="admin@example.test", role="admin", permissions=[Permission.SYSTEM_SETTINGS])
        ProjectFactory(name="Harbour app", stage=stage("Planning"))
        session.flush()
    browser_login(page, "admin@example.test")
    page.goto("/settings/stages")
    page.on("dialog", lambda dialog: dialog.accept())


@pytest.mark.browser
def test_deleting_a_stage_with_projects_shows_why_and_offers_to_move_them(page, committed):
    _stage_editor(page, committed)
    page.locator("tr:has(a:text-is('Planning'))").locator("button:has-text('Delete')").click()
    offer = page.locator("form.reassign")
    offer.wait_for()
    assert "Planning cannot be deleted while 1 project is in it" in offer.inner_text()
    assert page.locator(BANNER).count() == 0  # the 409 is the offer, not "The request failed"
    offer.locator("select").select_option(label="Opportunity")
    offer.locator("button[type=submit]").click()
    page.wait_for_selector("#flash:has-text('Moved 1 project and deleted the stage Planning.')")
    assert page.locator("tr:has(a:text-is('Planning'))").count() == 0


def _answer(status: int, content_type: str, body: str):
    return lambda route: route.fulfill(status=status, content_type=content_type, body=body)


@pytest.mark.browser
def test_errors_that_are_not_fragments_show_the_servers_words_or_say_the_network_failed(page, committed):
    _stage_editor(page, committed)
    delete = page.locator("tr:has(a:text-is('Opportunity')) button:has-text('Delete')")
    answers = [
        (502, "text/html", "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
                           "Gateway</h1></center><hr><center>nginx</center></body></html>",
         "The request failed: 502 Bad Gateway"),
        (500, "text/plain", "database is locked", "database is locked"),
        (422, "application/json", '{"message": "Stage names are unique."}', "Stage names are unique."),
        (403, "text/html", "", "The request failed (403"),
    ]
    for status, content_type, body, expected in answers:
        page.route("**/settings/stages/*/delete", _answer(status, content_type, body))
        delete.click()
        page.wait_for_selector(f"{BANNER}:has-text('{expected}')")
        page.unroute("**/settings/stages/*/delete")
        page.locator(f"{BANNER} .flash-close").click()

    page.route("**/settings/stages/*/delete", lambda route: route.abort("connectionrefused"))
    delete.click()
    page.wait_for_selector(f"{BANNER}:has-text('The portal could not be reached')")
    page.unroute("**/settings/stages/*/delete")
    # Nothing above swapped an error page into the list: the workflow is still there, with Opportunity.
    assert delete.count() == 1


@pytest.mark.browser
def test_a_refusal_by_the_portal_shows_its_reason(page, committed):
    """A Conflict raised by a service comes retargeted at the flash area with its message."""
    with committed() as session:
        UserFactory(email="admin@example.test", role="admin", permissions=[Permission.SYSTEM_SETTINGS])
        session.flush()
    browser_login(page, "admin@example.test")
    page.goto("/settings/stages")
    page.fill("#type-name", "Construction")
    page.click("button:has-text('Add engagement type')")
    page.wait_for_selector("h2:has-text('Construction')")
    with committed() as session:
        from sqlalchemy import select

        from portal.stages.models import EngagementType

        construction = session.scalar(select(EngagementType).where(EngagementType.name == "Construction"))
        ProjectFactory(name="Depot", engagement_type=construction, stage=construction.stages[0])
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("section:has(h2:has-text('Construction')) button:has-text('Delete type')")
    page.wait_for_selector(f"{BANNER}:has-text('Construction cannot be deleted: 1 project follows its workflow.')")
