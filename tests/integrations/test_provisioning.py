"""Provision New, Connect Existing, Disconnect and the pushes: every provisioning rule of issue 4, the
ALB × Hours Source matrix of seed 002 section 7, and idempotent re-runs, against the sandbox."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from portal import events
from portal.audit import AuditEvent
from portal.errors import InvalidInput
from portal.integrations import provisioning, pushing
from portal.integrations.models import PersonLink, ProjectUserLink
from portal.mail import OutboundEmail
from portal.org.services import get_settings
from portal.projects import services as project_services
from portal.runs.models import SyncMessage
from tests.factories import ClientFactory, ProjectFactory, UserFactory, stage
from tests.toggl_sandbox import TOKEN


def provision(session, run_jobs, tool, offering, actor):
    run = provisioning.start_provision(session, actor, offering.id, tool.connection.id)
    session.commit()
    run_jobs()
    session.expire_all()
    return session.get(type(run), run.id)


def notes(session, run) -> list[str]:
    return [m.reason for m in session.scalars(select(SyncMessage).where(SyncMessage.run_id == run.id,
                                                                       SyncMessage.reason != ""))]


def test_provision_creates_the_project_from_the_offering_with_its_team(session, tool, admin, run_jobs):
    offering = tool.offering(people={"Ana@Example.test": "150", "ben@example.test": "120"}, name="Platform build",
                             sold_hours=Decimal("400.4"), planned_hours=Decimal("380"),
                             start_date=date(2026, 1, 5), end_date=date(2026, 6, 30))
    run = provision(session, run_jobs, tool, offering, admin)
    assert run.status == "succeeded", run.error
    assert run.status_text.startswith("Provisioned the Toggl project Platform build")
    link = tool.link(session, offering)
    assert link.method == "provisioned" and link.external_url.endswith(f"/projects/{link.external_id}/team")
    project = tool.sandbox.project(link.external_id)
    assert (project["name"], project["client_id"], project["start_date"], project["end_date"]) == (
        "Platform build", tool.toggl_client_id, "2026-01-05", "2026-06-30")
    assert project["estimated_hours"] == 400 and project["billable"] is True and project["fixed_fee"] is None
    assert project["active"] is True and project["external_reference"] == f"portal-offering-{offering.id}"
    team = tool.sandbox.team(link.external_id)
    assert set(team) == {"integration@example.test", "ana@example.test", "ben@example.test"}
    assert team["integration@example.test"]["manager"] and not team["ana@example.test"]["manager"]
    assert team["ana@example.test"]["rate"] is None  # rates only with Assignment Level Budgeting
    assert session.scalar(select(PersonLink).where(PersonLink.external_email == "ana@example.test")).method \
        == "auto_mapped"


def test_unmapped_client_is_refused_before_anything_is_sent(session, tool, admin, run_jobs):
    offering = tool.offering(project=ProjectFactory(client=ClientFactory(name="Globex")))
    run = provision(session, run_jobs, tool, offering, admin)
    assert run.status == "failed"
    assert "The client Globex is not mapped to a Toggl client" in run.error
    assert tool.sandbox.writes() == [] and tool.link(session, offering) is None
    assert notes(session, run) == [run.error]


def test_unmapped_duplicate_client_names_the_mapped_twin(session, tool, admin, run_jobs):
    twin = ClientFactory(name="NORTHWIND TRADERS, Inc.")
    offering = tool.offering(project=ProjectFactory(client=twin))
    run = provision(session, run_jobs, tool, offering, admin)
    assert "looks like a duplicate of Northwind Traders, which is mapped to the Toggl client Northwind" in run.error
    assert "one Toggl client maps to one CRM client" in run.error


@pytest.mark.parametrize("model, billable, fee", [
    ("time_and_materials", True, None), ("fixed_bid", True, 24000), ("retainer", True, 24000),
    ("internal", False, None), ("time_off", False, None),
])
def test_billable_flag_and_fixed_fee_follow_the_billing_model(session, tool, admin, run_jobs, model, billable, fee):
    offering = tool.offering(model)
    provision(session, run_jobs, tool, offering, admin)
    project = tool.sandbox.project(tool.link(session, offering).external_id)
    assert project["billable"] is billable and project["fixed_fee"] == fee


@pytest.mark.parametrize("alb, source, hours, rates", [
    (False, "sold", 400, {"ana@example.test": None, "ben@example.test": None}),
    (False, "current", 320, {"ana@example.test": None, "ben@example.test": None}),
    (True, "sold", 400, {"ana@example.test": 150, "ben@example.test": 95.5}),
    (True, "current", 320, {"ana@example.test": 150, "ben@example.test": 95.5}),
])
def test_configuration_matrix(session, tool, admin, run_jobs, alb, source, hours, rates):
    """Seed 002 section 7: hours always at project level by Hours Source; per-person rates only with ALB."""
    settings = get_settings(session)
    settings.assignment_level_budgeting, settings.timesheet_hours_source = alb, source
    offering = tool.offering(people={"ana@example.test": "150", "ben@example.test": "95.50"},
                             sold_hours=Decimal("400"), planned_hours=Decimal("320"))
    provision(session, run_jobs, tool, offering, admin)
    link = tool.link(session, offering)
    assert tool.sandbox.project(link.external_id)["estimated_hours"] == hours
    team = tool.sandbox.team(link.external_id)
    assert {email: team[email]["rate"] for email in rates} == rates


def test_fixed_bid_sends_one_effective_rate_to_everyone(session, tool, admin, run_jobs):
    get_settings(session).assignment_level_budgeting = True
    offering = tool.offering("fixed_bid", people={"ana@example.test": "150", "ben@example.test": None},
                             fixed_fee=Decimal("10000"), sold_hours=Decimal("75"))
    provision(session, run_jobs, tool, offering, admin)
    team = tool.sandbox.team(tool.link(session, offering).external_id)
    assert team["ana@example.test"]["rate"] == team["ben@example.test"]["rate"] == 133.33


@pytest.mark.parametrize("model, rate", [("internal", "150"), ("time_off", "150"), ("time_and_materials", "0")])
def test_no_rate_for_internal_time_off_or_a_zero_rate(session, tool, admin, run_jobs, model, rate):
    get_settings(session).assignment_level_budgeting = True
    offering = tool.offering(model, people={"ana@example.test": rate})
    provision(session, run_jobs, tool, offering, admin)
    assert tool.sandbox.team(tool.link(session, offering).external_id)["ana@example.test"]["rate"] is None
    added = [w for w in tool.sandbox.writes() if w["path"].endswith("/project_users")]
    assert len(added) == 1


def test_the_connections_own_user_is_skipped_with_a_note(session, tool, admin, run_jobs):
    offering = tool.offering(people={"integration@example.test": "200", "ana@example.test": "150"})
    run = provision(session, run_jobs, tool, offering, admin)
    assert run.status == "succeeded"
    assert any("is the Toggl user the connection acts as" in n for n in notes(session, run))
    team = tool.sandbox.team(tool.link(session, offering).external_id)
    assert team["integration@example.test"]["manager"] and "ana@example.test" in team


def test_people_who_are_not_members_are_noted_not_failed(session, tool, admin, run_jobs):
    offering = tool.offering(people={"stranger@example.test": "150", "ana@example.test": "150"})
    run = provision(session, run_jobs, tool, offering, admin)
    assert run.status == "succeeded"
    assert any("stranger@example.test) is not a member of the Toggl workspace" in n for n in notes(session, run))


def test_public_projects_get_explicit_project_users_too(session, toggl, run_jobs, admin):
    from portal.integrations.models import ClientLink
    from tests.factories import AssignmentFactory, OfferingFactory, ResourceFactory
    from tests.toggl_sandbox import make_connection

    world = toggl.standard(members=["ana@example.test"], private=False)
    connection = make_connection(session, world)
    client = ClientFactory()
    toggl_client = toggl.seed(clients=[{"workspace_id": world.workspace_id, "name": "Public Co"}])["clients"][0]
    session.add(ClientLink(connection_id=connection.id, client_id=client.id, external_id=str(toggl_client["id"]),
                           external_name="Public Co", method="connected"))
    offering = OfferingFactory(project=ProjectFactory(client=client))
    AssignmentFactory(offering=offering, resource=ResourceFactory(email="ana@example.test"))
    provisioning.start_provision(session, admin, offering.id, connection.id)
    session.commit()
    run_jobs()
    (project,) = toggl.projects()
    assert project["is_private"] is False
    assert "ana@example.test" in toggl.team(project["id"])


# Connect Existing ---------------------------------------------------------------------------------

def existing_project(tool, **values) -> dict:
    body = {"workspace_id": tool.world.workspace_id, "name": "Legacy support", "client_id": tool.toggl_client_id,
            "estimated_hours": 10, **values}
    return tool.sandbox.seed(projects=[body])["projects"][0]


@pytest.mark.parametrize("how", ["id", "url"])
def test_connect_existing_links_without_modifying_the_project(session, tool, admin, run_jobs, how):
    project = existing_project(tool)
    offering = tool.offering(people={"ana@example.test": "150"})
    text = str(project["id"]) if how == "id" else \
        f"https://track.toggl.com/{tool.world.workspace_id}/projects/{project['id']}/team"
    mark = tool.sandbox.mark()
    provisioning.start_connect(session, admin, offering.id, tool.connection.id, text)
    session.commit()
    run_jobs()
    run = tool.last_run(session)
    assert run.status == "succeeded" and "nothing was changed in Toggl" in run.status_text
    assert tool.sandbox.writes(mark) == []
    link = tool.link(session, offering)
    assert (link.external_id, link.method, link.external_name) == (str(project["id"]), "connected", "Legacy support")
    assert tool.sandbox.project(project["id"])["name"] == "Legacy support"


@pytest.mark.parametrize("text, message", [
    ("https://track.toggl.com/timer", "has no Toggl project id"),
    ("999999", "has no project 999999"),
    ("https://track.toggl.com/111/projects/222/team", "a project of Toggl workspace 111"),
])
def test_connect_bad_input_is_refused_while_the_person_waits(session, tool, admin, run_jobs, text, message):
    """Input errors are the form's (issue 15 item 5): refused before any run starts, on the project field."""
    offering = tool.offering()
    with pytest.raises(InvalidInput) as refused:
        provisioning.start_connect(session, admin, offering.id, tool.connection.id, text)
    assert message in refused.value.message and refused.value.fields["project"]
    assert tool.last_run(session) is None
    assert tool.link(session, offering) is None and tool.sandbox.writes() == []


def test_a_project_linked_to_another_offering_cannot_be_connected_again(session, tool, admin, run_jobs):
    project = existing_project(tool)
    first, second = tool.offering(), tool.offering()
    provisioning.start_connect(session, admin, first.id, tool.connection.id, str(project["id"]))
    session.commit()
    run_jobs()
    with pytest.raises(InvalidInput, match=f"already linked to {first.name}"):
        provisioning.start_connect(session, admin, second.id, tool.connection.id, str(project["id"]))


def test_a_run_that_fails_on_its_input_offers_no_retry(session, tool, admin, run_jobs):
    """The same project linked meanwhile to another offering: the run fails on input, which Retry cannot fix."""
    project = existing_project(tool)
    first, second = tool.offering(), tool.offering()
    for offering in (first, second):
        provisioning.start_connect(session, admin, offering.id, tool.connection.id, str(project["id"]))
    session.commit()
    run_jobs()
    run = tool.last_run(session)
    assert run.status == "failed" and f"already linked to {first.name}" in run.error and not run.retryable


# Changes propagate on save, idempotently ------------------------------------------------------------

@pytest.fixture
def linked(session, tool, admin, run_jobs):
    get_settings(session).assignment_level_budgeting = True
    offering = tool.offering(people={"ana@example.test": "150", "ben@example.test": "120"},
                             start_date=date(2026, 1, 5), end_date=date(2026, 6, 30))
    provision(session, run_jobs, tool, offering, admin)
    return offering, tool.link(session, offering).external_id


def test_offering_changes_reach_the_project(session, tool, admin, run_jobs, linked):
    offering, project_id = linked
    project_services.update_offering(session, admin, offering.id, name="Platform build v2", end_date=date(2026, 9, 30),
                                     sold_hours=Decimal("250"))
    session.commit()
    run_jobs()
    project = tool.sandbox.project(project_id)
    assert (project["name"], project["end_date"], project["estimated_hours"]) == ("Platform build v2",
                                                                                  "2026-09-30", 250)
    assert tool.last_run(session).status_text.startswith("Toggl project Platform build v2: updated name, end date, "
                                                         "budget hours")
    assert tool.link(session, offering).external_name == "Platform build v2"


def test_billing_model_change_updates_billable_fee_and_rates(session, tool, admin, run_jobs, linked):
    offering, project_id = linked
    project_services.update_offering(session, admin, offering.id, billing_model="fixed_bid",
                                     fixed_fee=Decimal("20000"), sold_hours=Decimal("100"))
    session.commit()
    run_jobs()
    assert tool.sandbox.project(project_id)["fixed_fee"] == 20000
    assert {pu["rate"] for e, pu in tool.sandbox.team(project_id).items() if e != "integration@example.test"} == {200}
    project_services.update_offering(session, admin, offering.id, billing_model="internal", fixed_fee=None)
    session.commit()
    run_jobs()
    project = tool.sandbox.project(project_id)
    assert project["billable"] is False and project["fixed_fee"] is None
    assert {pu["rate"] for pu in tool.sandbox.team(project_id).values()} == {None}


def test_archiving_deactivates_and_reactivating_restores(session, tool, admin, run_jobs, linked):
    offering, project_id = linked
    project_services.update_offering(session, admin, offering.id, archived=True)
    session.commit()
    run_jobs()
    assert tool.sandbox.project(project_id)["active"] is False
    project_services.update_offering(session, admin, offering.id, archived=False)
    session.commit()
    run_jobs()
    assert tool.sandbox.project(project_id)["active"] is True


def test_moving_into_a_closed_stage_archives_the_project(session, tool, admin, run_jobs, linked):
    offering, project_id = linked
    project = offering.project
    before, project.stage = project.stage, stage("Closed")
    events.project_stage_changed.send(project, session=session, actor=admin, from_stage=before,
                                      to_stage=project.stage, options={})
    session.commit()
    run_jobs()
    assert tool.sandbox.project(project_id)["status"] == "archived"


def test_team_changes_add_update_and_remove_project_users(session, tool, admin, run_jobs, linked):
    from tests.factories import ResourceFactory

    offering, project_id = linked
    cy = ResourceFactory(email="cy@example.test", name="Cy")
    project_services.add_assignment(session, admin, offering.id, cy.id, bill_rate=Decimal("99"))
    session.commit()
    run_jobs()
    assert tool.sandbox.team(project_id)["cy@example.test"]["rate"] == 99
    ana = next(a for a in offering.assignments if a.resource.email == "ana@example.test")
    project_services.update_assignment(session, admin, ana.id, bill_rate=Decimal("175"), planned_hours=Decimal("10"),
                                       role="")
    session.commit()
    run_jobs()
    assert tool.sandbox.team(project_id)["ana@example.test"]["rate"] == 175
    tool.sandbox.seed(time_entries=[{"workspace_id": tool.world.workspace_id, "email": "ben@example.test",
                                     "project_id": int(project_id), "start": "2026-03-02T09:00:00Z",
                                     "duration": 7200}])
    ben = next(a for a in offering.assignments if a.resource.email == "ben@example.test")
    project_services.remove_assignment(session, admin, ben.id)
    session.commit()
    run_jobs()
    assert "ben@example.test" not in tool.sandbox.team(project_id)
    assert [e["project_id"] for e in tool.sandbox.state()["time_entries"]] == [int(project_id)]  # history kept
    assert session.scalar(select(ProjectUserLink).where(ProjectUserLink.resource_id == ben.resource_id)) is None


def test_rate_changes_are_not_sent_without_assignment_level_budgeting(session, tool, admin, run_jobs, linked):
    offering, _ = linked
    get_settings(session).assignment_level_budgeting = False
    session.commit()
    mark = tool.sandbox.mark()
    ana = next(a for a in offering.assignments if a.resource.email == "ana@example.test")
    project_services.update_assignment(session, admin, ana.id, bill_rate=Decimal("300"), planned_hours=Decimal("10"),
                                       role="")
    session.commit()
    run_jobs()
    assert tool.sandbox.requests(mark) == []


def test_pushing_again_changes_nothing(session, tool, admin, run_jobs, linked):
    offering, _ = linked
    mark = tool.sandbox.mark()
    for _ in range(2):
        provisioning.request_push(session, admin, offering, tool.connection)
        session.commit()
        run_jobs()
    assert tool.sandbox.writes(mark) == []
    assert tool.last_run(session).status_text.endswith("up to date")


def test_people_added_in_toggl_by_hand_are_left_alone(session, tool, admin, run_jobs, linked):
    offering, project_id = linked
    tool.sandbox.seed(project_users=[{"project_id": int(project_id), "email": "cy@example.test"}])
    provisioning.request_push(session, admin, offering, tool.connection)
    session.commit()
    run_jobs()
    assert "cy@example.test" in tool.sandbox.team(project_id)


def test_retrying_a_provisioning_finishes_it_without_a_second_project(session, tool, admin, run_jobs):
    offering = tool.offering(people={"ana@example.test": "150"})
    tool.sandbox.fault(r"/api/v9/workspaces/\d+/project_users", method="POST", status=503, times=-1)
    run = provision(session, run_jobs, tool, offering, admin)
    assert run.status == "failed" and "Toggl could not be reached or failed" in run.error
    assert tool.link(session, offering) is not None  # the project exists in Toggl, so the link is kept
    tool.sandbox.clear_faults()
    from portal.runs import services as runs

    runs.retry(session, admin, run.id)
    session.commit()
    run_jobs()
    assert tool.last_run(session).status == "succeeded"
    assert len(tool.sandbox.projects()) == 1
    assert "ana@example.test" in tool.sandbox.team(tool.link(session, offering).external_id)


def test_a_lost_creation_answer_is_adopted_not_duplicated(session, tool, admin, run_jobs):
    offering = tool.offering(people={})
    existing_project(tool, name=offering.name, external_reference=f"portal-offering-{offering.id}")
    run = provision(session, run_jobs, tool, offering, admin)
    assert run.status == "succeeded" and len(tool.sandbox.projects()) == 1


def test_toggl_down_or_out_of_quota_fails_clearly_and_links_nothing(session, tool, admin, run_jobs):
    offering = tool.offering()
    organization = tool.sandbox.state()["workspaces"][0]["organization_id"]
    tool.sandbox.limits(organizations={str(organization): {"quota": 1}})
    httpx.get(f"{tool.sandbox.url}/api/v9/workspaces/{tool.world.workspace_id}/clients",
              auth=(TOKEN, "api_token")).raise_for_status()  # the hour's only request
    run = provision(session, run_jobs, tool, offering, admin)
    assert run.status == "failed" and "quota for this workspace is used up" in run.error
    assert tool.link(session, offering) is None and tool.sandbox.writes() == []
    tool.sandbox.clear_faults()
    tool.sandbox.fault(r"/api/v9/.*", status=503, times=-1)
    run = provision(session, run_jobs, tool, offering, admin)
    assert run.status == "failed" and "Toggl could not be reached or failed: it answered 503" in run.error
    assert tool.link(session, offering) is None and tool.sandbox.writes() == []


def test_disconnect_forgets_the_link_and_changes_nothing_in_toggl(session, tool, admin, run_jobs, linked):
    offering, project_id = linked
    mark = tool.sandbox.mark()
    provisioning.start_disconnect(session, admin, offering.id, tool.connection.id)
    session.commit()
    run_jobs()
    assert tool.link(session, offering) is None and tool.sandbox.requests(mark) == []
    assert tool.sandbox.project(project_id)["active"] is True


def test_a_deleted_toggl_project_is_reported_on_push(session, tool, admin, run_jobs, linked):
    offering, project_id = linked
    httpx.delete(f"{tool.sandbox.url}/api/v9/workspaces/{tool.world.workspace_id}/projects/{project_id}",
                 auth=(TOKEN, "api_token")).raise_for_status()
    provisioning.request_push(session, admin, offering, tool.connection)
    session.commit()
    run_jobs()
    assert "no longer exists in the workspace" in tool.last_run(session).error


def test_a_push_that_meets_a_regenerated_token_marks_the_connection_as_a_sync_would(session, tool, admin, run_jobs,
                                                                                    linked):
    """The push fails saying why, and the connection needs a new token: syncs stop and admins are told once,
    as when a sync meets it (toggl/credentials.py)."""
    offering, _ = linked
    UserFactory(role="admin", email="it@example.test")
    tool.connection.credentials = json.dumps({"api_token": "regenerated-in-toggl"})
    session.commit()
    for _ in range(2):
        provisioning.request_push(session, admin, offering, tool.connection)
        session.commit()
        run_jobs()
        run = tool.last_run(session)
        assert run.status == "failed" and "API token" in run.error
        tool.connection.status = "connected"  # an admin re-validates; the next refusal marks it again
        session.commit()
    session.refresh(tool.connection)
    assert tool.connection.settings["needs_token"] is True and "API token" in tool.connection.last_error
    emails = session.scalars(select(OutboundEmail).where(OutboundEmail.category == "sync_alert")).all()
    assert len(emails) == 1 and "it@example.test" in emails[0].recipients
    refused = session.scalars(select(AuditEvent).where(AuditEvent.action == "connection.token_refused")).all()
    assert len(refused) == 1


# Entering In Progress ---------------------------------------------------------------------------------

def test_moving_to_in_progress_provisions_the_checked_offerings_only(session, tool, admin, run_jobs):
    project = ProjectFactory(client=tool.client, stage=stage("Planning"))
    checked, unchecked = tool.offering(project=project), tool.offering(project=project)
    before, project.stage = project.stage, stage("In Progress")
    events.project_stage_changed.send(project, session=session, actor=admin, from_stage=before, to_stage=project.stage,
                                      options={"provision_offering_ids": [checked.id],
                                               "provision_choice_shown": True})
    session.commit()
    run_jobs()
    assert tool.link(session, checked) is not None and tool.link(session, unchecked) is None
    assert [p["name"] for p in tool.sandbox.projects()] == [checked.name]


def test_a_move_without_the_dialogs_choice_provisions_every_offering(session, tool, admin, run_jobs):
    project = ProjectFactory(client=tool.client, stage=stage("Planning"))
    offerings = [tool.offering(project=project), tool.offering(project=project)]
    before, project.stage = project.stage, stage("In Progress")
    events.project_stage_changed.send(project, session=session, actor="crm", from_stage=before,
                                      to_stage=project.stage, options={})
    session.commit()
    run_jobs()
    assert all(tool.link(session, o) is not None for o in offerings)


def test_a_project_that_is_not_active_is_not_provisioned(session, tool, admin, run_jobs):
    project = ProjectFactory(client=tool.client, stage=stage("Planning"), is_active=False,
                             start_date=date.today() - timedelta(days=1))
    offering = tool.offering(project=project)
    before, project.stage = project.stage, stage("In Progress")
    events.project_stage_changed.send(project, session=session, actor=admin, from_stage=before,
                                      to_stage=project.stage, options={"provision_choice_shown": True,
                                                                       "provision_offering_ids": [offering.id]})
    session.commit()
    run_jobs()
    assert tool.link(session, offering) is None


# The org-wide re-push after a settings change --------------------------------------------------------

def test_changing_alb_offers_a_resync_that_pushes_every_linked_project(session, tool, admin, run_jobs, linked):
    from portal.org import services as org_services
    from tests.factories import UserFactory

    offering, project_id = linked
    org_services.update_settings(session, UserFactory(role="super_admin"), assignment_level_budgeting=False)
    session.commit()
    org_services.update_settings(session, UserFactory(role="super_admin"), timesheet_hours_source="current")
    session.commit()
    session.refresh(tool.connection)
    assert tool.connection.settings["resync_needed"] == ["assignment_level_budgeting", "timesheet_hours_source"]
    offering.planned_hours = Decimal("55")
    session.commit()
    pushing.start_push_all(session, UserFactory(role="super_admin"), tool.connection.id)
    session.commit()
    run_jobs()
    run = tool.last_run(session)
    assert run.status == "succeeded" and run.progress_done == run.progress_total == 1
    assert tool.sandbox.project(project_id)["estimated_hours"] == 55
    session.refresh(tool.connection)
    assert "resync_needed" not in tool.connection.settings


def test_only_a_super_admin_may_resync(session, tool, admin):
    from portal.errors import NotAllowed

    with pytest.raises(NotAllowed):
        pushing.start_push_all(session, admin, tool.connection.id)


def test_the_re_push_stops_when_the_quota_is_used_up(session, tool, admin, run_jobs, linked):
    from tests.factories import UserFactory

    offering, _ = linked
    organization = tool.sandbox.state()["workspaces"][0]["organization_id"]
    tool.sandbox.limits(organizations={str(organization): {"quota": 1}})
    pushing.start_push_all(session, UserFactory(role="super_admin"), tool.connection.id)
    session.commit()
    run_jobs()
    run = tool.last_run(session)
    assert run.status == "failed" and "quota for this workspace is used up" in run.error
    assert "0 of 1 linked offerings were pushed" in run.error
