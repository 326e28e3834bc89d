"""Prometheus metrics with prometheus_client: off unless METRICS_ENABLED, read at GET /metrics with the
METRICS_TOKEN as a bearer token.

- `portal_request_duration_seconds{endpoint,method}`: a histogram observed by every web request. Under gunicorn
  (several processes) set PROMETHEUS_MULTIPROC_DIR to an empty folder the web processes share, emptied at each
  start: prometheus_client then writes each process's values there and the scrape sums them.
- Read at each scrape, so every process answers the same: `portal_queue_depth{queue}`, `portal_queue_oldest_seconds`,
  `portal_failed_jobs{queue}`, `portal_workers`, `portal_sync_runs_total{kind,outcome}`,
  `portal_timesheet_postings{status}` (pending and held postings), and `portal_tool_quota_remaining{tool,connection}`.

A tool's quota (Toggl's hourly request budget) is what its connector last reported, stored on the connection as
`settings["quota"]` (`portal.integrations.connectors.Quota.stored`); until a sync stores it, the metric is absent.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from redis import Redis
from rq import Queue, Worker
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import queue
from portal.integrations.models import Connection
from portal.runs.models import ACTIVE_RUN_STATUSES, SyncRun
from portal.system import status
from portal.timesheets.models import PostingStatus, Timesheet

REQUEST_SECONDS = Histogram("portal_request_duration_seconds", "Time to answer a web request, by route",
                            ["endpoint", "method"])


def init_app(app: Flask) -> None:
    if not app.config.get("METRICS_ENABLED"):
        return

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.pop("metrics_started", None)
        if started is not None:
            REQUEST_SECONDS.labels(request.endpoint or "unmatched", request.method).observe(
                time.perf_counter() - started)
        return response


def authorized(app: Flask, header: str | None) -> bool:
    token = app.config.get("METRICS_TOKEN") or ""
    given = (header or "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


def scrape(app: Flask, session: Session, redis: Redis) -> Response:
    folder = app.config.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        processes = CollectorRegistry()
        MultiProcessCollector(processes, path=folder)
    else:
        processes = REGISTRY
    state = CollectorRegistry()
    state.register(_State(session, redis))
    return Response(generate_latest(processes) + generate_latest(state), mimetype=CONTENT_TYPE_LATEST)


def quota_remaining(connection: Connection) -> float | None:
    """The requests left in the tool's quota, as last stored on the connection (None: not known)."""
    quota = (connection.settings or {}).get("quota") or {}
    remaining = quota.get("remaining")
    return float(remaining) if isinstance(remaining, int | float) else None


class _State:
    """Figures read from Redis and the database at each scrape."""

    def __init__(self, session: Session, redis: Redis):
        self.session, self.redis = session, redis

    def collect(self) -> Iterator[Any]:
        depth = GaugeMetricFamily("portal_queue_depth", "Jobs waiting in a queue", labels=["queue"])
        oldest = GaugeMetricFamily("portal_queue_oldest_seconds", "Age of the job waiting longest in a queue",
                                   labels=["queue"])
        failed = GaugeMetricFamily("portal_failed_jobs", "Jobs in RQ's failed-job registry", labels=["queue"])
        now = time.time()
        for name in queue.QUEUES:
            rq_queue = Queue(name, connection=self.redis)
            depth.add_metric([name], rq_queue.count)
            since = status.oldest_enqueued(rq_queue)
            oldest.add_metric([name], max(0.0, now - since.timestamp()) if since else 0.0)
            failed.add_metric([name], FailedJobRegistry(queue=rq_queue).count)
        yield from (depth, oldest, failed)
        yield GaugeMetricFamily("portal_workers", "RQ workers alive", value=Worker.count(connection=self.redis))

        runs = CounterMetricFamily("portal_sync_runs", "Sync runs finished, by kind and outcome",
                                   labels=["kind", "outcome"])
        for kind, outcome, count in self.session.execute(
                select(SyncRun.kind, SyncRun.status, func.count()).where(SyncRun.status.not_in(ACTIVE_RUN_STATUSES))
                .group_by(SyncRun.kind, SyncRun.status)):
            runs.add_metric([kind, outcome], count)
        yield runs
        postings = GaugeMetricFamily("portal_timesheet_postings", "Approved timesheets whose posting waits: a "
                                     "job queued or running (pending), or the sync off (held)", labels=["status"])
        for posting in (PostingStatus.PENDING, PostingStatus.HELD):
            postings.add_metric([posting.value], self.session.scalar(
                select(func.count()).select_from(Timesheet).where(Timesheet.posting_status == posting)) or 0)
        yield postings
        quota = GaugeMetricFamily("portal_tool_quota_remaining", "Requests left in a timesheet tool's quota (Toggl: "
                                  "its hourly quota), as last reported", labels=["tool", "connection"])
        for connection in self.session.scalars(select(Connection).order_by(Connection.id)):  # a few per organization
            remaining = quota_remaining(connection)
            if remaining is not None:
                quota.add_metric([connection.kind, str(connection.id)], remaining)
        yield quota
        self.session.rollback()  # end the read transaction
