"""A PM logs in, opens the project list, creates a project and gives it an offering, all through htmx."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.projects.models import Offering, Project
from tests.conftest import browser_login, pick
from tests.factories import ClientFactory, UserFactory


@pytest.mark.browser
def test_pm_creates_a_project_with_an_offering(page, committed):
    with committed():
        UserFactory(email="pm@example.test", name="Pat PM", role="pm", permissions=["create_projects"])
        ClientFactory(name="Northwind")
    browser_login(page, "pm@example.test")

    page.click("nav >> text=Projects")
    page.wait_for_selector("h1:has-text('Projects')")
    page.click("text=New project")

    # A blank name (the browser's own check passes spaces) comes back in place as a 422, message by the field.
    page.fill("input[name=name]", "   ")
    pick(page, "Client", "north", "Northwind")
    page.click("button:has-text('Create project')")
    page.wait_for_selector("#project-form .has-error")
    assert page.url.endswith("/projects/new")

    page.fill("input[name=name]", "Northwind portal")
    page.select_option("select[name=stage_id]", label="Planning")
    pick(page, "Project manager", "Pat")
    page.click("button:has-text('Create project')")
    page.wait_for_url("**/offerings")
    page.wait_for_selector("text=Created Northwind portal")

    page.fill("#offering-form input[name=name]", "Discovery")
    page.select_option("#offering-form select[name=billing_model]", label="Fixed Bid")
    page.fill("#offering-form input[name=sold_hours]", "40")
    page.click("button:has-text('Add offering')")
    page.wait_for_selector("#offering-form .form-error, #offering-form .has-error")  # a fixed bid needs its fee
    page.fill("#offering-form input[name=fixed_fee]", "8000")
    page.click("button:has-text('Add offering')")
    page.wait_for_selector("table >> text=Discovery")

    page.click("nav.tabs >> text=Overview")
    page.wait_for_selector("h2:has-text('Project info')")
    assert page.url.endswith(f"/projects/{_project_id(committed)}")

    with committed() as session:
        offering = session.scalar(select(Offering))
        assert (offering.name, offering.billing_model, str(offering.fixed_fee)) == ("Discovery", "fixed_bid", "8000.00")


def _project_id(committed) -> int:
    with committed() as session:
        return session.scalar(select(Project.id).where(Project.name == "Northwind portal"))
