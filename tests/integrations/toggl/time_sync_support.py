"""Helpers for the time sync tests: offerings linked to sandbox projects, and running syncs as a worker would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from portal import queue
from portal.columns import today
from portal.integrations.models import Connection, ProjectLink
from portal.integrations.toggl import time_runs
from portal.projects.models import Offering
from portal.runs.models import SyncRun
from portal.timesheets.models import TimeEntry

PAGE = 10  # report rows a page in the tests that count requests (the small_pages fixture)


@dataclass
class Linked:
    offering: Offering
    toggl_project_id: int


def link(session, tool, offering: Offering, name: str | None = None) -> Linked:
    """A Toggl project in the sandbox and the offering linked to it (as Connect Existing leaves it)."""
    created = tool.sandbox.seed(projects=[{"workspace_id": tool.world.workspace_id, "name": name or offering.name,
                                           "client_id": tool.toggl_client_id}])["projects"][0]
    session.add(ProjectLink(connection_id=tool.connection.id, offering_id=offering.id, external_id=str(created["id"]),
                            external_name=created["name"], method="connected"))
    session.flush()
    return Linked(offering, created["id"])


def days_ago(n: int) -> date:
    return today() - timedelta(days=n)


def start(session, connection: Connection, kind: str = "manual_org") -> SyncRun:
    run, _ = time_runs.start(session, connection, kind)
    session.commit()
    return run


def sync(session, run_jobs, connection: Connection, kind: str = "manual_org") -> SyncRun:
    """Start (or join) a time sync of `kind` and run the queued jobs; the run as it ended."""
    run = start(session, connection, kind)
    run_jobs()
    return session.get(SyncRun, run.id)


def synced(session, connection: Connection) -> dict[str, TimeEntry]:
    session.expire_all()
    query = select(TimeEntry).where(TimeEntry.connection_id == connection.id)
    return {e.external_id: e for e in session.scalars(query)}


def enqueue_scheduled(app) -> int:
    """What RQ's scheduler does once a delayed job is due (the test does not wait for the clock)."""
    connection = queue.redis_connection(app)
    moved = 0
    for name in queue.QUEUES:
        rq_queue = Queue(name, connection=connection)
        registry = ScheduledJobRegistry(queue=rq_queue)
        for job_id in registry.get_job_ids():
            job = Job.fetch(job_id, connection=connection)
            registry.remove(job)
            rq_queue.enqueue_job(job)
            moved += 1
    return moved
