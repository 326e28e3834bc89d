"""The stage editor's settings save themselves, and the workflow matrix edits every stage side by side."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.auth.models import Permission
from portal.extensions import db
from portal.stages.models import EngagementType, Stage
from tests.conftest import browser_login
from tests.factories import UserFactory


def _admin(committed) -> int:
    with committed() as session:
        UserFactory(email="admin@example.test", role="admin", permissions=[Permission.SYSTEM_SETTINGS])
        session.flush()
        return session.scalar(select(EngagementType.id).where(EngagementType.is_default.is_(True)))


def _flags(app, name: str, *keys: str) -> tuple:
    with app.app_context():
        stage = db.session.scalar(select(Stage).where(Stage.name == name))
        return tuple(stage.flag(key) for key in keys)


@pytest.mark.browser
def test_changes_in_two_groups_are_both_kept(app, page, committed):
    """The old editor saved one group at a time and silently dropped a change made in another group."""
    _admin(committed)
    browser_login(page, "admin@example.test")
    page.goto("/settings/stages")
    page.click("a:text-is('Planning')")
    page.wait_for_url("**/settings/stages/*")  # loaded, htmx bound: a change made earlier is not sent
    page.locator("#s-open_for_time").check()
    page.wait_for_selector("#status-open_for_time:has-text('Saved: Open for time off → on.')")
    page.locator("#s-pm_edit_rates").uncheck()
    page.wait_for_selector("#status-pm_edit_rates:has-text('Saved: Edit rates on → off.')")
    likelihood = page.locator("#s-percent_likelihood")
    likelihood.fill("140")
    likelihood.press("Enter")
    page.wait_for_selector("#status-percent_likelihood .error:has-text('must be between 0 and 100.')")
    assert page.locator("#s-percent_likelihood").input_value() == "140"  # what was typed stays, to correct
    page.locator("#s-percent_likelihood").fill("70")
    page.locator("#s-percent_likelihood").press("Tab")
    page.wait_for_selector("#status-percent_likelihood:has-text('Saved: Percent likelihood 60 % → 70 %.')")
    page.locator("#s-projection_basis-estimates").check()
    page.wait_for_selector("#status-projection_basis:has-text('Saved: Base projections on Bookings → Estimates.')")

    assert _flags(app, "Planning", "open_for_time", "pm_edit_rates", "percent_likelihood", "projection_basis") == (
        True, False, 70, "estimates")
    page.reload()
    assert page.locator("#s-open_for_time").is_checked() and not page.locator("#s-pm_edit_rates").is_checked()
    assert page.locator("#s-percent_likelihood").input_value() == "70"


@pytest.mark.browser
def test_the_workflow_matrix_edits_any_stage_and_filters_to_the_differences(app, page, committed):
    type_id = _admin(committed)
    browser_login(page, "admin@example.test")
    page.goto("/settings/stages")
    page.click("a:has-text('Every stage side by side')")
    page.wait_for_url(f"**/settings/stages/types/{type_id}/workflow")
    with app.app_context():
        ids = {s.name: s.id for s in db.session.scalars(select(Stage).where(Stage.engagement_type_id == type_id))}

    cell = page.locator(f"#m-{ids['Closed']}-open_for_time")
    assert not cell.is_checked()
    cell.check()
    page.wait_for_selector("#matrix-status:has-text('Saved: Closed · Open for time off → on.')")
    assert page.locator(f"#m-{ids['Closed']}-open_for_time").is_checked()

    likelihood = page.locator(f"#m-{ids['Opportunity']}-percent_likelihood")
    likelihood.fill("-5")
    likelihood.press("Enter")
    page.wait_for_selector("#matrix-status .error:has-text('Opportunity · Percent likelihood must be between 0')")
    assert page.locator(f"#m-{ids['Opportunity']}-percent_likelihood").get_attribute("aria-invalid") == "true"
    page.locator(f"#m-{ids['Opportunity']}-percent_likelihood").fill("30")
    page.locator(f"#m-{ids['Opportunity']}-percent_likelihood").press("Enter")
    page.wait_for_selector("#matrix-status:has-text('Saved: Opportunity · Percent likelihood 25 % → 30 %.')")
    page.locator(f"#m-{ids['In Progress']}-projection_basis").select_option("estimates")
    page.wait_for_selector("#matrix-status:has-text('Saved: In Progress · Base projections on Bookings → Estimates.')")
    assert _flags(app, "Closed", "open_for_time") == (True,)
    assert _flags(app, "Opportunity", "percent_likelihood") == (30,)
    assert _flags(app, "In Progress", "projection_basis") == ("estimates",)

    # Every stage allows MAEPS moves by default: the row is the same everywhere and the filter hides it.
    maeps = page.locator("tr[data-setting=maeps_move_from]")
    assert maeps.is_visible()
    page.check("#only-differences")
    assert not maeps.is_visible()
    assert page.locator("tr[data-setting=open_for_time]").is_visible()
    page.uncheck("#only-differences")
    assert maeps.is_visible()


@pytest.mark.browser
def test_the_matrix_scrolls_inside_its_card_on_a_phone(browser, live_server, committed):
    type_id = _admin(committed)
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    page = context.new_page()
    browser_login(page, "admin@example.test")
    page.goto(f"/settings/stages/types/{type_id}/workflow")
    scroll = page.locator(".matrix-scroll")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert scroll.evaluate("el => el.scrollWidth > el.clientWidth")  # the stages scroll inside the card
    scroll.evaluate("el => el.scrollLeft = el.scrollWidth")
    label = page.locator("tr[data-setting=open_for_time] th")
    assert label.bounding_box()["x"] >= 0  # the setting's name stays in view while the stages scroll
    context.close()
