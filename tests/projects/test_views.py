"""The projects pages over HTTP: who may open what, page versus fragment, forms and their errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.projects.models import Assignment, Booking, Offering, Project
from tests.factories import ClientFactory, OfferingFactory, ProjectFactory, ResourceFactory, UserFactory, stage

ROLES = ["anonymous", "staff", "approver", "pm", "admin", "super_admin", "client"]
INTERNAL = {"staff", "approver", "pm", "admin", "super_admin"}
ADMINS = {"admin", "super_admin"}

# (url template, roles that get 200); anonymous always goes to the login page, the rest get 403.
MATRIX = [
    ("/", INTERNAL | {"client"}),
    ("/projects", INTERNAL),
    ("/projects/{project}", INTERNAL),
    ("/projects/{project}/offerings", INTERNAL),
    ("/projects/{project}/team", INTERNAL),
    ("/projects/{project}/integrations", INTERNAL),
    ("/projects/{project}/finance", INTERNAL),
    ("/clients", INTERNAL),
    ("/deals", INTERNAL),
    ("/resources", INTERNAL),
    ("/settings/organization", ADMINS),
    ("/settings/audit", ADMINS),
    ("/admin/users", ADMINS),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("url, allowed", MATRIX, ids=[m[0] for m in MATRIX])
def test_role_route_matrix(client, session, login_as, role, url, allowed):
    project = ProjectFactory()
    if role != "anonymous":
        login_as(role, client_id=project.client_id if role == "client" else None)
    response = client.get(url.format(project=project.id))
    if role == "anonymous":
        assert response.status_code == 303 and response.headers["Location"].startswith("/login?next=")
    else:
        assert response.status_code == (200 if role in allowed else 403)


def test_unknown_project_is_a_404_page_or_fragment(client, login_as):
    login_as("staff")
    page = client.get("/projects/999999")
    fragment = client.get("/projects/999999", htmx=True)
    assert page.status_code == fragment.status_code == 404
    assert b"<html" in page.data and b"<html" not in fragment.data
    assert fragment.headers["HX-Retarget"] == "#flash"


def test_tab_is_a_fragment_for_htmx_and_a_page_otherwise(client, login_as):
    login_as("staff")
    project = ProjectFactory()
    url = f"/projects/{project.id}/offerings"
    page, fragment = client.get(url), client.get(url, htmx=True)
    restore = client.get(url, htmx=True, headers={"HX-History-Restore-Request": "true"})
    boosted = client.get(url, htmx=True, headers={"HX-Boosted": "true"})
    assert b"<html" in page.data and b"<html" not in fragment.data
    assert b"<html" in restore.data and b"<html" in boosted.data
    for response in (page, fragment):
        assert "HX-Request" in response.headers["Vary"]


def test_creating_a_project_and_an_offering_through_the_forms(client, login_as, session):
    user = login_as("pm", permissions=["create_projects"])
    client_row = ClientFactory()
    response = client.post("/projects/new", htmx=True, data={
        "name": "Web shop", "client_id": client_row.id, "stage_id": stage("Planning").id, "pm_id": user.id,
        "start_date": "2026-12-01", "end_date": "2027-03-31"})
    assert response.status_code == 200 and response.headers["HX-Redirect"].endswith("/offerings")
    project = session.scalar(select(Project).where(Project.name == "Web shop"))
    response = client.post(f"/projects/{project.id}/offerings/new", htmx=True, data={
        "name": "Build", "billing_model": "time_and_materials", "sold_hours": "120", "sale_status": "pre_sale"})
    assert response.status_code == 200 and b"Build" in response.data
    offering = session.scalar(select(Offering).where(Offering.project_id == project.id))
    assert (offering.sold_hours, offering.planned_hours) == (Decimal("120"), Decimal("120"))


def test_invalid_project_form_is_a_422_and_saves_nothing(client, login_as, session):
    login_as("pm", permissions=["create_projects"])
    response = client.post("/projects/new", htmx=True, data={"name": "", "stage_id": stage("Planning").id})
    assert response.status_code == 422 and b"<html" not in response.data
    assert session.scalar(select(Project)) is None


def test_offering_form_errors_come_back_with_a_422(client, login_as, session):
    pm = login_as("pm")
    project = ProjectFactory(pm_id=pm.id)
    response = client.post(f"/projects/{project.id}/offerings/new", htmx=True, data={
        "name": "Fixed", "billing_model": "fixed_bid", "sold_hours": "10", "sale_status": "sold"})
    assert response.status_code == 422 and b"need a fixed fee" in response.data
    assert session.scalar(select(Offering)) is None


def test_project_creation_is_forbidden_in_a_stage_that_does_not_allow_it(client, login_as, session):
    login_as("pm", permissions=["create_projects"])
    response = client.post("/projects/new", data={"name": "X", "client_id": ClientFactory().id,
                                                  "stage_id": stage("Closed").id})
    assert response.status_code == 422  # not a choice offered to this user
    assert session.scalar(select(Project)) is None


def test_staff_cannot_change_a_project(client, login_as):
    login_as("staff")
    project = ProjectFactory()
    assert client.post(f"/projects/{project.id}/edit", data={"name": "Hijacked"}).status_code == 403
    assert client.post(f"/projects/{project.id}/offerings/new", data={"name": "X"}).status_code == 403


def test_pm_adds_and_removes_a_person(client, login_as, session):
    pm = login_as("pm")
    offering = OfferingFactory(project=ProjectFactory(pm_id=pm.id))
    person = ResourceFactory()
    response = client.post(f"/offerings/{offering.id}/assignments", htmx=True,
                           data={"resource_id": person.id, "bill_rate": "140", "planned_hours": "20"})
    assert response.status_code == 200 and person.name.encode() in response.data
    assignment = session.scalar(select(Assignment))
    assert assignment.bill_rate == Decimal("140")
    client.post(f"/assignments/{assignment.id}/remove", htmx=True)
    assert session.scalar(select(Assignment)) is None


def test_booking_form_refuses_absurd_hours(client, login_as, session):
    pm = login_as("pm")
    project = ProjectFactory(pm_id=pm.id)
    person = ResourceFactory()
    response = client.post(f"/projects/{project.id}/bookings", htmx=True,
                           data={"resource_id": person.id, "mode": "day", "on": "2026-12-01", "hours": "30"})
    assert response.status_code == 422
    assert session.scalar(select(Booking)) is None


def test_load_more_returns_rows_only(client, login_as):
    login_as("staff")
    for i in range(30):
        ProjectFactory(name=f"P{i:02d}")
    first = client.get("/projects")
    assert first.data.count(b"<tr>") >= 25 and b"Load more" in first.data
    cursor = first.data.split(b"after=")[1].split(b"&")[0].split(b'"')[0].decode()
    more = client.get(f"/projects?after={cursor}", htmx=True)
    assert b"<table" not in more.data and b"P29" in more.data


def test_deal_closed_won_through_the_page(client, login_as, session):
    from tests.factories import DealFactory

    login_as("admin")
    project = ProjectFactory(is_active=False)
    deal = DealFactory(client=project.client, project_id=project.id)
    response = client.post(f"/deals/{deal.id}/stage", htmx=True, data={"stage": "closed_won"})
    assert response.status_code == 200 and b"is now Active" in response.data  # the flash, out of band
    session.refresh(project)
    assert project.is_active


def test_org_settings_only_super_admin_saves(client, login_as, session):
    from portal.org.services import get_settings

    login_as("admin")
    assert client.post("/settings/organization", data={"name": "X", "timesheet_hours_source": "sold",
                                                       "finance_rate_type": "cost", "week_start": "0"}
                       ).status_code == 403
    client.post("/logout")
    login_as("super_admin")
    response = client.post("/settings/organization", htmx=True, data={
        "name": "Renamed Co", "assignment_level_budgeting": "y", "timesheet_hours_source": "current",
        "finance_rate_type": "sell", "week_start": "6"})
    assert response.status_code == 200 and b"re-synced" in response.data
    settings = get_settings(session)
    session.refresh(settings)
    assert (settings.name, settings.assignment_level_budgeting, settings.week_start) == ("Renamed Co", True, 6)


def test_audit_log_filters_by_subject(client, login_as, session):
    from portal import audit

    login_as("admin")
    project = ProjectFactory()
    audit.record(session, "test", "project.poked", project, summary="poked")
    audit.record(session, "test", "other.thing", subject_type="x", subject_id=1, summary="other")
    session.flush()
    response = client.get(f"/settings/audit?subject=projects:{project.id}")
    assert b"poked" in response.data and b"other.thing" not in response.data


def test_client_user_form_requires_a_client(client, login_as, session):
    login_as("admin")
    response = client.post("/admin/users/new", htmx=True, data={"email": "c@example.test", "name": "C",
                                                                "role": "client", "password": "long enough pw"})
    assert response.status_code == 422 and b"Choose a client" in response.data
    assert UserFactory  # factories stay importable for the matrix above


def test_the_stage_filter_lists_each_name_once_and_finds_it_in_every_workflow(client, session, login_as):
    """With two engagement types the filter used to list every stage name twice."""
    from portal.stages import services as stages

    admin = login_as("admin", permissions=["system_settings"])
    support = stages.create_engagement_type(session, admin, "Support")
    ProjectFactory(name="Standard build", stage=stage("In Progress"))
    ProjectFactory(name="Support desk", stage=support.stages[2], engagement_type_id=support.id)
    ProjectFactory(name="Still planning", stage=stage("Planning"))
    body = client.get("/projects").get_data(as_text=True)
    stage_select = body[body.index('<select id="stage"'):body.index("</select>", body.index('<select id="stage"'))]
    assert stage_select.count(">In Progress</option>") == 1 and stage_select.count(">Planning</option>") == 1
    body = client.get("/projects?stage=In+Progress", htmx=True).get_data(as_text=True)
    assert "Standard build" in body and "Support desk" in body and "Still planning" not in body


def test_the_list_says_when_closed_projects_match_but_are_hidden(client, session, login_as):
    login_as("pm")
    ProjectFactory(name="Harbour app", stage=stage("Closed"))
    ProjectFactory(name="Harbour survey", stage=stage("Closed"))
    body = client.get("/projects?q=Harbour", htmx=True).get_data(as_text=True)
    assert "No projects match." in body
    assert "2 closed projects match too: they are hidden while <em>Show closed projects</em> is not ticked." in body
    body = client.get("/projects?q=Harbour&closed=1", htmx=True).get_data(as_text=True)
    assert "Harbour app" in body and 'id="hidden-closed"' not in body
