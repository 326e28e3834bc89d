"""Toggl Track's RQ entry points (the `job` wrapper of portal.jobs: an app context, a session, errors re-raised)."""

from __future__ import annotations

from portal.extensions import db
from portal.integrations.toggl import connection, sync, time_runs, webhooks
from portal.jobs import job


@job
def validate_connection(run_id: int) -> None:
    connection.run_validate(db.session, run_id)


@job
def sync_time(run_id: int) -> None:
    """One time sync run (hourly, nightly, manual, webhook events, backfill): reads, applies, resumes."""
    sync.run_time_sync(db.session, run_id)


@job
def start_time_syncs(kind: str) -> list[int]:
    """The cron's fan-out: an hourly or nightly time sync per connected tool (joining any run going), and a
    new webhook subscription wherever the portal's webhook URL changed since it subscribed."""
    started = time_runs.start_scheduled(db.session, kind)
    webhooks.renew_moved(db.session)
    db.session.commit()
    return started


@job
def subscribe_webhooks(run_id: int) -> None:
    webhooks.run_subscribe(db.session, run_id)
