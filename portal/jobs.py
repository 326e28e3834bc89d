"""RQ entry points. Each takes ids, runs inside `job` (fresh app context, its own session, log context,
session cleanup, errors re-raised so RQ records the failure too) and calls one service.

Jobs are idempotent: they claim their run or row with a conditional update, upsert by natural keys,
and can be run twice or concurrently with the result of running once.
"""

from __future__ import annotations

import contextvars
import functools
import gc
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, has_app_context
from rq import get_current_job

from portal import create_app, mail
from portal.columns import utcnow
from portal.extensions import db
from portal.finance import batches, forecasts, posting, receivers
from portal.integrations import provisioning, pushing, services
from portal.integrations.registry import load, tools
from portal.runs import services as runs
from portal.stages import notifications
from portal.system import cron_runs
from portal.timesheets import reminders

log = logging.getLogger(__name__)

_app: Flask | None = None
job_context: contextvars.ContextVar[str] = contextvars.ContextVar("job_context", default="-")
# Allocations between two collections of the garbage collector's youngest generation (Python's default: 700).
YOUNG_GENERATION = 10_000

F = TypeVar("F", bound=Callable[..., Any])


def bind_app(app: Flask) -> None:
    """The app jobs run in: the worker binds the one it built before forking; tests bind theirs."""
    global _app
    _app = app


def _bound_app() -> Flask:
    global _app
    if _app is not None:
        return _app
    if has_app_context():  # a flask command running a job inline
        return current_app._get_current_object()
    _app = create_app()  # a plain `rq worker` that never called bind_app
    return _app


class JobLogFilter(logging.Filter):
    """Stamps every log record with the job id and function, like redash's CurrentJobFilter."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.job = job_context.get()
        return True


def preload() -> None:
    """Import every timesheet tool's jobs, so a forked job starts warm (the worker, before its loop)."""
    for tool in tools():
        if tool.jobs:
            load(tool.jobs)


def settle() -> None:
    """The worker's process, once warm and before its loop forks the first job: the garbage collector tuned for
    jobs that handle data in bulk (issue 14: it took 1.4-2.4 s of a 100,000-entry time sync, a fifth of it).
    - What is alive now (the app, its models, the modules: some 190,000 objects) is frozen: every collection
      of the oldest generation walked it again, and a forked job that walks it writes to the pages it shares
      with the worker (the Python docs' advice for processes that fork: freeze before forking).
    - The youngest generation is collected every YOUNG_GENERATION allocations instead of every 700: a sync
      allocates a few objects per entry and some forty per report page (httpx's responses are reference
      cycles), which were 1,300 collections a sync. The garbage waits a little longer: about 1.5 MB more at
      the peak of that sync."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION, *gc.get_threshold()[1:])


def job(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        current = get_current_job()
        token = job_context.set(f"{current.id if current else 'inline'} {func.__name__}{args!r}")
        # A job the cron scheduler enqueued names its entry (portal.queue.PortalCronScheduler): the System page
        # shows each entry's last run and outcome from what is recorded here.
        cron_entry = (current.meta or {}).get("cron") if current else None
        try:
            with _bound_app().app_context():
                if cron_entry:
                    cron_runs.started(cron_entry, current.id)
                try:
                    result = func(*args, **kwargs)
                except Exception as error:
                    log.exception("job %s%r failed", func.__name__, args)
                    db.session.rollback()
                    if cron_entry:
                        cron_runs.finished(cron_entry, error)
                    raise
                finally:
                    db.session.remove()
                if cron_entry:
                    cron_runs.finished(cron_entry)
                return result
        finally:
            job_context.reset(token)

    return wrapper  # type: ignore[return-value]


@job
def send_email(email_id: int) -> bool:
    return mail.deliver(db.session, email_id)


@job
def sweep() -> dict[str, list[int]]:
    """Re-enqueue what a crash or a Redis outage left behind: stale sync runs and unsent email."""
    result = {"runs": runs.requeue_stale(db.session), "emails": mail.requeue_waiting(db.session)}
    db.session.commit()
    return result


# Budget alerts ----------------------------------------------------------------------------------------
@job
def check_budget_alerts(offering_id: int) -> list[int]:
    sent = notifications.check_budget_alerts(db.session, offering_id)
    db.session.commit()
    return sent


@job
def sweep_budget_alerts() -> list[int]:
    """Check again the offerings whose budget check job was lost; returns their ids."""
    due = notifications.offerings_due_an_alert(db.session)
    for offering_id in due:
        notifications.check_budget_alerts(db.session, offering_id)
        db.session.commit()
    return due


# Timesheet tools (every tool's shared work: client mapping, offering links and pushes; each tool's own jobs
# are in its package). Each takes the id of the sync run it executes; the run holds what to do and records
# the outcome.
@job
def provision_client(run_id: int) -> None:
    services.run_provision_client(db.session, run_id)


@job
def connect_client(run_id: int) -> None:
    services.run_connect_client(db.session, run_id)


@job
def provision_offering(run_id: int) -> None:
    provisioning.run_provision(db.session, run_id)


@job
def connect_offering(run_id: int) -> None:
    provisioning.run_connect(db.session, run_id)


@job
def disconnect_offering(run_id: int) -> None:
    provisioning.run_disconnect(db.session, run_id)


@job
def push_offering(run_id: int) -> None:
    provisioning.run_push(db.session, run_id)


@job
def push_all_offerings(run_id: int) -> None:
    pushing.run_push_all(db.session, run_id)


# Timesheets and finance ----------------------------------------------------------------------------
@job
def post_timesheet_actuals(timesheet_id: int) -> dict[str, int]:
    """Post (or remove) one timesheet's actuals: idempotent, one timesheet at a time (row lock)."""
    outcome = posting.post_timesheet(db.session, timesheet_id)
    db.session.commit()
    return outcome.as_dict()


@job
def refresh_forecast(project_id: int) -> dict[str, int]:
    outcome = forecasts.refresh_forecast(db.session, project_id)
    db.session.commit()
    return outcome.as_dict()


@job
def run_finance_batch(run_id: int) -> None:
    batches.run_batch(db.session, run_id)


@job
def requeue_finance_postings() -> list[int]:
    ids = receivers.requeue_stale_postings(db.session)
    db.session.commit()
    return ids


# Timesheet reminders ---------------------------------------------------------------------------------------
@job
def send_timesheet_reminders() -> dict[str, int]:
    """Hourly: the weekly reminders when it is the organization's reminder day and hour, and the escalations
    that are due. Idempotent: each reminder is claimed by a unique row."""
    sent = reminders.send(db.session, utcnow())
    db.session.commit()
    return {"reminded": len(sent.reminded), "escalated": len(sent.escalated), "digests": len(sent.digests)}
