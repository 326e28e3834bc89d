"""How time sync runs read Toggl: one query stream per workspace, incremental hourly syncs, pauses for the
quota that resume by themselves, and checkpoints that a resumed run starts from."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import queue
from portal.columns import utcnow
from portal.integrations.toggl import time_runs
from portal.mail import OutboundEmail
from portal.runs import services as runs
from portal.runs.models import SyncRun
from tests.factories import UserFactory
from tests.integrations.toggl.time_sync_support import (
    PAGE,
    days_ago,
    enqueue_scheduled,
    link,
    start,
    sync,
    synced,
)


@pytest.fixture
def projects(session, tool):
    """Five offerings linked to five Toggl projects."""
    return [link(session, tool, tool.offering(people={"ana@example.test": "150"}, name=f"Stream {n}"))
            for n in range(5)]


def report_requests(tool, since: int) -> list[dict]:
    return [r for r in tool.sandbox.requests(since) if "/search/time_entries" in r["path"]]


def test_an_hourly_sync_costs_one_request_plus_one_per_page_of_changes(session, tool, projects, run_jobs,
                                                                       small_pages):
    toggl_ids = [p.toggl_project_id for p in projects]
    ids = tool.sandbox.entries(count=60, emails=["ana@example.test"], project_ids=toggl_ids,
                               start_date=days_ago(2).isoformat(), days=3)
    mark = tool.sandbox.mark()
    first = sync(session, run_jobs, tool.connection, "hourly")
    assert first.counts["new"] == 60
    assert len(tool.sandbox.requests(mark)) == 6  # the whole recent window: 60 rows in pages of 10
    assert {r["path"] for r in tool.sandbox.requests(mark)} == {
        f"/reports/api/v3/workspace/{tool.world.workspace_id}/search/time_entries"}  # one stream, not per project

    mark = tool.sandbox.mark()
    assert sync(session, run_jobs, tool.connection, "hourly").counts["new"] == 0
    assert len(report_requests(tool, mark)) == 1  # nothing changed: the first page reaches what was seen

    for entry_id in ids[:25]:
        tool.sandbox.edit(entry_id, description="Changed", emit=False)
    mark = tool.sandbox.mark()
    run = sync(session, run_jobs, tool.connection, "hourly")
    assert run.counts["updated"] == 25
    pages_of_changes = -(-25 // PAGE)
    assert len(report_requests(tool, mark)) <= 1 + pages_of_changes


def test_a_sync_pauses_before_the_quota_is_spent_and_carries_on_by_itself(app, session, tool, projects, run_jobs,
                                                                          small_pages):
    tool.sandbox.entries(count=45, emails=["ana@example.test"], project_ids=[p.toggl_project_id for p in projects],
                         start_date=days_ago(20).isoformat(), days=15)
    organization = tool.sandbox.state()["workspaces"][0]["organization_id"]
    tool.sandbox.limits(organizations={str(organization): {"quota": 4}})
    app.config["SYNC_QUOTA_RESERVE"] = 1
    try:
        run = sync(session, run_jobs, tool.connection)
        assert run.status == "queued" and run.status_text.startswith("Waiting for the Toggl quota to reset at")
        assert run.resume_at is not None and run.checkpoint["resume_from"] > days_ago(20).isoformat()
        assert run.counts["new"] == 30 and len(synced(session, tool.connection)) == 30
        # Still the active run: a click or the cron joins it rather than starting another.
        assert start(session, tool.connection, "manual_org").id == run.id

        tool.sandbox.advance(3601)  # the hour passes; RQ's scheduler enqueues the run again
        assert enqueue_scheduled(app) == 1
        run_jobs()
        run = session.get(SyncRun, run.id)
        assert run.status == "succeeded", run.error
        assert len(synced(session, tool.connection)) == 45 and run.counts["new"] == 45 and run.attempts == 2
    finally:
        app.config["SYNC_QUOTA_RESERVE"] = 3


def test_a_run_whose_worker_died_resumes_from_its_checkpoint(session, tool, projects, run_jobs):
    tool.sandbox.entries(count=20, emails=["ana@example.test"], project_ids=[projects[0].toggl_project_id],
                         start_date=days_ago(30).isoformat(), days=20)
    run = start(session, tool.connection, "nightly")
    window = [days_ago(62).isoformat(), days_ago(0).isoformat()]
    resume_from = days_ago(15)
    # As a killed worker leaves it: running, silent for a while, its last page checkpointed.
    run.status, run.heartbeat_at = "running", utcnow() - timedelta(hours=1)
    run.checkpoint = {"mode": "full", "window": window, "resume_from": resume_from.isoformat()}
    session.commit()
    queue.redis_connection().flushdb()  # the worker's job is gone with it
    assert runs.requeue_stale(session) == [run.id]
    session.commit()
    mark = tool.sandbox.mark()
    run_jobs()
    assert session.get(SyncRun, run.id).status == "succeeded"
    assert len(report_requests(tool, mark)) == 1
    # Only the days from the checkpoint on were read again (those before were the dead worker's).
    assert {e.work_date for e in synced(session, tool.connection).values()} == {
        days_ago(30 - n) for n in range(20) if days_ago(30 - n) >= resume_from}


def test_with_no_offering_linked_the_hourly_sync_asks_toggl_nothing(session, tool, run_jobs):
    mark = tool.sandbox.mark()
    run = sync(session, run_jobs, tool.connection, "hourly")
    assert run.status == "succeeded" and tool.sandbox.requests(mark) == []


def test_the_cron_fan_out_is_also_a_command(app, session, tool, projects):
    result = app.test_cli_runner().invoke(args=["sync", "time", "--kind", "nightly"])
    assert result.exit_code == 0, result.output
    session.expire_all()
    (run,) = session.scalars(select(SyncRun)).all()
    assert (run.kind, run.params["mode"], run.connection_id) == ("nightly", "full", tool.connection.id)
    assert f"runs {run.id}" in result.output


def test_a_refused_token_fails_the_run_naming_the_check_and_marks_the_connection(session, tool, projects, run_jobs):
    tool.sandbox.fault(r"/reports/api/v3/.*", status=403, body="", times=-1)
    run = sync(session, run_jobs, tool.connection)
    assert run.status == "failed" and "Was the Toggl API token regenerated?" in run.error
    session.refresh(tool.connection)
    assert tool.connection.status == "error" and "API token" in tool.connection.last_error


def test_a_regenerated_token_needs_a_new_one_syncs_stop_and_admins_are_told_once(session, tool, projects, run_jobs):
    UserFactory(role="admin", email="it@example.test")
    UserFactory(role="staff", email="staff@example.test")
    tool.connection.credentials = json.dumps({"api_token": "regenerated-in-toggl"})  # 403, a text body
    session.commit()
    first = sync(session, run_jobs, tool.connection, "nightly")
    assert first.status == "failed" and "Was the Toggl API token regenerated?" in first.error
    session.refresh(tool.connection)
    assert tool.connection.status == "error" and tool.connection.settings["needs_token"] is True
    (email,) = session.scalars(select(OutboundEmail).where(OutboundEmail.category == "sync_alert")).all()
    assert email.recipients == ["it@example.test"] and "Was the Toggl API token regenerated?" in email.body
    mark = tool.sandbox.mark()
    assert time_runs.start_scheduled(session, "hourly") == []  # the cron leaves it alone until fixed
    tool.connection.status = "connected"  # a run that meets the refusal again is not another email
    session.commit()
    sync(session, run_jobs, tool.connection, "nightly")
    assert len(session.scalars(select(OutboundEmail)).all()) == 1
    assert all(e["status"] == 403 for e in tool.sandbox.requests(mark))


def test_retrying_a_run_that_failed_mid_way_goes_on_from_where_it_stopped(app, session, tool, projects, run_jobs,
                                                                          small_pages, monkeypatch):
    monkeypatch.setitem(app.config, "CONNECTOR_BACKOFF_BASE", 0.01)
    monkeypatch.setitem(app.config, "CONNECTOR_MAX_WAIT", 0.2)
    tool.sandbox.entries(count=60, emails=["ana@example.test"], project_ids=[p.toggl_project_id for p in projects],
                         start_date=days_ago(30).isoformat(), days=30)
    # Toggl's reports go down after the third page, and stay down.
    tool.sandbox.fault(r".*/search/time_entries", status=503, after=3, times=-1)
    failed = sync(session, run_jobs, tool.connection, "nightly")
    assert failed.status == "failed" and failed.checkpoint["resume_from"]
    assert len(synced(session, tool.connection)) == 3 * PAGE

    tool.sandbox.clear_faults()
    mark = tool.sandbox.mark()
    retried, created = runs.retry(session, None, failed.id)
    session.commit()
    run_jobs()
    session.refresh(retried)
    assert created and retried.status == "succeeded", retried.error
    assert len(synced(session, tool.connection)) == 60  # every entry, once
    # The first pages were not read again: at most the page holding the checkpoint's day, then the rest.
    assert len(report_requests(tool, mark)) <= 60 // PAGE - 3 + 1
