"""Stage editor × timesheet tools: moving a project into In Progress through the real move dialog offers its
offerings (checked by default) and provisions exactly the ones left checked (seed 000)."""

from __future__ import annotations

from sqlalchemy import select

from portal.integrations.models import ProjectLink
from tests.factories import ProjectFactory, stage


def test_the_move_dialog_offers_offerings_when_the_target_is_in_progress(client, login_as, session, tool):
    pm = login_as("pm")
    project = ProjectFactory(client=tool.client, pm_id=pm.id, stage=stage("Planning"))
    first = tool.offering(project=project, name="Build")
    dialog = client.get(f"/projects/{project.id}/move?stage_id={stage('In Progress').id}", htmx=True)
    assert dialog.status_code == 200
    assert f'name="provision_offering_ids" value="{first.id}" checked'.encode() in dialog.data
    elsewhere = client.get(f"/projects/{project.id}/move?stage_id={stage('Pre-Close').id}", htmx=True)
    assert b"provision_offering_ids" not in elsewhere.data


def test_only_the_checked_offerings_are_provisioned(client, login_as, session, tool, run_jobs):
    pm = login_as("pm")
    project = ProjectFactory(client=tool.client, pm_id=pm.id, stage=stage("Planning"))
    kept = tool.offering(project=project, name="Build")
    skipped = tool.offering(project=project, name="Support")
    response = client.post(f"/projects/{project.id}/move", data={
        "stage_id": stage("In Progress").id, "provision_offering_ids": [kept.id], "provision_choice_shown": "1"})
    assert response.status_code == 303, response.data
    run_jobs()
    session.expire_all()
    links = session.scalars(select(ProjectLink)).all()
    assert [link.offering_id for link in links] == [kept.id]
    assert [p["name"] for p in tool.sandbox.projects()] == ["Build"]
    assert skipped.id not in {link.offering_id for link in links}


def test_unticking_every_offering_provisions_nothing(client, login_as, session, tool, run_jobs):
    pm = login_as("pm")
    project = ProjectFactory(client=tool.client, pm_id=pm.id, stage=stage("Planning"))
    tool.offering(project=project)
    response = client.post(f"/projects/{project.id}/move", data={
        "stage_id": stage("In Progress").id, "provision_choice_shown": "1"})
    assert response.status_code == 303
    run_jobs()
    assert session.scalars(select(ProjectLink)).all() == [] and tool.sandbox.projects() == []
