"""Sync runs: one active run per scope, claimed once, failed readably when Redis is down, resumed after a crash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.columns import utcnow
from portal.runs import services as runs
from portal.runs.models import RunStatus, SyncRun

JOB = "portal.jobs.sweep"  # any real job: these tests are about the run's life, not its work


def start(session, scope="offering:1:provision"):
    return runs.start_run(session, kind="provision", scope=scope, job=JOB)


def test_a_second_start_joins_the_active_run(session):
    first, created = start(session)
    second, created_again = start(session)
    assert created and not created_again and first.id == second.id


def test_an_ended_run_does_not_block_a_new_one(session):
    run, _ = start(session)
    run.status = RunStatus.SUCCEEDED
    session.flush()
    again, created = start(session)
    assert created and again.id != run.id


def test_the_database_refuses_two_active_runs_for_one_scope(session):
    from sqlalchemy.exc import IntegrityError

    session.add(SyncRun(kind="x", scope="s", job=JOB, queue="sync"))
    session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(SyncRun(kind="x", scope="s", job=JOB, queue="sync"))
        session.flush()


def test_a_run_is_claimed_once(session):
    run, _ = start(session)
    session.commit()
    assert runs.claim(session, run.id) is not None
    assert runs.claim(session, run.id) is None


def test_starting_enqueues_the_job_after_commit(app, session):
    from portal.queue import get_queue

    run, _ = start(session)
    assert get_queue("interactive", app).count == 0  # nothing before the commit
    session.commit()
    jobs = get_queue("interactive", app).jobs
    assert [(j.func_name, j.args) for j in jobs] == [(JOB, (run.id,))]


def test_redis_down_marks_the_run_failed_with_a_reason_instead_of_a_500(app, session):
    state = app.extensions["portal_redis"]
    saved = dict(state)
    state.clear()
    app.config["REDIS_URL"], saved_url = "redis://127.0.0.1:1/0", app.config["REDIS_URL"]
    try:
        run, _ = start(session)
        session.commit()
    finally:
        app.config["REDIS_URL"] = saved_url
        state.clear()
        state.update(saved)
    session.refresh(run)
    assert run.status == RunStatus.FAILED
    assert "job queue (Redis) could not be reached" in run.error


def test_sweeper_resumes_a_run_whose_worker_died(session):
    run, _ = start(session)
    session.commit()
    runs.claim(session, run.id)
    run.heartbeat_at = utcnow() - timedelta(minutes=30)
    run.checkpoint = {"page": 7}
    session.commit()
    assert runs.requeue_stale(session) == [run.id]
    session.commit()
    assert run.status == RunStatus.QUEUED and run.checkpoint == {"page": 7}
    assert runs.claim(session, run.id).attempts == 2


def test_retry_starts_a_new_run_with_the_same_work(session):
    run, _ = start(session)
    run.checkpoint = {"done": [1, 2]}  # pushed before it failed: a retry pushes what the portal holds now
    runs.finish(session, run, error="boom")
    again, created = runs.retry(session, None, run.id)
    assert created and again.id != run.id and (again.scope, again.job) == (run.scope, run.job)
    assert again.checkpoint == {}
    assert session.scalar(select(SyncRun).where(SyncRun.id == run.id)).status == RunStatus.FAILED


def test_progress_fragment_polls_until_the_run_ends(client, login_as, session):
    login_as("admin")
    run, _ = start(session)
    session.commit()
    active = client.get(f"/sync-runs/{run.id}", htmx=True)
    assert b"hx-trigger" in active.data and b'role="progressbar"' in active.data
    runs.finish(session, run, error="Toggl refused the token")
    ended = client.get(f"/sync-runs/{run.id}", htmx=True)
    assert b"hx-trigger" not in ended.data and b"Toggl refused the token" in ended.data and b"Retry" in ended.data


def test_staff_cannot_watch_an_organization_run_they_did_not_start(client, login_as, session):
    login_as("staff")
    run, _ = start(session, scope="toggl:org")
    session.commit()
    assert client.get(f"/sync-runs/{run.id}").status_code == 403


def test_a_report_reads_the_expired_run_once_and_writes_it_once(session):
    """A sync reports once a batch, after the batch's commit expired the run: it is read before it is changed,
    so a report is one SELECT and one UPDATE (read after a change, it flushed that change on its own first)."""
    from sqlalchemy import event

    run, _ = start(session)
    runs.report(session, run, add={"new": 2}, checkpoint={"resume_from": "2026-11-30"}, commit=False)
    session.flush()
    session.expire(run)  # as a commit leaves it
    statements: list[str] = []

    def note(_connection, _cursor, statement, *_):
        statements.append(statement.split()[0])

    bind = session.connection()
    event.listen(bind, "before_cursor_execute", note)
    try:
        runs.report(session, run, done=3, total=9, text="Read up to 3 Dec", add={"new": 5, "failed": 1},
                    checkpoint={"window": ["2026-11-01", "2026-12-03"]}, commit=False)
        session.flush()
    finally:
        event.remove(bind, "before_cursor_execute", note)
    assert statements == ["SELECT", "UPDATE"]
    session.expire(run)
    assert run.counts == {"new": 7, "failed": 1} and (run.progress_done, run.progress_total) == (3, 9)
    assert run.checkpoint == {"resume_from": "2026-11-30", "window": ["2026-11-01", "2026-12-03"]}
