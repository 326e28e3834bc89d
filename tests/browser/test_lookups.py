"""Searchable selects in the browser: typed and chosen with the keyboard alone, on a phone-sized screen."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import browser_login
from tests.factories import ProjectFactory, UserFactory


@pytest.mark.browser
def test_an_approver_filters_the_queue_by_project_with_the_keyboard_on_a_phone(page, committed):
    with committed():
        UserFactory(email="approver@example.test", role="approver")
        for name in ("Alpha harbour", "Alpine lodge", "Beta tower"):
            ProjectFactory(name=name)
    page.set_viewport_size({"width": 390, "height": 800})
    browser_login(page, "approver@example.test")
    page.goto("/approvals")

    box = page.get_by_role("combobox", name="Project", exact=True)
    box.focus()
    page.keyboard.type("alp")
    listbox = page.get_by_role("listbox", name="Project")
    listbox.get_by_role("option", name="Alpine lodge").wait_for()
    assert listbox.get_by_role("option").count() == 2
    edge = listbox.bounding_box()
    assert edge["x"] >= 0 and edge["x"] + edge["width"] <= 390  # the list fits the screen
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert box.get_attribute("aria-expanded") == "true" and box.get_attribute("aria-activedescendant")
    with page.expect_response(lambda r: "/approvals?" in r.url):
        page.keyboard.press("Enter")
    assert box.input_value() == "Alpine lodge" and listbox.is_hidden()
    with committed() as session:
        from portal.projects.models import Project

        alpine = session.scalar(select(Project.id).where(Project.name == "Alpine lodge"))
    page.wait_for_url(f"**project={alpine}**")

    # Escape puts the chosen name back; emptying the box and leaving it clears the filter.
    page.keyboard.type(" x")
    page.keyboard.press("Escape")
    assert box.input_value() == "Alpine lodge"
    box.fill("")
    with page.expect_response(lambda r: "/approvals?" in r.url):
        page.keyboard.press("Tab")
    page.wait_for_url(lambda url: f"project={alpine}" not in url)
