"""Pages: the Integrations tab (rows, dots, actions, polling rows), Admin → Integrations (connection,
validation messages, masked token, disconnect, re-push offer), client mapping and the move dialog partial."""

from __future__ import annotations

import json

import pytest
from flask import render_template_string
from sqlalchemy import select

from portal.audit import AuditEvent
from portal.extensions import db
from portal.integrations import pushing
from portal.integrations.models import ClientLink, Connection, ProjectLink
from portal.integrations.provisioning import move_options
from portal.runs.models import SyncRun
from tests.factories import ClientFactory, OfferingFactory, ProjectFactory, UserFactory, stage
from tests.toggl_sandbox import TOKEN, WORKSPACE_ID


def pm_of(login_as, project):
    user = login_as("pm")
    project.pm_id = user.id
    db.session.flush()  # requests run in their own session: they see flushed rows only
    return user


# The Integrations tab ---------------------------------------------------------------------------

def test_tab_shows_each_offering_with_its_dot_and_actions(session, client, login_as, tool):
    project = ProjectFactory(client=tool.client, stage=stage("Planning"))
    sold = tool.offering(project=project, name="Build", sale_status="sold")
    presale = tool.offering(project=project, name="Phase two", sale_status="pre_sale", people={})
    pm_of(login_as, project)
    page = client.get(f"/projects/{project.id}/integrations").get_data(as_text=True)
    assert "Toggl Track" in page and "Provision New" in page and "Connect Existing" in page
    assert 'data-dot="orange"' in page and "the project is in Planning, not an In Progress stage" in page
    assert "the offering is Pre-sale, not Sold" in page
    project.stage = stage("In Progress")
    session.flush()
    page = client.get(f"/projects/{project.id}/integrations").get_data(as_text=True)
    assert page.count('data-dot="green"') == 1 and f'data-offering="{sold.name}"' in page
    assert f'data-offering="{presale.name}"' in page


def test_people_outside_the_pm_team_see_no_actions(session, client, login_as, tool):
    offering = tool.offering()
    login_as("staff")
    page = client.get(f"/projects/{offering.project_id}/integrations").get_data(as_text=True)
    assert "Not linked" in page and "Provision New" not in page


def test_a_project_that_is_not_active_offers_nothing(session, client, login_as, tool):
    project = ProjectFactory(client=tool.client, is_active=False)
    tool.offering(project=project)
    pm_of(login_as, project)
    page = client.get(f"/projects/{project.id}/integrations").get_data(as_text=True)
    assert "once the project is Active" in page and "Provision New" not in page


def test_without_a_connection_the_tab_says_so(session, client, login_as):
    offering = OfferingFactory()
    login_as("staff")
    page = client.get(f"/projects/{offering.project_id}/integrations").get_data(as_text=True)
    assert "No timesheet tool is connected" in page


def test_provision_from_the_tab_polls_until_linked(session, client, login_as, tool, run_jobs):
    offering = tool.offering()
    pm_of(login_as, offering.project)
    url = f"/offerings/{offering.id}/timesheets/{tool.connection.id}"
    started = client.post(f"{url}/provision", htmx=True)
    body = started.get_data(as_text=True)
    assert started.status_code == 200 and "<html" not in body and "HX-Request" in started.headers["Vary"]
    assert f'hx-get="{url}"' in body and "progressbar" in body
    run_jobs()
    done = client.get(url, htmx=True).get_data(as_text=True)
    assert f'hx-get="{url}"' not in done and "Provisioned the Toggl project" in done
    link = session.scalar(select(ProjectLink))
    assert f"/projects/{link.external_id}/team" in done and "View in Toggl" in done and "Disconnect" in done


def test_a_failed_run_shows_the_reason_and_retry(session, client, login_as, tool, run_jobs):
    offering = tool.offering(project=ProjectFactory(client=ClientFactory(name="Globex")))
    pm_of(login_as, offering.project)
    url = f"/offerings/{offering.id}/timesheets/{tool.connection.id}"
    client.post(f"{url}/provision", htmx=True)
    run_jobs()
    body = client.get(url, htmx=True).get_data(as_text=True)
    assert "The client Globex is not mapped to a Toggl client" in body and f'hx-post="{url}/retry"' in body
    session.query(ClientLink).filter(ClientLink.client_id == tool.client.id).delete()
    session.add(ClientLink(connection_id=tool.connection.id, client_id=offering.project.client_id,
                           external_id=str(tool.toggl_client_id), external_name="Northwind", method="manual"))
    session.commit()
    client.post(f"{url}/retry", htmx=True)
    run_jobs()
    assert "Provisioned the Toggl project" in client.get(url, htmx=True).get_data(as_text=True)


def test_connect_existing_lists_unlinked_projects_and_validates(session, client, login_as, tool, run_jobs):
    tool.sandbox.seed(projects=[{"workspace_id": WORKSPACE_ID, "name": "Legacy support"},
                                {"workspace_id": WORKSPACE_ID, "name": "Old retainer"}])
    offering = tool.offering()
    pm_of(login_as, offering.project)
    url = f"/offerings/{offering.id}/timesheets/{tool.connection.id}/connect"
    form = client.get(url, htmx=True).get_data(as_text=True)
    assert "Legacy support" in form and "Old retainer" in form and "Linking changes nothing in Toggl" in form
    empty = client.post(url, data={"project_id": "", "project": ""}, htmx=True)
    assert empty.status_code == 422 and "Choose a project, type its id, or paste its URL." in empty.get_data(True)
    legacy = next(p for p in tool.sandbox.projects() if p["name"] == "Legacy support")
    client.post(url, data={"project_id": str(legacy["id"]), "project": ""}, htmx=True)
    run_jobs()
    assert session.scalar(select(ProjectLink)).external_id == str(legacy["id"])
    other = tool.offering(project=offering.project)
    form = client.get(f"/offerings/{other.id}/timesheets/{tool.connection.id}/connect", htmx=True).get_data(True)
    assert "Legacy support" not in form and "Old retainer" in form


@pytest.mark.parametrize("typed, message", [
    ("987654321", "The Toggl workspace Test Consulting has no project 987654321: check the id or the link."),
    ("the legacy one", "“the legacy one” has no Toggl project id."),
    ("linked", "The Toggl project Legacy support is already linked to Support (Old deal)."),
])
def test_connect_existing_keeps_the_form_open_on_bad_input(session, client, login_as, tool, typed, message):
    """An unknown id, text, or a project another offering holds: a 422 with the form, what was typed and the
    reason, and no run (so no Retry that could not help)."""
    legacy = tool.sandbox.seed(projects=[{"workspace_id": WORKSPACE_ID, "name": "Legacy support"}])["projects"][0]
    holder = tool.offering(name="Support", project=ProjectFactory(client=tool.client, name="Old deal"))
    session.add(ProjectLink(connection_id=tool.connection.id, offering_id=holder.id, external_id=str(legacy["id"]),
                            external_name="Legacy support", method="connected"))
    offering = tool.offering()
    pm_of(login_as, offering.project)
    typed = str(legacy["id"]) if typed == "linked" else typed
    response = client.post(f"/offerings/{offering.id}/timesheets/{tool.connection.id}/connect",
                           data={"project_id": "", "project": typed}, htmx=True)
    body = response.get_data(True)
    assert response.status_code == 422 and message in body
    assert f'value="{typed}"' in body and ">Connect</button>" in body and "Retry" not in body
    assert session.scalar(select(SyncRun).where(SyncRun.kind == "connect")) is None


def test_connect_existing_offers_retry_only_for_the_tools_failures(session, client, login_as, tool, run_jobs):
    legacy = tool.sandbox.seed(projects=[{"workspace_id": WORKSPACE_ID, "name": "Legacy support"}])["projects"][0]
    offering, other = tool.offering(), tool.offering()
    pm_of(login_as, offering.project)
    url = f"/offerings/{offering.id}/timesheets/{tool.connection.id}"
    tool.sandbox.fault(rf"/api/v9/workspaces/{WORKSPACE_ID}/projects/{legacy['id']}", status=503, times=-1)
    assert client.post(f"{url}/connect", data={"project": str(legacy["id"])}, htmx=True).status_code == 200
    run_jobs()
    body = client.get(url, htmx=True).get_data(True)
    assert "Failed" in body and f'hx-post="{url}/retry"' in body  # Toggl did not answer: trying again may help
    tool.sandbox.clear_faults()
    client.post(f"{url}/retry", htmx=True)
    # Meanwhile another offering was linked to the same project: the run fails on its input, without Retry.
    session.add(ProjectLink(connection_id=tool.connection.id, offering_id=other.id, external_id=str(legacy["id"]),
                            external_name="Legacy support", method="connected"))
    session.commit()
    run_jobs()
    body = client.get(url, htmx=True).get_data(True)
    assert "is already linked to" in body and f'hx-post="{url}/retry"' not in body


def test_connect_form_survives_toggl_being_down(session, client, login_as, tool):
    tool.sandbox.fault(r"/api/v9/.*", status=503, times=-1)
    offering = tool.offering()
    pm_of(login_as, offering.project)
    form = client.get(f"/offerings/{offering.id}/timesheets/{tool.connection.id}/connect", htmx=True)
    assert form.status_code == 200
    assert "Could not load the workspace's projects" in form.get_data(True) and "paste its URL" in form.get_data(True)


def test_a_plain_request_for_a_row_goes_back_to_the_tab(session, client, login_as, tool):
    offering = tool.offering()
    pm_of(login_as, offering.project)
    response = client.get(f"/offerings/{offering.id}/timesheets/{tool.connection.id}")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"/projects/{offering.project_id}/integrations")


def test_someone_else_cannot_provision(session, client, login_as, tool):
    offering = tool.offering()
    login_as("staff")
    response = client.post(f"/offerings/{offering.id}/timesheets/{tool.connection.id}/provision", htmx=True)
    assert response.status_code == 403 and response.headers["HX-Retarget"] == "#flash"


# Admin → Integrations ----------------------------------------------------------------------

def test_settings_are_for_admins(session, client, login_as):
    login_as("pm")
    assert client.get("/settings/integrations/toggl").status_code == 403
    assert client.get("/settings/integrations").status_code == 403


def test_validate_connection_succeeds_and_masks_the_token(session, client, login_as, toggl, run_jobs):
    toggl.standard()
    login_as("admin")
    saved = client.post("/settings/integrations/toggl", data={"api_token": TOKEN, "workspace_id": str(WORKSPACE_ID)},
                        htmx=True)
    assert saved.status_code == 200 and "toggl-status" in saved.get_data(True)
    run_jobs()
    status = client.get("/settings/integrations/toggl/status", htmx=True).get_data(True)
    assert "Successfully connected to Toggl" in status and "Test Consulting" in status
    page = client.get("/settings/integrations/toggl").get_data(True)
    assert TOKEN not in page and "••••••••0001" in page
    connection = session.scalar(select(Connection))
    assert connection.status == "connected" and json.loads(connection.credentials)["api_token"] == TOKEN
    audit_text = json.dumps([[e.before, e.after, e.summary] for e in session.scalars(select(AuditEvent))])
    assert TOKEN not in audit_text and "connection.validated" in [e.action for e in session.scalars(select(AuditEvent))]


@pytest.mark.parametrize("token, workspace, message", [
    ("wrong-token", WORKSPACE_ID, "Toggl did not accept the API token"),
    (TOKEN, 999, "Toggl has no workspace 999"),
    (TOKEN, "other", "has no access to workspace"),
])
def test_each_validation_failure_has_its_own_message(session, client, login_as, toggl, run_jobs, token, workspace,
                                                     message):
    toggl.standard()
    if workspace == "other":
        other = toggl.seed(workspaces=[{"name": "Elsewhere", "members": [{"email": "x@other.test", "admin": True}]}])
        workspace = other["workspaces"][0]["id"]
    login_as("admin")
    client.post("/settings/integrations/toggl", data={"api_token": token, "workspace_id": str(workspace)}, htmx=True)
    run_jobs()
    status = client.get("/settings/integrations/toggl/status", htmx=True).get_data(True)
    assert message in status and "Retry" in status
    connection = session.scalar(select(Connection))
    assert connection.status == "error" and message in connection.last_error
    log = client.get("/settings/integrations/toggl").get_data(True)
    assert message in log.split("Sync log")[1]


def test_a_workspace_id_that_is_not_a_number_is_a_form_error(session, client, login_as, toggl):
    login_as("admin")
    response = client.post("/settings/integrations/toggl", data={"api_token": TOKEN, "workspace_id": "acme"},
                           htmx=True)
    assert response.status_code == 422 and "the number after track.toggl.com/" in response.get_data(True)
    assert session.scalar(select(Connection)) is None


def test_disconnect_forgets_the_token(session, client, login_as, toggl_connection):
    login_as("admin")
    page = client.post("/settings/integrations/toggl/disconnect", htmx=True).get_data(True)
    assert "Disconnected" in page
    session.refresh(toggl_connection)
    assert toggl_connection.credentials is None and toggl_connection.status == "disconnected"


def test_changing_alb_offers_the_re_push(app, session, client, login_as, tool):
    from flask_login import login_user

    from portal.integrations.services import resync_offers
    from portal.org import services as org_services

    boss = login_as("super_admin")
    org_services.update_settings(session, boss, assignment_level_budgeting=True)
    session.commit()
    page = client.get("/settings/integrations/toggl").get_data(True)
    assert "Assignment level budgeting changed" in page and "Re-push every linked project now" in page
    with app.test_request_context():
        login_user(boss)
        offer = render_template_string('{% include "integrations/_resync_offer.html" %}',
                                       resync_offers=resync_offers(session))
    assert f'hx-post="/settings/integrations/connections/{tool.connection.id}/resync"' in offer


def test_saving_alb_on_the_org_settings_page_offers_the_re_push(session, client, login_as, tool):
    login_as("super_admin")
    response = client.post("/settings/organization", htmx=True, data={
        "name": "Org", "assignment_level_budgeting": "y", "timesheet_hours_source": "current",
        "finance_rate_type": "cost", "default_cost_category_id": "", "week_start": "0", "reminder_weekday": "0",
        "reminder_hour": "9", "expected_hours_per_week": "40", "reminder_escalate_days": "2"})
    body = response.get_data(True)
    assert response.status_code == 200 and "Re-push every linked Toggl project now" in body
    assert f"/settings/integrations/connections/{tool.connection.id}/resync" in body


def test_the_re_push_runs_from_the_offer(session, client, login_as, tool, run_jobs):
    login_as("super_admin")
    started = client.post(f"/settings/integrations/connections/{tool.connection.id}/resync", htmx=True)
    assert "progressbar" in started.get_data(True)
    run_jobs()
    body = client.get(f"/settings/integrations/connections/{tool.connection.id}/resync", htmx=True).get_data(True)
    assert "Pushed 0 linked offerings under the current settings" in body


def test_only_super_admins_re_push(session, client, login_as, tool):
    login_as("admin")
    assert client.post(f"/settings/integrations/connections/{tool.connection.id}/resync", htmx=True).status_code \
        == 403


# Clients ----------------------------------------------------------------------------------------

def test_client_mapping_explains_duplicates_and_lets_an_admin_pick(session, client, login_as, tool, run_jobs):
    acme = ClientFactory(name="Acme Inc")
    acme_dup = ClientFactory(name="ACME, Inc.")
    tool.sandbox.seed(clients=[{"workspace_id": WORKSPACE_ID, "name": "Acme"}])
    login_as("admin", permissions=["maintain_projects"])
    page = client.get(f"/settings/integrations/connections/{tool.connection.id}/clients").get_data(True)
    assert "These CRM clients look like the same company: ACME, Inc., Acme Inc." in page
    assert "One Toggl client maps to one CRM client" in page
    external = next(c for c in tool.sandbox.state()["clients"] if c["name"] == "Acme")
    url = f"/settings/integrations/connections/{tool.connection.id}/clients"
    client.post(f"{url}/{acme.id}/connect", data={"external_id": str(external["id"])}, htmx=True)
    run_jobs()
    assert session.scalar(select(ClientLink).where(ClientLink.client_id == acme.id)).external_name == "Acme"
    refused = client.post(f"{url}/{acme_dup.id}/connect", data={"external_id": str(external["id"])}, htmx=True)
    form = refused.get_data(True)
    assert refused.status_code == 422 and "is already mapped to Acme Inc, which looks like the same company" in form
    assert 'name="replace"' in form and "Retry" not in form  # the form stays open; nothing ran that could be retried
    client.post(f"{url}/{acme_dup.id}/connect", data={"external_id": str(external["id"]), "replace": "y"}, htmx=True)
    run_jobs()
    session.expire_all()
    assert session.scalar(select(ClientLink).where(ClientLink.external_id == str(external["id"]))).client_id \
        == acme_dup.id
    assert tool.sandbox.writes() == []


def test_a_client_mapped_elsewhere_is_not_called_a_duplicate(session, client, login_as, tool):
    """Connecting Globex to the Toggl client Initech holds: an input error naming the holder, no duplicate."""
    initech, globex = ClientFactory(name="Initech"), ClientFactory(name="Globex")
    tool.sandbox.seed(clients=[{"workspace_id": WORKSPACE_ID, "name": "Initech"}])
    external = next(c for c in tool.sandbox.state()["clients"] if c["name"] == "Initech")
    session.add(ClientLink(connection_id=tool.connection.id, client_id=initech.id, external_id=str(external["id"]),
                           external_name="Initech", method="connected"))
    login_as("admin", permissions=["maintain_projects"])
    url = f"/settings/integrations/connections/{tool.connection.id}/clients/{globex.id}/connect"
    for replace in ("", "y"):  # moving the mapping is for duplicates only
        refused = client.post(url, data={"external_id": str(external["id"]), "replace": replace}, htmx=True)
        form = refused.get_data(True)
        assert refused.status_code == 422 and "Choose another, or unlink it from Initech first." in form
        assert "duplicate" not in form.lower() and "Possible duplicates" not in form
    assert session.scalar(select(SyncRun)) is None


def test_mapping_refreshes_the_tools_clients_table(session, client, login_as, tool, run_jobs):
    """The row's last poll (the run finished) and an unlink tell the page to reload the tool's clients, which
    no longer offer "Map to" for what was just mapped."""
    acme = ClientFactory(name="Acme Inc")
    ClientFactory(name="ACME, Inc.")
    tool.sandbox.seed(clients=[{"workspace_id": WORKSPACE_ID, "name": "Acme"}])
    external = next(c for c in tool.sandbox.state()["clients"] if c["name"] == "Acme")
    login_as("admin", permissions=["maintain_projects"])
    url = f"/settings/integrations/connections/{tool.connection.id}/clients"
    page = client.get(url).get_data(True)
    assert 'hx-trigger="client-mapping-changed from:body"' in page
    assert page.count("Map to ") == 2
    started = client.post(f"{url}/{acme.id}/connect", data={"external_id": str(external["id"]), "replace": "y"},
                          htmx=True)
    assert "HX-Trigger" not in started.headers and "polling=1" in started.get_data(True)
    run_jobs()
    finished = client.get(f"{url}/{acme.id}?polling=1", htmx=True)
    assert json.loads(finished.headers["HX-Trigger"]) == {"client-mapping-changed": True}
    table = client.get(url, htmx=True).get_data(True)
    assert 'id="tool-clients-' in table
    assert "Map to Acme Inc" not in table and "Map to ACME, Inc." in table and "Also named like it" in table
    assert "CRM clients" not in table  # only the tool's table
    unlinked = client.post(f"{url}/{acme.id}/unlink", htmx=True)
    assert json.loads(unlinked.headers["HX-Trigger"]) == {"client-mapping-changed": True}


def test_a_duplicate_named_like_a_sentence_has_one_full_stop(session, client, login_as):
    ClientFactory(name="ACME, Inc.")
    other = ClientFactory(name="Acme Inc")
    login_as("admin", permissions=["maintain_projects"])
    page = client.get(f"/clients/{other.id}").get_data(True)
    assert "ACME, Inc.</a> Map timesheet-tool clients" in page and "Inc.." not in page


def test_provision_a_client_from_its_page(session, client, login_as, tool, run_jobs):
    globex = ClientFactory(name="Globex")
    login_as("admin", permissions=["maintain_projects"])
    page = client.get(f"/clients/{globex.id}").get_data(True)
    assert "Provision Toggl Client" in page and "Connect to Toggl Client" in page
    client.post(f"/settings/integrations/connections/{tool.connection.id}/clients/{globex.id}/provision", htmx=True)
    run_jobs()
    page = client.get(f"/clients/{globex.id}").get_data(True)
    assert "View in Toggl" in page and "Created the Toggl client Globex" in page
    assert [c["name"] for c in tool.sandbox.state()["clients"]] == ["Northwind", "Globex"]


# The move dialog's partial ----------------------------------------------------------------------

def test_move_options_list_the_offerings_checked_by_default(app, session, tool):
    project = ProjectFactory(client=tool.client, stage=stage("Planning"))
    first, second = tool.offering(project=project), tool.offering(project=project)
    session.add(ProjectLink(connection_id=tool.connection.id, offering_id=second.id, external_id="1",
                            method="connected"))
    session.flush()
    template = '{% include "integrations/_move_options.html" %}'

    def dialog(target):
        return render_template_string(template, provision_choice=move_options(session, project, target))

    with app.test_request_context():
        html = dialog(stage("In Progress"))
        assert f'name="provision_offering_ids" value="{first.id}" checked' in html
        assert f'value="{second.id}"' not in html and "already linked" in html
        assert 'name="provision_choice_shown" value="1"' in html
        assert dialog(stage("Closed")).strip() == ""


def test_move_options_need_a_connected_tool(app, session):
    project = ProjectFactory(stage=stage("Planning"))
    OfferingFactory(project=project)
    with app.test_request_context():
        html = render_template_string('{% include "integrations/_move_options.html" %}',
                                      provision_choice=move_options(session, project, stage("In Progress")))
    assert html.strip() == ""


def test_client_users_cannot_reach_settings(session, client):
    user = UserFactory(role="client")
    client.login(user)
    assert client.get("/settings/integrations").status_code == 403


@pytest.mark.parametrize("role", ["staff", "pm", "approver", "client"])
def test_the_re_push_fragment_is_for_admins_only_on_get_and_post(session, client, login_as, tool, role):
    login_as(role)
    url = f"/settings/integrations/connections/{tool.connection.id}/resync"
    for response in (client.get(url, htmx=True), client.get(url), client.post(url, htmx=True)):
        assert response.status_code == 403
        assert "Re-push every linked project" not in response.get_data(True)
    assert pushing.latest_push_all(session, tool.connection) is None


def test_admins_see_the_re_push_fragment_and_only_super_admins_start_it(session, client, login_as, tool):
    url = f"/settings/integrations/connections/{tool.connection.id}/resync"
    login_as("admin")
    fragment = client.get(url, htmx=True)
    assert fragment.status_code == 200 and f'id="resync-{tool.connection.id}"' in fragment.get_data(True)
    assert client.post(url, htmx=True).status_code == 403
    login_as("super_admin")
    assert client.post(url, htmx=True).status_code == 200
    assert pushing.latest_push_all(session, tool.connection).initiated_by_id is not None
