"""Reliability of the time sync against a misbehaving Toggl and dying workers (issue 5):
- 20 % of requests fail (5xx, 429, timeouts, malformed JSON) and every entry still arrives exactly once;
- three runs of the same connection in separate processes (PostgreSQL) insert nothing twice;
- a worker killed mid-run is resumed from its checkpoint with nothing lost."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from portal import ROOT
from portal.columns import utcnow
from portal.integrations.models import Connection, ProjectLink
from portal.integrations.toggl import time_runs
from portal.projects.models import Assignment
from portal.runs import services as runs
from portal.runs.models import SyncRun
from portal.timesheets.models import TimeEntry, Timesheet
from tests.factories import AssignmentFactory, OfferingFactory, ResourceFactory
from tests.integrations.toggl.time_sync_support import days_ago, link, sync, synced
from tests.jobs.test_worker_process import _environment
from tests.toggl_sandbox import make_connection


def toggl_view(sandbox) -> dict[str, Decimal]:
    """What Toggl holds: id -> hours, of the stopped, undeleted entries."""
    return {str(e["id"]): (Decimal(e["duration"]) / 3600).quantize(Decimal("0.01"))
            for e in sandbox.state()["time_entries"] if not e["server_deleted_at"] and e["stop"]}


def test_with_a_fifth_of_the_requests_failing_every_entry_arrives_exactly_once(app, session, tool, run_jobs,
                                                                               monkeypatch):
    monkeypatch.setitem(app.config, "TOGGL_REPORT_PAGE_SIZE", 25)
    projects = [link(session, tool, tool.offering(people={"ana@example.test": "150"}, name=f"Stream {n}"))
                for n in range(3)]
    session.commit()
    ids = tool.sandbox.entries(count=300, emails=["ana@example.test"],
                               project_ids=[p.toggl_project_id for p in projects],
                               start_date=days_ago(40).isoformat(), days=40)
    monkeypatch.setitem(app.config, "CONNECTOR_TIMEOUT", 0.3)
    tool.sandbox.chaos(0.2, seed=7, timeout_delay=0.5)
    try:
        first = sync(session, run_jobs, tool.connection, "nightly")
        assert first.status == "succeeded", first.error
        for entry_id in ids[:30]:
            tool.sandbox.edit(entry_id, duration=1800, emit=False)
        for entry_id in ids[30:40]:
            tool.sandbox.delete(entry_id, emit=False)
        for kind in ("hourly", "nightly"):
            assert sync(session, run_jobs, tool.connection, kind).status == "succeeded"
        injected = tool.sandbox.injected()
    finally:
        tool.sandbox.calm()
    assert set(injected) == {"5xx", "429", "timeout", "malformed"}, injected
    entries = synced(session, tool.connection)
    assert {k: e.hours for k, e in entries.items()} == toggl_view(tool.sandbox)
    assert session.scalar(select(func.count()).select_from(TimeEntry)) == 290


SYNC_ONE_RUN = """
import sys
from portal import create_app
from portal.extensions import db
from portal.integrations.toggl import sync
from portal.runs.models import SyncRun

app = create_app()
with app.app_context():
    run = SyncRun(kind="nightly", scope=f"toggl:time:process-{sys.argv[1]}",
                  job="portal.integrations.toggl.jobs.sync_time", queue="sync", connection_id=int(sys.argv[2]),
                  params={"mode": "full"}, counts={}, checkpoint={})
    db.session.add(run)
    db.session.commit()
    sync.run_time_sync(db.session, run.id)
"""


def _toggl_environment(app, toggl, **extra: str) -> dict[str, str]:
    return {**_environment(app), "TOGGL_API_BASE_URL": f"{toggl.url}/api/v9",
            "TOGGL_REPORTS_BASE_URL": f"{toggl.url}/reports/api/v3", "TOGGL_APP_URL": toggl.url,
            "TOGGL_WEBHOOKS_BASE_URL": f"{toggl.url}/webhooks/api/v1", "CONNECTOR_BACKOFF_BASE": "0.05", **extra}


def _committed_world(committed, toggl, people: int = 3) -> tuple[int, set[str]]:
    """A connected workspace, two linked offerings with `people` on their team, someone logging time who is not
    on it (a passive assignment) and someone no resource matches (whose time waits). Returns the connection's
    id and the ids of the entries that must be imported."""
    emails = [f"p{n}@example.test" for n in range(people)] + ["helper@example.test", "stranger@example.test"]
    world = toggl.standard(members=emails)
    toggl.limits(rate_capacity=100000, rate_per_second=1000)
    toggl_projects = toggl.seed(projects=[{"workspace_id": world.workspace_id, "name": f"Build {n}"}
                                          for n in range(2)])["projects"]
    with committed() as session:
        connection = make_connection(session, world)
        resources = [ResourceFactory(email=e) for e in emails[:-1]]
        for toggl_project in toggl_projects:
            offering = OfferingFactory()
            for resource in resources[:people]:
                AssignmentFactory(offering=offering, resource=resource)
            session.add(ProjectLink(connection_id=connection.id, offering_id=offering.id,
                                    external_id=str(toggl_project["id"]), external_name="Build", method="connected"))
        session.flush()
        connection_id, first_day = connection.id, days_ago(50)
    toggl.entries(count=600, emails=emails, project_ids=[p["id"] for p in toggl_projects],
                  start_date=first_day.isoformat(), days=45)
    stranger = world.members["stranger@example.test"]
    return connection_id, {k for k, e in _entries(toggl).items() if e["user_id"] != stranger}


def _entries(toggl) -> dict[str, dict]:
    return {str(e["id"]): e for e in toggl.state()["time_entries"]}


@pytest.mark.postgres
@pytest.mark.committed
def test_three_concurrent_runs_in_separate_processes_insert_nothing_twice(app, committed, toggl):
    connection_id, expected = _committed_world(committed, toggl)
    toggl.limits(latency=0.25)  # every page takes a moment: the three runs overlap
    environment = _toggl_environment(app, toggl, TOGGL_REPORT_PAGE_SIZE="40")
    processes = [subprocess.Popen([sys.executable, "-c", SYNC_ONE_RUN, str(n), str(connection_id)], cwd=ROOT,
                                  env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for n in range(3)]
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    with committed() as session:
        done = session.scalars(select(SyncRun).where(SyncRun.scope.like("toggl:time:process-%"))).all()
        assert [r.status for r in done] == ["succeeded"] * 3, [r.error for r in done]
        assert set(synced(session, session.get(Connection, connection_id))) == expected
        # Each entry was inserted by exactly one of the three runs; the other two found it there.
        assert sum(r.counts["new"] for r in done) == len(expected)
        weeks = session.execute(select(Timesheet.resource_id, Timesheet.period_start)).all()
        assert len(weeks) == len(set(weeks))
        passive = session.scalars(select(Assignment).where(Assignment.passive.is_(True))).all()
        assert len(passive) == 2  # the helper, once per offering


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and its descendants (RQ's work horse starts a session of its own, so a process group
    kill would miss it); Linux /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    doomed, pending = [], [pid]
    while pending:
        current = pending.pop()
        doomed.append(current)
        pending.extend(children.get(current, []))
    for victim in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


@pytest.mark.committed
def test_a_worker_killed_mid_run_is_resumed_from_its_checkpoint_with_nothing_lost(app, committed, toggl, run_jobs):
    connection_id, expected = _committed_world(committed, toggl, people=2)
    toggl.limits(latency=0.15)  # slow pages: the worker is mid-run for long enough to be killed
    with committed() as session:
        run_id = time_runs.start(session, session.get(Connection, connection_id), "nightly")[0].id
    worker = subprocess.Popen([sys.executable, str(ROOT / "worker.py")], cwd=ROOT,
                              env=_toggl_environment(app, toggl, TOGGL_REPORT_PAGE_SIZE="30", TIME_SYNC_BATCH="30"),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        imported = 0
        while imported < 90 and time.monotonic() < deadline:
            time.sleep(0.1)
            with committed() as session:
                imported = session.scalar(select(func.count()).select_from(TimeEntry))
    finally:
        _kill_tree(worker.pid)  # the worker, its scheduler and its work horse, mid-page
        output = worker.communicate(timeout=20)[0]
    toggl.limits(latency=0)
    with committed() as session:
        dead = session.get(SyncRun, run_id)
        assert dead.status == "running" and dead.checkpoint.get("resume_from"), output
        assert 90 <= session.scalar(select(func.count()).select_from(TimeEntry)) < len(expected)
        # Ten minutes later the sweeper finds it silent and puts it back in the queue.
        session.execute(update(SyncRun).where(SyncRun.id == run_id)
                        .values(heartbeat_at=utcnow() - runs.STALE_AFTER - timedelta(minutes=1)))
    with committed() as session:
        assert runs.requeue_stale(session) == [run_id]
    mark = toggl.mark()
    run_jobs()
    with committed() as session:
        resumed = session.get(SyncRun, run_id)
        assert resumed.status == "succeeded" and resumed.attempts == 2, resumed.error
        entries = synced(session, session.get(Connection, connection_id))
        assert set(entries) == expected
        hours = {k: (Decimal(e["duration"]) / 3600).quantize(Decimal("0.01")) for k, e in _entries(toggl).items()}
        assert all(entry.hours == hours[k] for k, entry in entries.items())
    full = -(-(len(expected) * 5 // 4) // 30)  # pages of a read from the start
    assert len([r for r in toggl.requests(mark) if "/search/" in r["path"]]) < full
