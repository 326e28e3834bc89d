"""A PM provisions an offering from the Integrations tab, watches the progress bar finish, sees the green
dot and the link, and the Toggl sandbox holds the project with its team."""

from decimal import Decimal

import pytest

from portal.integrations.models import ClientLink
from tests.conftest import browser_login
from tests.factories import (
    AssignmentFactory,
    ClientFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    UserFactory,
)
from tests.toggl_sandbox import make_connection


def _pm_on_the_tab(page, committed, toggl, members: tuple[str, ...] = ()):
    """A PM on the Integrations tab of a project of the mapped client Northwind: the row of its offering, and the
    Toggl client's id."""
    world = toggl.standard(members=list(members))
    toggl_client = toggl.seed(clients=[{"workspace_id": world.workspace_id, "name": "Northwind"}])["clients"][0]
    with committed() as session:
        pm = UserFactory(email="pm@example.test", role="pm")
        connection = make_connection(session, world)
        northwind = ClientFactory(name="Northwind Traders")
        session.add(ClientLink(connection_id=connection.id, client_id=northwind.id,
                               external_id=str(toggl_client["id"]), external_name="Northwind", method="connected"))
        project = ProjectFactory(name="Northwind data platform", client=northwind, pm=pm)
        offering = OfferingFactory(project=project, name="Platform build", sold_hours=Decimal("400"))
        for email in members:
            AssignmentFactory(offering=offering, resource=ResourceFactory(email=email))
        session.flush()
        project_id, offering_name = project.id, offering.name

    browser_login(page, "pm@example.test")
    page.goto(f"/projects/{project_id}/integrations")
    return page.locator(f"tbody[data-offering='{offering_name}']"), toggl_client["id"]


@pytest.mark.browser
def test_pm_provisions_an_offering_and_sees_it_linked(page, committed, toggl, run_jobs):
    row, toggl_client_id = _pm_on_the_tab(page, committed, toggl, ("dana@example.test", "lee@example.test"))
    row.get_by_text("Not linked").wait_for()
    row.get_by_role("button", name="Provision New").click()
    row.get_by_role("progressbar").wait_for()  # the run is queued; the row polls it

    run_jobs()  # the worker, in the test thread, while the browser keeps polling

    row.get_by_text("Provisioned the Toggl project Platform build").wait_for()
    assert row.get_by_role("progressbar").count() == 0
    assert row.locator("[data-dot='green']").count() == 1
    link = row.get_by_role("link", name="View in Toggl")
    project_url = link.get_attribute("href")
    assert project_url.startswith(toggl.url) and project_url.endswith("/team")

    (toggl_project,) = toggl.projects()
    assert toggl_project["name"] == "Platform build" and toggl_project["client_id"] == toggl_client_id
    assert set(toggl.team(toggl_project["id"])) == {"integration@example.test", "dana@example.test",
                                                    "lee@example.test"}
    page.goto(project_url)  # "View in Toggl" opens the sandbox's project page
    page.get_by_role("heading", name="Platform build").wait_for()


@pytest.mark.browser
def test_connect_existing_keeps_what_was_typed_with_the_reason(page, committed, toggl):
    """Bad input used to close the form, lose what was typed and offer a Retry that could not help."""
    row, _ = _pm_on_the_tab(page, committed, toggl)
    row.get_by_role("button", name="Connect Existing").click()
    typed = row.get_by_label("…or its id, or paste its URL")
    typed.fill("987654321")
    row.get_by_role("button", name="Connect", exact=True).click()
    row.get_by_text("has no project 987654321: check the id or the link").first.wait_for()
    assert row.get_by_label("…or its id, or paste its URL").input_value() == "987654321"
    assert row.get_by_role("button", name="Retry").count() == 0
    assert row.get_by_role("button", name="Connect", exact=True).count() == 1
