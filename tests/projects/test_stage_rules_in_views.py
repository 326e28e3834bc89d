"""Project pages follow the stage: PM rights on every tab, closed projects hidden, home bookings, creation."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from portal.auth.models import Permission
from portal.columns import today
from portal.projects import services as projects
from tests.factories import (
    AssignmentFactory,
    BookingFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    UserFactory,
    stage,
)
from tests.stages.helpers import set_flags

PM_RIGHTS = ("pm_edit_project_info", "pm_change_pm_team", "pm_create_roles", "pm_request_resources",
             "pm_schedule_resources", "pm_edit_rates", "pm_edit_cost_plans")


@pytest.fixture
def pm_and_project(client, session):
    pm = UserFactory(role="pm")
    project = ProjectFactory(pm=pm, name="Governed")
    offering = OfferingFactory(project=project)
    AssignmentFactory(offering=offering)
    session.commit()
    client.login(pm)
    return pm, project


def set_pm_rights(session, on):
    set_flags(stage("In Progress"), **{flag: on for flag in PM_RIGHTS})
    session.commit()


ACTIONS = [
    ("post", "/projects/{p}/edit", lambda p: {"name": "Renamed", "client_id": p.client_id}),
    ("post", "/projects/{p}/pm-team", lambda p: {"pm_id": p.pm_id}),
    ("post", "/offerings/{o}/assignments", lambda p: {"resource_id": ResourceFactory().id, "planned_hours": "1"}),
    ("post", "/projects/{p}/bookings", lambda p: {"resource_id": ResourceFactory().id, "mode": "day",
                                                  "on": "2026-03-02", "hours": "4"}),
    ("post", "/projects/{p}/offerings/new", lambda p: {"name": "More", "billing_model": "time_and_materials",
                                                      "sold_hours": "10", "sale_status": "pre_sale"}),
    ("post", "/offerings/{o}/edit", lambda p: {"name": "Renamed", "billing_model": "time_and_materials",
                                               "sold_hours": "10", "sale_status": "sold"}),
]


@pytest.mark.parametrize("method,path,data", ACTIONS, ids=[p for _, p, _ in ACTIONS])
@pytest.mark.parametrize("on", [True, False], ids=["allowed", "refused"])
def test_pm_actions_on_project_tabs_follow_the_stage(client, session, pm_and_project, method, path, data, on):
    _, project = pm_and_project
    set_pm_rights(session, on)
    url = path.format(p=project.id, o=project.offerings[0].id)
    response = getattr(client, method)(url, data=data(project), htmx=True)
    if on:
        assert response.status_code == 200, response.get_data(as_text=True)[:400]
    else:
        assert response.status_code == 403
        assert re.search(r"while (it|the project) is in In Progress|In Progress does not let project managers",
                         response.get_data(as_text=True))


def test_buttons_are_hidden_when_the_stage_refuses(client, session, pm_and_project):
    _, project = pm_and_project
    set_pm_rights(session, True)
    team = client.get(f"/projects/{project.id}/team").get_data(as_text=True)
    assert "Save PM team" in team and ">Book</button>" in team
    set_pm_rights(session, False)
    team = client.get(f"/projects/{project.id}/team").get_data(as_text=True)
    assert "Save PM team" not in team and ">Book</button>" not in team
    overview = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert f'hx-get="/projects/{project.id}/edit"' not in overview


def test_a_refused_control_stays_in_view_disabled_with_the_reason(client, session, pm_and_project):
    """Refusals are explained, not hidden (issue 15): the same words as the refusal the service gives."""
    _, project = pm_and_project
    set_pm_rights(session, False)
    set_flags(stage("In Progress"), pm_move_from=False)
    session.commit()
    overview = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert re.search(r'<button type="button" class="secondary" disabled aria-describedby="edit-refused">Edit</button> '
                     r'<small class="why" id="edit-refused">In Progress does not let project managers edit the '
                     r"project info; a user with the MPE permission can.</small>", overview)
    assert 'disabled aria-describedby="move-refused">Move to another stage</button>' in overview
    assert "In Progress does not let project managers move projects out of it." in overview
    offerings = client.get(f"/projects/{project.id}/offerings").get_data(as_text=True)
    assert "In Progress does not let project managers add or change offerings" in offerings
    assert offerings.count('aria-describedby="offerings-refused"') == 2  # the row's Edit and Add offering
    refused = client.post(f"/projects/{project.id}/edit", data={"name": "X", "client_id": project.client_id},
                          htmx=True)
    assert "In Progress does not let project managers edit the project info" in refused.get_data(as_text=True)


def test_people_off_the_pm_team_see_why_they_cannot_move_or_edit(client, session):
    project = ProjectFactory(name="Harbour app")
    session.commit()
    client.login(UserFactory(role="staff"))
    overview = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert ("Only the PM team of Harbour app and users with the MPE or MAEPS permission move projects."
            in overview)
    assert "Only the PM team of Harbour app and users with the MPE permission can edit the project info." in overview
    assert client.get(f"/projects/{project.id}/move").status_code == 403


def test_entry_options_the_stage_keeps_show_disabled_with_the_reason(client, session, pm_and_project):
    _, project = pm_and_project
    set_flags(stage("In Progress"), pm_edit_project_info=True, allow_time_entry_settings_changes=False,
              allow_open_for_time_changes=True)
    session.commit()
    overview = client.get(f"/projects/{project.id}").get_data(as_text=True)
    time_entry = overview[overview.index('id="time-entry-by"') - 200:overview.index("Save time entry options") + 300]
    assert 'name="time_entry_by" disabled' in time_entry
    assert "In Progress does not let projects change these options (a stage setting)." in time_entry
    open_for_time = overview[overview.index("Open for time:"):overview.index("Save time options") + 20]
    assert "disabled" not in open_for_time


def test_mpe_users_edit_any_part_of_any_project_whatever_the_stage(client, session):
    project = ProjectFactory(stage=stage("Closed"))
    OfferingFactory(project=project)
    session.commit()
    client.login(UserFactory(role="staff", permissions=[Permission.MAINTAIN_PROJECTS]))
    response = client.post(f"/projects/{project.id}/edit", data={"name": "Fixed", "client_id": project.client_id},
                           htmx=True)
    assert response.status_code == 200
    session.expire_all()
    assert project.name == "Fixed"


def test_closed_projects_are_hidden_from_lists_and_home_unless_the_filter_asks(client, session):
    pm = UserFactory(role="pm")
    ProjectFactory(pm=pm, name="Running")
    ProjectFactory(pm=pm, name="Finished", stage=stage("Closed"))
    session.commit()
    client.login(pm)
    listed = client.get("/projects").get_data(as_text=True)
    assert "Running" in listed and "Finished" not in listed
    assert "Finished" in client.get("/projects?closed=1").get_data(as_text=True)
    home = client.get("/").get_data(as_text=True)
    assert "Running" in home and "Finished" not in home


def test_home_shows_only_bookings_of_stages_that_display_booked_roles(client, session):
    user = UserFactory(role="staff")
    me = ResourceFactory(user_id=user.id)
    shown = ProjectFactory(stage=stage("In Progress"), name="Visible work")
    hidden = ProjectFactory(stage=stage("Opportunity"), name="Tentative work")
    for project in (shown, hidden):
        BookingFactory(project=project, resource=me, on=today() + timedelta(days=1), hours=Decimal("3"))
    set_flags(stage("Opportunity"), display_booked_roles=False)
    session.commit()
    client.login(user)
    home = client.get("/").get_data(as_text=True)
    assert "Visible work" in home and "Tentative work" not in home


def test_projects_are_created_only_in_stages_that_allow_it(client, session):
    creator = UserFactory(role="pm", permissions=[Permission.CREATE_PROJECTS])
    session.commit()
    client.login(creator)
    form = client.get("/projects/new").get_data(as_text=True)
    assert ">Opportunity</option>" in form and ">Planning</option>" in form and ">Closed</option>" not in form
    from portal.errors import NotAllowed

    with pytest.raises(NotAllowed, match="cannot be created in the Closed stage"):
        projects.create_project(session, creator, name="X", client_id=ProjectFactory().client_id,
                                stage_id=stage("Closed").id)
    with pytest.raises(NotAllowed, match="create-projects permission"):
        projects.create_project(session, UserFactory(role="pm"), name="X", client_id=ProjectFactory().client_id,
                                stage_id=stage("Opportunity").id)


def test_entry_options_are_edited_on_the_overview_when_the_stage_allows(client, session, pm_and_project):
    _, project = pm_and_project
    set_flags(stage("In Progress"), pm_edit_project_info=True, allow_time_entry_settings_changes=True)
    session.commit()
    response = client.post(f"/projects/{project.id}/entry-settings/time_entry",
                           data={"time_entry_by": "assigned", "time_descriptions_required": "y"}, htmx=True)
    assert response.status_code == 200 and 'id="entry-settings"' in response.get_data(as_text=True)
    session.expire_all()
    assert (project.time_entry_by, project.time_descriptions_required) == ("assigned", True)
    set_flags(stage("In Progress"), allow_time_entry_settings_changes=False)
    session.commit()
    response = client.post(f"/projects/{project.id}/entry-settings/time_entry", data={"time_entry_by": "anyone"},
                           htmx=True)
    assert response.status_code == 409
    assert "In Progress does not let projects change these options" in response.get_data(as_text=True)
    session.expire_all()
    assert project.time_entry_by == "assigned"


def test_the_time_and_costs_tab_transfers_ticked_entries(client, session, pm_and_project):
    from portal.timesheets import entries

    pm, project = pm_and_project
    target = OfferingFactory(project=ProjectFactory(pm=pm, name="Other"), name="Target offering")
    worker = UserFactory(role="staff")
    person = ResourceFactory(user_id=worker.id)
    set_flags(stage("In Progress"), pm_transfer_time=True, pm_adjust_time_cost=False)
    session.flush()
    entry = entries.add_entry(session, worker, resource_id=person.id, offering_id=project.offerings[0].id,
                              work_date=date(2026, 3, 3), hours="2")
    session.commit()
    tab = client.get(f"/projects/{project.id}/entries?month=2026-03").get_data(as_text=True)
    assert f'value="{entry.id}"' in tab and "/lookup/transfer_offerings" in tab
    targets = client.get("/lookup/transfer_offerings", htmx=True).get_data(as_text=True)
    assert 'data-label="Other · Target offering"' in targets
    response = client.post(f"/projects/{project.id}/entries/transfer",
                           data={"entry_ids": [entry.id], "target_offering_id": target.id, "month": "2026-03"},
                           htmx=True)
    assert response.status_code == 200
    session.expire_all()
    assert entry.offering_id == target.id


@pytest.mark.parametrize("likelihood", ["101", "-5"])
def test_a_likelihood_outside_0_to_100_comes_back_422_and_nothing_changes(client, session, pm_and_project,
                                                                         likelihood):
    _, project = pm_and_project
    set_pm_rights(session, True)
    response = client.post(f"/projects/{project.id}/edit", data={
        "name": "Governed", "client_id": project.client_id, "percent_likelihood": likelihood}, htmx=True)
    assert response.status_code == 422 and "Between 0 and 100." in response.get_data(as_text=True)
    session.expire_all()
    assert project.percent_likelihood is None and project.likelihood == 100


def test_projects_of_any_engagement_type_can_be_created(client, session):
    from portal.stages.services import create_engagement_type

    support = create_engagement_type(session, "test", "Support")
    creator = UserFactory(role="pm", permissions=[Permission.CREATE_PROJECTS])
    session.commit()
    client.login(creator)
    form = client.get("/projects/new").get_data(as_text=True)
    assert ">Standard · Opportunity</option>" in form and ">Support · Opportunity</option>" in form
    project = projects.create_project(session, creator, name="Helpdesk", client_id=ProjectFactory().client_id,
                                      stage_id=support.stages[0].id)
    assert project.engagement_type_id == support.id
