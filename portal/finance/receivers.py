"""How finance follows the rest of the portal (connected once by the app factory).

Receivers run inside the sender's transaction: they only mark rows and enqueue jobs after commit.
- a timesheet enters or leaves "approved": post or remove its actuals (postings queue);
- bookings, a resource's rates, or a project's or resource's default cost category change: refresh the
  forecasts that depend on them;
- the organization's rate type or default cost category changes: refresh every forecast (a sync run).
"""

from __future__ import annotations

from datetime import timedelta

from rq import Retry
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from portal import events, queue
from portal.columns import utcnow
from portal.finance import batches
from portal.finance.forecasts import projects_to_refresh_for_resource
from portal.finance.models import FinancialTransaction
from portal.org.services import get_settings
from portal.timesheets.models import PostingStatus, Timesheet, TimesheetStatus

POST_JOB = "portal.jobs.post_timesheet_actuals"
FORECAST_JOB = "portal.jobs.refresh_forecast"
# Infrastructure failures only (a deadlock, a killed worker); the posting itself is idempotent.
RETRY = Retry(max=3, interval=[10, 60, 300])
FORECAST_SETTINGS = {"finance_rate_type", "default_cost_category_id"}


def request_posting(session: Session, sheet: Timesheet) -> None:
    """Ask for the timesheet's actuals to be brought in line with its state, after commit."""
    held = (sheet.status == TimesheetStatus.APPROVED and not get_settings(session).finance_sync_enabled
            and not session.scalar(select(exists().where(FinancialTransaction.timesheet_id == sheet.id))))
    if held:
        sheet.posting_status = PostingStatus.HELD  # approving still works; "Post now" posts it later
        return
    sheet.posting_status, sheet.posting_requested_at = PostingStatus.PENDING, utcnow()
    if not queue.is_pending(session, POST_JOB, sheet.id):
        queue.enqueue_after_commit(session, POST_JOB, sheet.id, queue=queue.POSTINGS, retry=RETRY)


def refresh_forecast_later(session: Session, project_id: int) -> None:
    if not queue.is_pending(session, FORECAST_JOB, project_id):
        queue.enqueue_after_commit(session, FORECAST_JOB, project_id, queue=queue.POSTINGS, retry=RETRY)


def _timesheet_status_changed(sheet, session, from_status, to_status, **_):
    if TimesheetStatus.APPROVED in (from_status, to_status):
        request_posting(session, sheet)


def _booking_changed(project, session, **_):
    refresh_forecast_later(session, project.id)


def _rates_changed(resource, session, **_):
    for project_id in projects_to_refresh_for_resource(session, resource.id):
        refresh_forecast_later(session, project_id)


def _resource_updated(resource, session, changes, **_):
    if "default_cost_category_id" in changes:
        _rates_changed(resource, session)


def _project_updated(project, session, changes, **_):
    if "default_cost_category_id" in changes:
        refresh_forecast_later(session, project.id)


def _org_settings_changed(settings, session, actor, changes, **_):
    if FORECAST_SETTINGS & set(changes):
        batches.start_reforecast(session, actor)


def connect() -> None:
    events.timesheet_status_changed.connect(_timesheet_status_changed, weak=False)
    events.booking_changed.connect(_booking_changed, weak=False)
    events.resource_rates_changed.connect(_rates_changed, weak=False)
    events.resource_updated.connect(_resource_updated, weak=False)
    events.project_updated.connect(_project_updated, weak=False)
    events.org_settings_changed.connect(_org_settings_changed, weak=False)


# How long a pending posting may stay quiet before the sweeper asks again.
STALE_POSTING = timedelta(minutes=10)


def requeue_stale_postings(session: Session) -> list[int]:
    """Timesheets whose posting job was lost (Redis down at commit, worker killed): ask again."""
    cutoff = utcnow() - STALE_POSTING
    sheets = list(session.scalars(select(Timesheet).where(Timesheet.posting_status == PostingStatus.PENDING,
                                                          Timesheet.posting_requested_at < cutoff)))
    for sheet in sheets:
        sheet.posting_requested_at = utcnow()
        queue.enqueue_after_commit(session, POST_JOB, sheet.id, queue=queue.POSTINGS, retry=RETRY)
    return [s.id for s in sheets]
