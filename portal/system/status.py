"""What the System page and the health check read: the database and Redis, RQ's workers, queues, failed and
scheduled jobs, the cron schedulers alive and each cron entry's last run (portal/system/cron_runs.py).

RQ's own registries are the source (Worker.all, FailedJobRegistry, ScheduledJobRegistry, CronScheduler.all);
lists are capped, so the page costs the same however many jobs wait or failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from redis import Redis
from rq import Queue, Worker
from rq.cron import CronScheduler
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal import audit, queue
from portal.auth import policy
from portal.columns import utcnow
from portal.errors import Conflict, NotFound
from portal.system.models import CronRun

LISTED = 50  # failed and scheduled jobs shown per queue
LATE_AFTER = timedelta(minutes=15)  # a cron entry not started this long after it was due is flagged


def health(session: Session, redis: Redis) -> dict[str, str]:
    """"ok" or what failed, per dependency; nothing else (no hosts, no versions, no errors' text)."""
    checks = {}
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # any failure to answer is "unreachable" for a load balancer
        session.rollback()
        checks["database"] = "unreachable"
    try:
        redis.ping()
        checks["redis"] = "ok"
    except Exception:
        checks["redis"] = "unreachable"
    return checks


# Workers and queues ---------------------------------------------------------------------------------
@dataclass
class QueueState:
    name: str
    depth: int
    oldest: datetime | None  # enqueued at, of the job waiting longest
    started: int
    failed: int
    failed_jobs: list[Job] = field(default_factory=list)
    scheduled: list[tuple[Job, datetime | None]] = field(default_factory=list)
    scheduled_count: int = 0


def workers(redis: Redis) -> list[Worker]:
    return sorted(Worker.all(connection=redis), key=lambda w: w.name)


def oldest_enqueued(rq_queue: Queue) -> datetime | None:
    """When the job waiting longest in `rq_queue` was enqueued."""
    first = rq_queue.get_job_ids(0, 1)
    job = rq_queue.fetch_job(first[0]) if first else None
    return aware(job.enqueued_at) if job is not None else None


def queues(redis: Redis) -> list[QueueState]:
    states = []
    for name in queue.QUEUES:
        rq_queue = Queue(name, connection=redis)
        oldest = oldest_enqueued(rq_queue)
        failed = FailedJobRegistry(queue=rq_queue)
        scheduled = ScheduledJobRegistry(queue=rq_queue)
        failed_jobs = [j for j in Job.fetch_many(failed.get_job_ids(0, LISTED - 1), connection=redis) if j]
        scheduled_ids = scheduled.get_job_ids(0, LISTED - 1)
        scheduled_jobs = [j for j in Job.fetch_many(scheduled_ids, connection=redis) if j]
        states.append(QueueState(
            name=name, depth=rq_queue.count, oldest=oldest, started=rq_queue.started_job_registry.count,
            failed=failed.count, failed_jobs=failed_jobs, scheduled_count=scheduled.count,
            scheduled=[(j, aware(scheduled.get_scheduled_time(j.id))) for j in scheduled_jobs]))
    return states


def aware(moment: datetime | None) -> datetime | None:
    """RQ's instants are naive UTC: tell the formatting filters so."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def error_of(job: Job) -> str:
    """The failure's last line (the exception), as RQ recorded it."""
    result = job.latest_result()
    lines = (result.exc_string or "").strip().splitlines() if result is not None else []
    return lines[-1] if lines else "(no error recorded)"


def _failed_job(redis: Redis, queue_name: str, job_id: str) -> tuple[FailedJobRegistry, Job]:
    if queue_name not in queue.QUEUES:
        raise NotFound("There is no such queue.")
    registry = FailedJobRegistry(queue=Queue(queue_name, connection=redis))
    job = Job.fetch_many([job_id], connection=redis)[0] if job_id in registry else None
    if job is None:  # the page was older than the registry: someone retried or deleted it meanwhile
        raise Conflict("That job is no longer among the failed ones (retried, deleted or expired). Reload the page.")
    return registry, job


def retry_failed_job(session: Session, redis: Redis, actor: Any, queue_name: str, job_id: str) -> Job:
    """Put a failed job back on its queue (audited)."""
    policy.require(policy.is_admin(actor), "Only admins manage jobs.")
    registry, job = _failed_job(redis, queue_name, job_id)
    audit.record(session, actor, "system.job_retried", subject_type="rq_job",
                 summary=f"Retried {job.func_name}{job.args!r} on {queue_name} (job {job.id}): {error_of(job)}"[:500])
    registry.requeue(job)
    return job


def delete_failed_job(session: Session, redis: Redis, actor: Any, queue_name: str, job_id: str) -> Job:
    """Drop a failed job for good (audited)."""
    policy.require(policy.is_admin(actor), "Only admins manage jobs.")
    registry, job = _failed_job(redis, queue_name, job_id)
    audit.record(session, actor, "system.job_deleted", subject_type="rq_job",
                 summary=f"Deleted {job.func_name}{job.args!r} from {queue_name} (job {job.id}): {error_of(job)}"[:500])
    registry.remove(job, delete_job=True)
    return job


# Cron -----------------------------------------------------------------------------------------------
@dataclass
class CronEntry:
    name: str
    cron: str
    why: str
    due: datetime  # when it was last due
    next_due: datetime
    run: CronRun | None
    late: bool = False  # due (and given time to start) but not started since


def cron_entries(session: Session, schedule: list[Any], up_since: datetime | None) -> list[CronEntry]:
    """Each entry of `schedule` (portal.cron.schedule()) with its last run; `up_since`: when the oldest cron
    scheduler alive started (None: none is), so an entry due before the scheduler started is not late."""
    now = utcnow()
    names = [queue.cron_name(entry.func, entry.args) for entry in schedule]
    runs = {r.entry: r for r in session.scalars(select(CronRun).where(CronRun.entry.in_(names)))}
    entries = []
    for name, entry in zip(names, schedule, strict=True):
        times = croniter(entry.cron, now)
        next_due = times.get_next(datetime)
        due = croniter(entry.cron, now).get_prev(datetime)
        run = runs.get(name)
        late = (now - due > LATE_AFTER and (run is None or run.started_at < due)
                and (up_since is None or up_since <= due))
        entries.append(CronEntry(name, entry.cron, entry.why, due, next_due, run, late))
    return entries


def cron_schedulers(redis: Redis) -> list[CronScheduler]:
    return CronScheduler.all(connection=redis)
