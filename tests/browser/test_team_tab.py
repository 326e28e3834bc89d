"""The Team tab (issue 15 item 19): a PM adds someone to a linked offering; the picker offered only people not
on it, and a note says what went to Toggl, its progress ending in what the push did."""

from decimal import Decimal

import pytest

from portal.integrations.models import ClientLink, ProjectLink
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


@pytest.mark.browser
def test_adding_someone_says_what_was_sent_to_toggl(page, committed, toggl, run_jobs):
    world = toggl.standard(members=["dana@example.test", "lee@example.test"])
    seeded = toggl.seed(clients=[{"workspace_id": world.workspace_id, "name": "Northwind"}],
                        projects=[{"workspace_id": world.workspace_id, "name": "Platform build"}])
    with committed() as session:
        pm = UserFactory(email="pm@example.test", role="pm", permissions=["maintain_projects"])
        connection = make_connection(session, world)
        northwind = ClientFactory(name="Northwind Traders")
        session.add(ClientLink(connection_id=connection.id, client_id=northwind.id,
                               external_id=str(seeded["clients"][0]["id"]), external_name="Northwind",
                               method="connected"))
        project = ProjectFactory(name="Northwind data platform", client=northwind, pm=pm)
        offering = OfferingFactory(project=project, name="Platform build", sold_hours=Decimal("400"))
        session.flush()
        session.add(ProjectLink(connection_id=connection.id, offering_id=offering.id,
                                external_id=str(seeded["projects"][0]["id"]), external_name="Platform build",
                                method="connected"))
        AssignmentFactory(offering=offering, resource=ResourceFactory(email="dana@example.test", name="Dana"))
        ResourceFactory(email="lee@example.test", name="Lee")
        project_id, offering_id, toggl_project = project.id, offering.id, seeded["projects"][0]["id"]

    browser_login(page, "pm@example.test")
    page.goto(f"/projects/{project_id}/team")
    # The picker is a searchable select that leaves out people already on the offering.
    box = page.locator(f"#resource-{offering_id}-text")
    options = page.locator(f"#resource-{offering_id}-options")
    box.fill("d")
    options.locator("li").first.wait_for()
    assert "Dana" not in options.inner_text()
    box.fill("l")
    options.get_by_role("option", name="Lee").click()
    page.fill(f"#planned-{offering_id}", "40")
    page.click("button:has-text('Add to Platform build')")
    note = page.locator("#team-note")
    note.get_by_text("Sent to the Toggl project Platform build").wait_for()
    note.get_by_role("progressbar").wait_for()
    run_jobs()  # the push, while the note polls its run
    note.locator(".run-succeeded").wait_for()
    assert "lee@example.test" in toggl.team(toggl_project)
    # Lee is on the team now, so the picker no longer offers him.
    box = page.locator(f"#resource-{offering_id}-text")
    box.fill("l")
    options.get_by_text("No person matches.").wait_for()
