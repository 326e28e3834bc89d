"""Finance work over many timesheets or projects, watched as a sync run with a progress bar.

- "Post now": timesheets approved while Timesheet to Finance Sync was off get their actuals.
- A fiscal period is reopened: what the hold kept back (unposted portions, actuals of since-recalled
  timesheets, late postings of its days, frozen forecasts) is brought up to date.
- A fiscal period is closed: what it held back is posted late on the first open day after it.
- The rule for actuals of periods on hold changed: held portions and late postings follow the new rule.
- The rate type or the default cost category changed: every forecast is recomputed.
- The rate type changed: open periods are re-posted at the new one ("Re-post"), actuals and forecasts whose
  transactions are at the other rate type; locked periods keep what they hold and say so.

Each timesheet or project is posted in its own transaction (each step is idempotent), and the run keeps
its list of targets and how far it got, so a resumed run carries on where the last one stopped.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, or_, select, union
from sqlalchemy.orm import Session, aliased

from portal import audit, queue
from portal.auth import policy
from portal.auth.models import User
from portal.errors import Conflict, NotFound
from portal.finance.forecasts import projects_with_forecasts, refresh_forecast
from portal.finance.ledger import Outcome
from portal.finance.models import (
    FinancialItem,
    FinancialTransaction,
    FiscalPeriod,
    TransactionKind,
    UnpostedPortion,
    UnpostedReason,
)
from portal.finance.posting import post_timesheet
from portal.org.services import get_settings
from portal.runs import services as runs
from portal.runs.models import SyncRun
from portal.timesheets.models import PostingStatus, Timesheet, TimesheetStatus

log = logging.getLogger(__name__)

JOB = "portal.jobs.run_finance_batch"
POST_HELD, PERIOD_UNLOCKED, REFORECAST = "finance_post_held", "finance_period_unlocked", "finance_reforecast"
REPOST = "finance_repost"
PERIOD_CLOSED, RULE_CHANGED = "finance_period_closed", "finance_locked_period_rule"
REPORT_EVERY = 20
# Retrying finance work needs the right that starts it: finance admins post and re-post, admins hold periods.
runs.retry_right((POST_HELD, REPOST, REFORECAST), lambda session, user, run: policy.can_view_finance(user),
                 "Only finance admins can retry this run.")
runs.retry_right((PERIOD_CLOSED, PERIOD_UNLOCKED, RULE_CHANGED),
                 lambda session, user, run: policy.can_lock_fiscal_periods(user),
                 "Only admins can retry work on fiscal periods.")


def held_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Timesheet).where(
        Timesheet.status == TimesheetStatus.APPROVED, Timesheet.posting_status == PostingStatus.HELD)) or 0


def start_post_held(session: Session, actor: User) -> SyncRun:
    """Post the actuals of timesheets approved while the sync was off."""
    policy.require(policy.can_view_finance(actor), "Only finance admins can post held timesheets.")
    if not get_settings(session).finance_sync_enabled:
        raise Conflict("Timesheet to Finance Sync is off. Turn it on in Organization settings first; "
                       "nothing was posted.")
    run, created = runs.start_run(session, kind=POST_HELD, scope="finance:post-held", job=JOB,
                                  queue_name=queue.POSTINGS, initiated_by_id=actor.id)
    if created:
        audit.record(session, actor, "finance.post_held_started", run, summary="Posting held timesheets")
    return run


def _period_scope(period_id: int) -> str:
    return f"finance:period:{period_id}"


def start_period_changed(session: Session, actor: User | str | None, period: FiscalPeriod) -> SyncRun:
    """After a period is reopened or closed: bring what it holds (or held back) up to date."""
    run, _ = runs.start_run(session, kind=PERIOD_CLOSED if period.closed else PERIOD_UNLOCKED,
                            scope=_period_scope(period.id), job=JOB, queue_name=queue.POSTINGS,
                            params={"period_id": period.id},
                            initiated_by_id=actor.id if isinstance(actor, User) else None)
    return run


def start_rule_changed(session: Session, actor: User | str | None) -> SyncRun:
    run, _ = runs.start_run(session, kind=RULE_CHANGED, scope="finance:locked-period-rule", job=JOB,
                            queue_name=queue.POSTINGS, initiated_by_id=actor.id if isinstance(actor, User) else None)
    return run


def latest_period_run(session: Session, period_id: int) -> SyncRun | None:
    return session.scalar(select(SyncRun).where(SyncRun.scope == _period_scope(period_id))
                          .order_by(SyncRun.id.desc()).limit(1))


def start_reforecast(session: Session, actor: User | str | None) -> SyncRun:
    run, _ = runs.start_run(session, kind=REFORECAST, scope="finance:forecasts", job=JOB, queue_name=queue.POSTINGS,
                            initiated_by_id=actor.id if isinstance(actor, User) else None)
    return run


def start_repost(session: Session, actor: User) -> SyncRun:
    """Re-post the open periods' transactions posted at another rate type than the organization's now."""
    policy.require(policy.can_view_finance(actor), "Only finance admins can re-post the ledger.")
    settings = get_settings(session)
    if not settings.finance_sync_enabled:
        raise Conflict("Timesheet to Finance Sync is off. Turn it on in Organization settings first; "
                       "nothing was re-posted.")
    run, created = runs.start_run(session, kind=REPOST, scope="finance:repost", job=JOB, queue_name=queue.POSTINGS,
                                  params={"rate_type": settings.finance_rate_type}, initiated_by_id=actor.id)
    if created:
        audit.record(session, actor, "finance.repost_started", run, after={"rate_type": settings.finance_rate_type},
                     summary=f"Re-posting open fiscal periods at {settings.finance_rate_type} rates")
    return run


def _at_other_rate_type(session: Session, kind: str, column, rate_type: str):
    """Ids (`column`) of timesheets or projects with `kind` transactions outside locked periods at a rate
    type other than `rate_type`."""
    return sorted(set(session.scalars(
        select(column).select_from(FinancialTransaction).join(FinancialItem)
        .outerjoin(FiscalPeriod, FinancialTransaction.fiscal_period_id == FiscalPeriod.id)
        .where(FinancialTransaction.kind == kind, FinancialTransaction.rate_type != rate_type,
               column.is_not(None), or_(FiscalPeriod.id.is_(None), FiscalPeriod.locked.is_(False))))))


def list_targets(session: Session, run: SyncRun) -> list[list]:
    """[["timesheet", id] | ["project", id], ...] the run works through."""
    if run.kind == POST_HELD:
        ids = session.scalars(select(Timesheet.id).where(Timesheet.status == TimesheetStatus.APPROVED,
                                                         Timesheet.posting_status == PostingStatus.HELD)
                              .order_by(Timesheet.id))
        return [["timesheet", i] for i in ids]
    actual = (FinancialTransaction.kind == TransactionKind.ACTUAL, FinancialTransaction.timesheet_id.is_not(None))
    if run.kind in (PERIOD_UNLOCKED, PERIOD_CLOSED):
        period = session.get(FiscalPeriod, run.params["period_id"])
        if period is None:
            raise NotFound("The fiscal period of this run no longer exists.")
        posted = select(FinancialTransaction.timesheet_id).where(
            *actual, FinancialTransaction.date >= period.start_date, FinancialTransaction.date <= period.end_date)
        late = select(FinancialTransaction.timesheet_id).where(
            *actual, FinancialTransaction.belongs_to_period_id == period.id)
        held_back = select(UnpostedPortion.timesheet_id).where(UnpostedPortion.start_date <= period.end_date,
                                                               UnpostedPortion.end_date >= period.start_date)
        # Late postings of an earlier period that skipped this one while it was on hold: reopened, it holds the
        # first open day after their period now.
        home = aliased(FiscalPeriod)
        skipped = select(FinancialTransaction.timesheet_id).join(
            home, home.id == FinancialTransaction.belongs_to_period_id).where(
            *actual, FinancialTransaction.date > period.end_date, home.end_date < period.start_date)
        timesheets = sorted(set(session.scalars(union(posted, late, held_back, skipped))))
        # A closed period's forecast stays frozen; a reopened one's is refreshed.
        projects = [] if period.closed else projects_with_forecasts(session, period.start_date, period.end_date)
        return [["timesheet", i] for i in timesheets] + [["project", i] for i in projects]
    if run.kind == REPOST:
        rate_type = get_settings(session).finance_rate_type
        timesheets = _at_other_rate_type(session, TransactionKind.ACTUAL, FinancialTransaction.timesheet_id, rate_type)
        projects = _at_other_rate_type(session, TransactionKind.FORECAST, FinancialItem.project_id, rate_type)
        return [["timesheet", i] for i in timesheets] + [["project", i] for i in projects]
    if run.kind == RULE_CHANGED:
        late = select(FinancialTransaction.timesheet_id).where(
            *actual, FinancialTransaction.belongs_to_period_id.is_not(None))
        held_back = select(UnpostedPortion.timesheet_id).where(
            UnpostedPortion.reason == UnpostedReason.PERIOD_LOCKED)
        return [["timesheet", i] for i in sorted(set(session.scalars(union(late, held_back))))]
    return [["project", i] for i in projects_with_forecasts(session)]


def bring_up_to_date(session: Session, kind: str, ident: int) -> Outcome:
    """One target of a run: a timesheet's actuals or a project's forecast (flushes, does not commit)."""
    return post_timesheet(session, ident) if kind == "timesheet" else refresh_forecast(session, ident)


def run_batch(session: Session, run_id: int) -> None:
    run = runs.claim(session, run_id)
    if run is None:
        return  # another worker has it, or it has ended
    try:
        targets = run.checkpoint.get("targets")
        if targets is None:
            targets = list_targets(session, run)
            runs.report(session, run, total=len(targets), checkpoint={"targets": targets, "done": 0},
                        text=f"{len(targets)} to bring up to date")
        done = run.checkpoint.get("done", 0)
        counts: dict[str, int] = {}
        for index in range(done, len(targets)):
            kind, ident = targets[index]
            outcome = bring_up_to_date(session, kind, ident)
            for key in ("created", "deleted"):
                name = f"{kind}_transactions_{key}"
                counts[name] = counts.get(name, 0) + getattr(outcome, key)
            session.commit()
            if (index + 1) % REPORT_EVERY == 0 or index + 1 == len(targets):
                runs.report(session, run, done=index + 1, checkpoint={"done": index + 1}, add=counts)
                counts = {}
        runs.finish(session, run, text=f"Done: {len(targets)} brought up to date")
    except Exception as exc:
        session.rollback()
        log.exception("finance run %s failed", run_id)
        runs.finish(session, session.get(SyncRun, run_id), error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
