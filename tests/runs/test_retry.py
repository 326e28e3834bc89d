"""Retry needs the right that starts the work on its subject, and replays nothing that finished: only a failed
run is retried (as a new run) and a paused one resumed now; a succeeded or running run is a 409."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.columns import utcnow
from portal.finance import batches
from portal.integrations import provisioning
from portal.integrations.models import Connection, ConnectionStatus
from portal.queue import get_queue
from portal.runs import services as runs
from portal.runs.models import RunStatus, SyncRun
from tests.factories import OfferingFactory, ProjectFactory, UserFactory


@pytest.fixture
def world(session):
    pm, other_pm = UserFactory(role="pm", name="Pat PM"), UserFactory(role="pm", name="Olga Other")
    project = ProjectFactory(pm_id=pm.id)
    ProjectFactory(pm_id=other_pm.id)
    offering = OfferingFactory(project=project)
    connection = Connection(kind="toggl", status=ConnectionStatus.CONNECTED, settings={})
    session.add(connection)
    session.flush()
    return pm, other_pm, project, offering, connection


def failed_run(session, kind: str, scope: str, job: str, **fields) -> SyncRun:
    run = SyncRun(kind=kind, scope=scope, job=job, queue="sync", status=RunStatus.FAILED, error="Toggl said no",
                  counts={}, checkpoint={}, params={}, **fields)
    session.add(run)
    session.flush()
    return run


def provision_run(session, world, status=RunStatus.FAILED) -> SyncRun:
    _, _, project, offering, connection = world
    run = failed_run(session, "provision", provisioning.offering_scope(connection, offering.id),
                     provisioning.JOBS["provision"], project_id=project.id, offering_id=offering.id,
                     connection_id=connection.id)
    run.status = status
    session.flush()
    return run


def runs_of(session, scope: str) -> int:
    return session.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.scope == scope))


def audited(session, action: str) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


@pytest.mark.parametrize("who", ["staff", "other_pm"])
def test_who_may_not_start_a_projects_timesheet_work_may_not_retry_it(client, session, world, who):
    pm, other_pm, *_ = world
    run = provision_run(session, world)
    client.login(UserFactory(role="staff") if who == "staff" else other_pm)
    response = client.post(f"/sync-runs/{run.id}/retry", htmx=True)
    assert response.status_code == 403
    assert "Only the project's PM team and admins can retry its timesheet work." in unescape(response.text)
    assert runs_of(session, run.scope) == 1 and audited(session, "run.retried") == 0


@pytest.mark.parametrize("who", ["pm", "admin"])
def test_the_projects_pm_and_admins_retry_a_failed_provisioning_as_a_new_audited_run(app, client, session, world,
                                                                                      who):
    pm, *_ = world
    run = provision_run(session, world)
    actor = pm if who == "pm" else UserFactory(role="admin")
    client.login(actor)
    response = client.post(f"/sync-runs/{run.id}/retry", htmx=True)
    assert response.status_code == 200
    again = session.scalar(select(SyncRun).where(SyncRun.scope == run.scope, SyncRun.id != run.id))
    assert again.status == RunStatus.QUEUED and again.initiated_by_id == actor.id and again.kind == "provision"
    assert f'id="sync-run-{again.id}"' in response.text
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "run.retried"))
    assert event.actor_id == actor.id and event.subject_id == again.id and event.before["run"] == run.id
    assert [j.args for j in get_queue("sync", app).jobs] == [(again.id,)]


@pytest.mark.parametrize("status", [RunStatus.SUCCEEDED, RunStatus.RUNNING])
def test_a_finished_or_running_run_is_never_replayed(client, session, world, status):
    run = provision_run(session, world, status=status)
    client.login(UserFactory(role="super_admin"))
    response = client.post(f"/sync-runs/{run.id}/retry", htmx=True)
    assert response.status_code == 409
    expected = "This run finished; it is not replayed." if status == RunStatus.SUCCEEDED else "still going"
    assert expected in unescape(response.text)
    assert runs_of(session, run.scope) == 1 and audited(session, "run.retried") == 0


def test_a_succeeded_disconnect_is_not_replayed_by_the_service_either(session, world):
    pm, _, project, offering, connection = world
    run = failed_run(session, "disconnect", provisioning.offering_scope(connection, offering.id),
                     provisioning.JOBS["disconnect"], project_id=project.id, offering_id=offering.id)
    run.status = RunStatus.SUCCEEDED
    from portal.errors import Conflict

    with pytest.raises(Conflict):
        runs.retry(session, "a script", run.id)
    assert runs_of(session, run.scope) == 1


def test_a_paused_run_is_resumed_now_not_duplicated(app, client, session, world):
    *_, connection = world
    run = failed_run(session, "hourly", f"toggl:time:{connection.id}", "portal.integrations.toggl.jobs.sync_time",
                     connection_id=connection.id)
    run.status, run.error, run.resume_at = RunStatus.QUEUED, "", utcnow() + timedelta(minutes=40)
    run.status_text = "Waiting for the Toggl quota to reset"
    session.flush()
    client.login(UserFactory(role="admin"))
    page = client.get(f"/sync-runs/{run.id}", htmx=True)
    assert "Resume now" in page.text and f'hx-post="/sync-runs/{run.id}/retry"' in page.text
    response = client.post(f"/sync-runs/{run.id}/retry", htmx=True)
    assert response.status_code == 200
    session.refresh(run)
    assert run.status == RunStatus.QUEUED and run.resume_at is None and run.status_text == "Resuming now"
    assert runs_of(session, run.scope) == 1 and audited(session, "run.resumed") == 1
    assert [j.args for j in get_queue("sync", app).jobs] == [(run.id,)]


def test_an_organization_time_sync_is_retried_by_admins_only(client, session, world):
    pm, *_, connection = world
    run = failed_run(session, "hourly", f"toggl:time:{connection.id}", "portal.integrations.toggl.jobs.sync_time",
                     connection_id=connection.id, initiated_by_id=pm.id)  # pm watches it: they started it
    client.login(pm)
    refused = client.post(f"/sync-runs/{run.id}/retry", htmx=True)
    assert refused.status_code == 403 and "Only admins can retry this run." in unescape(refused.text)
    client.login(UserFactory(role="admin"))
    assert client.post(f"/sync-runs/{run.id}/retry", htmx=True).status_code == 200
    assert runs_of(session, run.scope) == 2


def test_finance_runs_need_finance_rights(client, session):
    mpe = UserFactory(role="staff", permissions=["maintain_projects"])  # MPE users post held timesheets
    run = failed_run(session, batches.POST_HELD, "finance:post-held", batches.JOB, initiated_by_id=mpe.id)
    period = failed_run(session, batches.PERIOD_CLOSED, "finance:period:1", batches.JOB, initiated_by_id=mpe.id)
    client.login(mpe)
    assert client.post(f"/sync-runs/{period.id}/retry", htmx=True).status_code == 403  # periods: admins
    assert client.post(f"/sync-runs/{run.id}/retry", htmx=True).status_code == 200
    staff = UserFactory(role="staff")
    again = session.scalar(select(SyncRun).where(SyncRun.scope == "finance:post-held", SyncRun.id != run.id))
    again.initiated_by_id = staff.id  # staff watches it, but may not post
    runs.finish(session, again, error="failed again")
    client.login(staff)
    refused = client.post(f"/sync-runs/{again.id}/retry", htmx=True)
    assert refused.status_code == 403 and "Only finance admins can retry this run." in unescape(refused.text)
    client.login(UserFactory(role="admin"))
    assert client.post(f"/sync-runs/{period.id}/retry", htmx=True).status_code == 200


def test_a_refused_retry_is_shown_disabled_with_its_reason(client, session, world):
    _, other_pm, *_ = world
    run = provision_run(session, world)
    client.login(other_pm)
    fragment = client.get(f"/sync-runs/{run.id}", htmx=True)
    assert fragment.status_code == 200 and "hx-post" not in fragment.text
    assert "disabled" in fragment.text and "Only the project&#39;s PM team and admins" in fragment.text


def test_a_kind_of_run_without_a_declared_retry_right_cannot_start(session):
    with pytest.raises(LookupError, match="no retry right declared"):
        runs.start_run(session, kind="mystery", scope="mystery:1", job="portal.jobs.sweep")


def test_only_the_latest_run_of_its_subject_is_retried(client, session, world):
    """An old failed Disconnect retried after the offering was provisioned again would undo that work."""
    _, _, project, offering, connection = world
    scope = provisioning.offering_scope(connection, offering.id)
    old = failed_run(session, "disconnect", scope, provisioning.JOBS["disconnect"], project_id=project.id,
                     offering_id=offering.id, connection_id=connection.id)
    later = failed_run(session, "provision", scope, provisioning.JOBS["provision"], project_id=project.id,
                       offering_id=offering.id, connection_id=connection.id)
    later.status = RunStatus.SUCCEEDED
    session.flush()
    client.login(UserFactory(role="super_admin"))
    response = client.post(f"/sync-runs/{old.id}/retry", htmx=True)
    assert response.status_code == 409 and f"Run {later.id} did this work again since" in unescape(response.text)
    assert runs_of(session, scope) == 2
