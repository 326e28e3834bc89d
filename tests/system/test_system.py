"""/healthz, the System page (workers, queues, failed jobs with Retry and Delete, scheduled jobs, cron entries)
and the Prometheus /metrics endpoint."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from redis import Redis
from sqlalchemy import select

from portal import create_app, queue
from portal.audit import AuditEvent
from portal.columns import utcnow
from portal.config import ConfigurationError, load_settings
from portal.cron import schedule
from portal.integrations.connectors import Quota
from portal.integrations.models import Connection, ConnectionStatus
from portal.jobs import job, sweep
from portal.queue import Scheduled
from portal.system import status
from portal.system.metrics import _State
from portal.system.models import CronRun


def explode():
    raise RuntimeError("boom")


@job
def explode_on_schedule():
    raise RuntimeError("boom")


# /healthz -------------------------------------------------------------------------------------------
def test_healthz_answers_without_a_login_and_says_nothing_secret(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_is_503_naming_redis_when_redis_does_not_answer(client, monkeypatch):
    monkeypatch.setattr(queue, "redis_connection", lambda app=None: Redis(port=1, socket_connect_timeout=0.2))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "failing", "database": "ok", "redis": "unreachable"}


def test_healthz_is_503_naming_the_database_when_it_does_not_answer(client, monkeypatch):
    from sqlalchemy import text

    monkeypatch.setattr(status, "text", lambda _: text("SELECT * FROM no_such_table"))
    response = client.get("/healthz")
    assert response.status_code == 503 and response.get_json()["database"] == "unreachable"


# The System page ------------------------------------------------------------------------------------
def test_the_system_page_is_for_admins(client, login_as):
    login_as("pm")
    assert client.get("/admin/system").status_code == 403


def test_the_system_page_shows_queues_failed_jobs_and_that_no_worker_runs(app, client, login_as, run_jobs):
    login_as("admin")
    redis = queue.redis_connection(app)
    queue.get_queue(queue.SYNC, app).enqueue("tests.system.test_system.explode")
    run_jobs(raise_failures=False)
    queue.get_queue(queue.MAIL, app).enqueue("portal.jobs.sweep")
    queue.get_queue(queue.POSTINGS, app).enqueue_in(timedelta(hours=1), "portal.jobs.sweep")
    page = client.get("/admin/system").get_data(as_text=True)
    assert "No worker is running" in page and "No cron scheduler is running" in page
    assert "tests.system.test_system.explode" in page and "RuntimeError: boom" in page
    states = {q.name: q for q in status.queues(redis)}
    assert (states["mail"].depth, states["sync"].failed, states["postings"].scheduled_count) == (1, 1, 1)
    assert states["mail"].oldest is not None and states["mail"].oldest.tzinfo is not None


def test_a_failed_job_is_retried_or_deleted_and_audited(app, client, session, login_as, run_jobs):
    login_as("admin")
    rq_queue = queue.get_queue(queue.SYNC, app)
    first = rq_queue.enqueue("tests.system.test_system.explode")
    second = rq_queue.enqueue("tests.system.test_system.explode")
    run_jobs(raise_failures=False)

    response = client.post(f"/admin/system/failed/sync/{first.id}/retry", htmx=True)
    assert response.status_code == 200 and first.id in rq_queue.get_job_ids()
    response = client.post(f"/admin/system/failed/sync/{second.id}/delete", htmx=True)
    assert response.status_code == 200 and rq_queue.fetch_job(second.id) is None
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.subject_type == "rq_job")).all()
    assert sorted(actions) == ["system.job_deleted", "system.job_retried"]
    assert client.post(f"/admin/system/failed/sync/{second.id}/delete", htmx=True).status_code == 409
    assert client.post(f"/admin/system/failed/nowhere/{first.id}/retry", htmx=True).status_code == 404


# Cron -----------------------------------------------------------------------------------------------
def test_jobs_the_cron_scheduler_enqueues_record_their_last_run_and_outcome(app, session, run_jobs):
    redis = queue.redis_connection(app)
    scheduler = queue.PortalCronScheduler(connection=redis)
    every_five = scheduler.register(sweep, queue.SYNC, cron="*/5 * * * *")
    failing = scheduler.register(explode_on_schedule, queue.SYNC, cron="0 * * * *")
    assert (every_five.name, failing.name) == ("sweep", "explode_on_schedule")
    every_five.enqueue(redis)
    failing.enqueue(redis)
    run_jobs(raise_failures=False)
    runs = {r.entry: r for r in session.scalars(select(CronRun))}
    assert runs["sweep"].outcome == "succeeded" and runs["sweep"].finished_at >= runs["sweep"].started_at
    assert (runs["explode_on_schedule"].outcome, runs["explode_on_schedule"].error) == ("failed", "RuntimeError: boom")
    assert queue.cron_name("portal.jobs.start_time_syncs", ("hourly",)) == "start_time_syncs(hourly)"


def test_a_cron_entry_not_run_when_due_is_flagged(session):
    hourly = Scheduled("sweep", "0 * * * *", queue.SYNC, "test")
    long_ago = utcnow() - timedelta(days=2)
    (entry,) = status.cron_entries(session, [hourly], up_since=long_ago)
    assert entry.run is None and entry.late == (utcnow() - entry.due > status.LATE_AFTER)
    session.add(CronRun(entry="sweep", started_at=long_ago, outcome="succeeded"))
    session.flush()
    (entry,) = status.cron_entries(session, [hourly], up_since=long_ago)
    assert entry.late == (utcnow() - entry.due > status.LATE_AFTER)
    session.get(CronRun, entry.run.id).started_at = utcnow()
    session.flush()
    assert not status.cron_entries(session, [hourly], up_since=long_ago)[0].late
    (entry,) = status.cron_entries(session, [Scheduled("sweep", "0 0 1 1 *", queue.SYNC, "yearly")],
                                   up_since=utcnow())  # the scheduler started after it was due
    assert not entry.late


def test_the_system_page_lists_every_cron_entry(client, login_as):
    login_as("admin")
    page = client.get("/admin/system").get_data(as_text=True)
    for entry in schedule():
        assert queue.cron_name(entry.func, entry.args) in page


# /metrics -------------------------------------------------------------------------------------------
def test_metrics_are_off_unless_enabled(client):
    assert client.get("/metrics").status_code == 404


def test_metrics_need_their_token_then_show_latency_queues_and_runs(app, tmp_path):
    settings = {k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "REDIS_EMBEDDED_PATH",
                                           "SECRET_KEY", "PORTAL_ENCRYPTION_KEY")}
    metered = create_app({**settings, "INSTANCE_PATH": str(tmp_path), "TESTING": True, "METRICS_ENABLED": True,
                          "METRICS_TOKEN": "scrape-me"})
    client = metered.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    response = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert 'portal_request_duration_seconds_count{endpoint="system.healthz",method="GET"}' in body
    for name in ("portal_queue_depth{queue=\"sync\"}", "portal_failed_jobs", "portal_workers",
                 "portal_timesheet_postings{status=\"pending\"}", "portal_queue_oldest_seconds"):
        assert name in body


def test_each_tools_quota_as_last_reported_is_a_metric(session, app):
    quota = Quota(remaining=57, resets_at=utcnow() + timedelta(minutes=20))
    seen = Connection(kind="toggl", status=ConnectionStatus.CONNECTED, account_id="1",
                      settings={"quota": quota.stored()})
    unseen = Connection(kind="procore", status=ConnectionStatus.CONNECTED, account_id="2", settings={})
    session.add_all([seen, unseen])
    session.flush()
    registry = CollectorRegistry()
    registry.register(_State(session, queue.redis_connection(app)))
    body = generate_latest(registry).decode()
    assert f'portal_tool_quota_remaining{{connection="{seen.id}",tool="toggl"}} 57.0' in body
    assert f'connection="{unseen.id}"' not in body


def test_metrics_cannot_be_enabled_without_a_token(tmp_path):
    with pytest.raises(ConfigurationError):
        load_settings(tmp_path, {"METRICS_ENABLED": "true"})
