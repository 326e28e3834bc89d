"""Client workspaces: who gets in (the stage decides), what they see (the PM decides), client logins."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portal.auth.models import Role
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.workspaces import services
from tests.factories import (
    AssignmentFactory,
    BookingFactory,
    OfferingFactory,
    ProjectFactory,
    TimeEntryFactory,
    UserFactory,
    stage,
)
from tests.stages.helpers import set_flags


@pytest.fixture
def project(session):
    pm = UserFactory(role="pm")
    project = ProjectFactory(pm=pm, name="Portal build", description="A new customer portal")
    offering = OfferingFactory(project=project, name="Build", planned_hours=Decimal("40"),
                               budget_amount=Decimal("4000"))
    assignment = AssignmentFactory(offering=offering, role="Developer", bill_rate=Decimal("100"))
    TimeEntryFactory(offering=offering, resource=assignment.resource, hours=Decimal("10"))
    set_flags(stage("In Progress"), clients_login_workspaces=True, allow_workspace_access=True,
              pm_create_client_users=True, pm_configure_workspace=True, pm_configure_workspace_permissions=True)
    session.flush()
    return project


def client_of(project, **fields):
    return UserFactory(role=Role.CLIENT, client_id=project.client_id, **fields)


def test_client_users_open_their_clients_workspaces_while_the_stage_lets_them(session, project):
    cleo = client_of(project)
    assert services.open_workspace(cleo, project) == ["home", "progress", "schedule"]
    assert services.workspaces_of(session, cleo) == [project]
    set_flags(project.stage, clients_login_workspaces=False)
    with pytest.raises(NotAllowed, match="not open to clients while it is in In Progress"):
        services.open_workspace(cleo, project)
    assert services.workspaces_of(session, cleo) == []
    assert services.open_workspace(project.pm, project), "internal users still get in"


def test_access_workspaces_off_closes_it_for_everyone(session, project):
    set_flags(project.stage, allow_workspace_access=False)
    for user in (client_of(project), project.pm):
        with pytest.raises(NotAllowed, match="turned off while it is in In Progress"):
            services.open_workspace(user, project)


def test_a_client_never_sees_another_clients_workspace(session, project):
    stranger = UserFactory(role=Role.CLIENT, client_id=ProjectFactory().client_id)
    with pytest.raises(NotAllowed, match="belongs to another client"):
        services.open_workspace(stranger, project)


def test_the_pm_chooses_the_sections_and_what_clients_see(session, project):
    pm, cleo = project.pm, client_of(project)
    services.configure_client_access(session, pm, project.id, ["home", "team", "budget"])
    assert services.open_workspace(cleo, project) == ["home", "team", "budget"]
    services.configure_workspace(session, pm, project.id, ["home", "progress", "team"])
    assert services.open_workspace(cleo, project) == ["home", "team"], "a section the workspace lacks is hidden"
    assert services.open_workspace(pm, project) == ["home", "progress", "team"]
    with pytest.raises(InvalidInput):
        services.configure_workspace(session, pm, project.id, ["home", "invoices"])


def test_sections_show_progress_schedule_team_and_budget(session, project):
    BookingFactory(project=project, on=date(2026, 3, 4), hours=Decimal("6"))
    data = services.section_data(session, project, ["progress", "schedule", "team", "budget"], date(2026, 3, 3), 0)
    (row,) = data["offerings"]
    assert (row["actuals"].hours, row["use"].used, row["use"].basis) == (Decimal("10"), Decimal("1000.00"), "revenue")
    assert data["schedule"][0] == (date(2026, 3, 2), Decimal("6"))
    assert data["team"] == [(project.offerings[0].assignments[0].resource.name, "Developer")]


def test_a_pm_creates_a_client_login_for_the_projects_client(session, project):
    user = services.create_client_user(session, project.pm, project.id, email="Cleo@Client.test", name="Cleo",
                                       password="a long enough password")
    assert (user.role, user.client_id, user.email) == ("client", project.client_id, "cleo@client.test")
    with pytest.raises(Conflict, match="already exists"):
        services.create_client_user(session, project.pm, project.id, email="cleo@client.test", name="Cleo",
                                    password="a long enough password")
    with pytest.raises(InvalidInput, match="at least 10 characters"):
        services.create_client_user(session, project.pm, project.id, email="other@client.test", name="O",
                                    password="short")


def test_a_client_users_home_is_their_workspaces_and_the_rest_is_closed(client, session, project):
    cleo = client_of(project)
    session.commit()
    client.login(cleo)
    assert "Portal build" in client.get("/").get_data(as_text=True), "their home lists their workspaces"
    assert "Portal build" in client.get("/workspace").get_data(as_text=True)
    page = client.get(f"/workspace/{project.id}").get_data(as_text=True)
    assert 'id="ws-home"' in page and 'id="ws-progress"' in page and 'id="ws-budget"' not in page
    assert "A new customer portal" in page
    for url in ("/projects", f"/projects/{project.id}", "/expenses", "/forecast", "/settings/stages",
                f"/projects/{project.id}/workspace-settings"):
        assert client.get(url).status_code == 403, url


def test_the_workspace_tab_creates_client_logins_with_422_on_bad_input(client, session, project):
    client.login(project.pm)
    session.commit()
    tab = client.get(f"/projects/{project.id}/workspace-settings").get_data(as_text=True)
    assert "Create client login" in tab and "Save what clients see" in tab
    bad = client.post(f"/projects/{project.id}/workspace-settings/client-users",
                      data={"email": "x@client.test", "name": "X", "password": "short"}, htmx=True)
    assert bad.status_code == 422
    good = client.post(f"/projects/{project.id}/workspace-settings/client-users",
                       data={"email": "x@client.test", "name": "Xavi", "password": "a long enough password"},
                       htmx=True)
    assert good.status_code == 200 and "Xavi" in good.get_data(as_text=True)
