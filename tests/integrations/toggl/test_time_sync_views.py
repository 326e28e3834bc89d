"""Pages of the time sync: Sync log (Sync now, runs, messages with Retry, unmatched and matched people), a
project's Sync time, "From Toggl" on timesheets, and the approver's decisions on changes after approval."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.integrations.models import PersonLink
from portal.integrations.toggl import time_runs
from portal.runs.models import SyncMessage, SyncRun
from portal.timesheets import workflow
from tests.factories import ResourceFactory, UserFactory, stage
from tests.integrations.toggl.time_sync_support import days_ago, link, start, sync, synced


@pytest.fixture
def linked(session, tool):
    return link(session, tool, tool.offering(people={"ana@example.test": "150"}, name="Platform build"))


def runs_count(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(SyncRun))


def test_the_sync_log_is_for_admins(session, client, login_as, tool):
    login_as("staff")
    assert client.get(f"/settings/integrations/connections/{tool.connection.id}/sync-log").status_code == 403
    login_as("admin")
    page = client.get(f"/settings/integrations/connections/{tool.connection.id}/sync-log").get_data(as_text=True)
    assert "Sync all projects now" in page and "Unmatched people" in page
    assert "Everyone who logs time is matched" in page


def test_sync_now_starts_one_run_and_a_second_click_joins_it(session, client, login_as, tool, linked):
    login_as("admin")
    url = f"/settings/integrations/connections/{tool.connection.id}/sync"
    fragment = client.post(url, htmx=True).get_data(as_text=True)
    assert "<html" not in fragment and 'role="progressbar"' in fragment and 'hx-trigger="load delay:1s"' in fragment
    assert "Sync all projects now" not in fragment  # no second button while it runs
    client.post(url, htmx=True)
    assert runs_count(session) == 1


def test_sync_now_without_linked_offerings_explains(session, client, login_as, tool):
    login_as("admin")
    response = client.post(f"/settings/integrations/connections/{tool.connection.id}/sync", htmx=True)
    assert response.status_code == 409 and "No offering is linked" in response.get_data(as_text=True)


def test_a_run_shows_its_messages_and_a_failed_one_can_be_retried(session, client, login_as, tool, linked, run_jobs):
    tool.sandbox.entries(count=1, emails=["ana@example.test"], project_ids=[linked.toggl_project_id],
                         start_date=days_ago(3).isoformat())
    linked.offering.project.stage = stage("Closed")
    session.commit()
    run = sync(session, run_jobs, tool.connection)
    login_as("admin")
    assert client.get(f"/settings/integrations/sync-runs/{run.id}").status_code == 200
    failed = client.get(f"/settings/integrations/sync-runs/{run.id}?status=failed")
    assert failed.status_code == 200
    page = failed.get_data(as_text=True)
    assert "Refused:" in page and "is closed (Closed)" in page and ">Retry</button>" in page
    message = session.scalar(select(SyncMessage).where(SyncMessage.status == "failed"))
    linked.offering.project.stage = stage("In Progress")
    session.commit()
    row = client.post(f"/settings/integrations/sync-messages/{message.id}/retry", htmx=True).get_data(as_text=True)
    assert "Retrying in" in row and "<tr" in row
    run_jobs()
    assert len(synced(session, tool.connection)) == 1


def test_linking_an_unmatched_person_needs_a_resource_then_imports(session, client, login_as, tool, linked,
                                                                     run_jobs):
    tool.sandbox.set_member("dana@example.test", fullname="Dana")
    tool.sandbox.entries(count=2, emails=["dana@example.test"], project_ids=[linked.toggl_project_id],
                         start_date=days_ago(3).isoformat())
    sync(session, run_jobs, tool.connection)
    person = session.scalar(select(PersonLink).where(PersonLink.external_email == "dana@example.test"))
    dana = ResourceFactory(name="Dana Scully", email="dscully@example.test")
    login_as("admin")
    url = f"/settings/integrations/connections/{tool.connection.id}/people/{person.id}/link"
    refused = client.post(url, data={"resource_id": ""}, htmx=True)
    assert refused.status_code == 422 and "Choose the resource this person is" in refused.get_data(as_text=True)
    linked_page = client.post(url, data={"resource_id": str(dana.id)}, htmx=True).get_data(as_text=True)
    assert "Dana Scully" in linked_page and "Clear mapping" in linked_page
    run_jobs()
    assert {e.resource_id for e in synced(session, tool.connection).values()} == {dana.id}


def test_a_pm_syncs_their_project_from_its_integrations_tab(session, client, login_as, tool, linked, run_jobs):
    pm = login_as("pm")
    linked.offering.project.pm_id = pm.id
    db.session.flush()
    page = client.get(f"/projects/{linked.offering.project_id}/integrations").get_data(as_text=True)
    assert "Sync time from Toggl" in page
    fragment = client.post(f"/projects/{linked.offering.project_id}/timesheets/{tool.connection.id}/sync",
                           htmx=True).get_data(as_text=True)
    assert 'role="progressbar"' in fragment
    run = session.scalar(select(SyncRun))
    assert (run.kind, run.project_id) == ("manual_project", linked.offering.project_id)
    login_as("staff")  # not on the PM team
    response = client.post(f"/projects/{linked.offering.project_id}/timesheets/{tool.connection.id}/sync",
                           htmx=True)
    assert response.status_code == 403


def test_the_projects_time_card_says_who_waits_now_not_what_the_run_counted(session, client, login_as, tool, linked,
                                                                            run_jobs, admin):
    """The card said "Unmatched: 2" from its last run after the person was matched and their time imported."""
    tool.sandbox.set_member("dana@example.test", fullname="Dana Scully")
    tool.sandbox.entries(count=2, emails=["dana@example.test"], project_ids=[linked.toggl_project_id],
                         start_date=days_ago(3).isoformat())
    project_id = linked.offering.project_id
    time_runs.start_project_sync(session, admin, project_id, tool.connection.id)
    session.commit()
    run_jobs()
    login_as("admin")
    card = client.get(f"/projects/{project_id}/integrations").get_data(as_text=True)
    assert "Waiting for a match to a resource: 2 entries of Dana Scully." in card
    assert "Unmatched:" not in card  # the run's count is not repeated beside the live one
    person = session.scalar(select(PersonLink).where(PersonLink.external_email == "dana@example.test"))
    time_runs.link_person(session, admin, tool.connection.id, person.id, ResourceFactory(name="Dana").id)
    session.commit()
    run_jobs()
    card = client.get(f"/projects/{project_id}/integrations").get_data(as_text=True)
    assert "Waiting for a match" not in card and "Unmatched" not in card and "no resource has this email" not in card


def test_the_sync_logs_headline_follows_the_run_the_person_started(session, client, login_as, tool, linked, run_jobs):
    """A webhook's run that came after the person's Sync now took the headline's place."""
    login_as("admin")
    url = f"/settings/integrations/connections/{tool.connection.id}/sync"
    started = client.post(url, htmx=True).get_data(as_text=True)
    mine = session.scalar(select(SyncRun).order_by(SyncRun.id.desc()))
    assert f"{url}?run={mine.id}" in started  # the poll names the run
    run_jobs()
    webhook = start(session, tool.connection, "webhook")
    run_jobs()
    assert webhook.id != mine.id
    polled = client.get(f"{url}?run={mine.id}", htmx=True).get_data(as_text=True)
    assert f'id="sync-run-{mine.id}"' in polled and f'id="sync-run-{webhook.id}"' not in polled
    page = client.get(f"/settings/integrations/connections/{tool.connection.id}/sync-log").get_data(as_text=True)
    headline = page.split('id="time-sync"')[1].split("</section>")[0]
    assert f'id="sync-run-{mine.id}"' in headline  # the latest run that is not a webhook's


def test_synced_time_is_marked_from_toggl_read_only_and_changes_after_approval_are_decided_on_the_timesheet(
        session, client, login_as, tool, linked, run_jobs):
    (entry_id,) = tool.sandbox.entries(count=1, emails=["ana@example.test"], project_ids=[linked.toggl_project_id],
                                       start_date=days_ago(10).isoformat())
    sync(session, run_jobs, tool.connection)
    entry = synced(session, tool.connection)[str(entry_id)]
    ana = entry.resource
    ana.user = UserFactory(role="staff")
    db.session.flush()
    client.login(ana.user)
    week = client.get(f"/time?week={entry.work_date.isoformat()}").get_data(as_text=True)
    assert ">From Toggl</a>" in week and entry.external_url in week
    assert client.post(f"/time/entries/{entry.id}/delete").status_code == 403  # read-only here

    admin = UserFactory(role="admin")
    workflow.transition(session, admin, entry.timesheet_id, "submit", None)
    workflow.transition(session, UserFactory(role="approver"), entry.timesheet_id, "approve", None)
    session.commit()
    tool.sandbox.edit(entry_id, duration=7200, emit=False)
    sync(session, run_jobs, tool.connection, "nightly")
    login_as("approver")
    detail = client.get(f"/timesheets/{entry.timesheet_id}").get_data(as_text=True)
    assert "Changed in the timesheet tool after approval" in detail and "Accept change" in detail
    conflict_id = int(detail.split("/timesheets/conflicts/")[1].split("/")[0])
    response = client.post(f"/timesheets/conflicts/{conflict_id}/accept", htmx=True)
    assert response.headers["HX-Redirect"] == f"/timesheets/{entry.timesheet_id}"
    assert synced(session, tool.connection)[str(entry_id)].timesheet.status == "submitted"
