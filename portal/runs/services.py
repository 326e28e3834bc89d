"""The life of a sync run: start (or join the active one), claim, report progress, finish, resume.

A run is the record a person watches; RQ is only the transport. Starting is idempotent per scope,
claiming is a conditional UPDATE so two workers never execute one run, and a run whose worker died
is put back in the queue by the sweeper and resumes from its checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import audit, events, queue
from portal.columns import utcnow
from portal.errors import Conflict, InvalidInput, NotAllowed, PortalError
from portal.runs.models import ACTIVE_RUN_STATUSES, MessageStatus, RunStatus, SyncMessage, SyncRun

log = logging.getLogger(__name__)

UNEXPECTED = "An unexpected error stopped this run; it has been logged. Retry it, and tell an admin if it fails again."

# A run's params key: a retry of it resumes from its checkpoint instead of starting over.
RETRY_RESUMES = "retry_resumes"
# A running run that has not reported for this long lost its worker (killed, OOM, deploy).
STALE_AFTER = timedelta(minutes=10)


class Pause(Exception):  # noqa: N818 (not an error: the run waits and carries on by itself)
    """Raised by a run's work to wait until `resume_at` (a tool's quota resets) keeping its checkpoint."""

    def __init__(self, resume_at: datetime, text: str):
        super().__init__(text)
        self.resume_at, self.text = resume_at, text


def active_run(session: Session, scope: str) -> SyncRun | None:
    return session.scalar(select(SyncRun).where(SyncRun.scope == scope, SyncRun.status.in_(ACTIVE_RUN_STATUSES)))


def latest(session: Session, scope: str) -> SyncRun | None:
    """The most recent run of a scope, active or ended (what a page shows as the last outcome)."""
    return session.scalar(select(SyncRun).where(SyncRun.scope == scope).order_by(SyncRun.id.desc()).limit(1))


def start_run(session: Session, *, kind: str, scope: str, job: str, queue_name: str = queue.INTERACTIVE,
              connection_id: int | None = None, project_id: int | None = None, offering_id: int | None = None,
              initiated_by_id: int | None = None, params: dict[str, Any] | None = None,
              checkpoint: dict[str, Any] | None = None) -> tuple[SyncRun, bool]:
    """Create a queued run for `scope` and enqueue `job(run_id)` after commit, or join the active run.

    Returns (run, created). The partial unique index on active scopes settles concurrent starts.
    `checkpoint` starts the work where another run left it (a retry of a run that may resume).
    """
    if kind not in _RETRY_RULES:
        raise LookupError(f"no retry right declared for runs of kind {kind!r} (portal.runs.services.retry_right)")
    existing = active_run(session, scope)
    if existing is not None:
        return existing, False
    run = SyncRun(kind=kind, scope=scope, job=job, queue=queue_name, connection_id=connection_id,
                  project_id=project_id, offering_id=offering_id, initiated_by_id=initiated_by_id,
                  params=params or {}, counts={}, checkpoint=checkpoint or {})
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        existing = active_run(session, scope)
        if existing is None:
            raise
        return existing, False
    enqueue(session, run)
    return run, True


def enqueue(session: Session, run: SyncRun, delay: timedelta | None = None) -> None:
    queue.enqueue_after_commit(session, run.job, run.id, queue=run.queue, on_failure=_enqueue_failed(run.id),
                               delay=delay)


def _enqueue_failed(run_id: int):
    def record(side: Session, exc: Exception) -> None:
        side.execute(
            update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == RunStatus.QUEUED)
            .values(status=RunStatus.FAILED, error=queue.describe_redis_error(exc), finished_at=utcnow())
        )
    return record


def claim(session: Session, run_id: int) -> SyncRun | None:
    """Mark a queued run running; None when another worker has it or it has already ended."""
    now = utcnow()
    claimed = session.execute(
        update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == RunStatus.QUEUED)
        .values(status=RunStatus.RUNNING, started_at=func.coalesce(SyncRun.started_at, now), heartbeat_at=now,
                attempts=SyncRun.attempts + 1, status_text="Started", resume_at=None)
    ).rowcount
    session.commit()
    return session.get(SyncRun, run_id, populate_existing=True) if claimed else None


def report(session: Session, run: SyncRun, *, done: int | None = None, total: int | None = None,
           text: str | None = None, add: dict[str, int] | None = None, checkpoint: dict[str, Any] | None = None,
           commit: bool = True) -> None:
    """Record progress (and optionally a checkpoint) so the progress bar and a resumed run can read it."""
    # Read first: a commit expired the run, and reading it after a change would flush that change on its own
    # (a sync's every batch paid an UPDATE and a SELECT more).
    counts, saved = run.counts, run.checkpoint
    if done is not None:
        run.progress_done = done
    if total is not None:
        run.progress_total = total
    if text is not None:
        run.status_text = text[:500]
    if add:
        counts = dict(counts or {})
        for key, value in add.items():
            counts[key] = counts.get(key, 0) + value
        run.counts = counts
    if checkpoint is not None:
        run.checkpoint = {**(saved or {}), **checkpoint}
    run.heartbeat_at = utcnow()
    if commit:
        session.commit()


def finish(session: Session, run: SyncRun, *, error: str = "", text: str | None = None) -> None:
    run.status = RunStatus.FAILED if error else RunStatus.SUCCEEDED
    run.error = error
    run.resume_at = None
    run.status_text = text if text is not None else ("Failed" if error else "Finished")
    run.finished_at = utcnow()
    if not error and run.progress_total:
        run.progress_done = run.progress_total
    session.commit()


# Who may retry a run: whoever may start that work on that subject. The domain that starts a kind of run
# declares its rule next to the start (`retry_right`); a kind without one cannot be started, so no run is
# ever retried by a rule nobody wrote.
RetryRule = Callable[[Session, Any, SyncRun], bool]
_RETRY_RULES: dict[str, tuple[RetryRule, str]] = {}


def retry_right(kinds: tuple[str, ...] | list[str], rule: RetryRule, refusal: str) -> None:
    """Declare who may retry runs of `kinds`: `rule(session, user, run)`, and what a refused user reads."""
    for kind in kinds:
        _RETRY_RULES[kind] = (rule, refusal)


def _state_refusal(session: Session, run: SyncRun) -> str | None:
    """Why `run` cannot be retried by anyone now, or None. Only the latest failed or paused run of its scope
    is retried: a finished run is never replayed, a running one is still doing the work, and an older failed
    one was followed by other work on the same subject (its params may undo what came after)."""
    if run.status == RunStatus.SUCCEEDED:
        return "This run finished; it is not replayed. Start the work again from its page if it is needed again."
    if run.is_active and not run.is_paused:
        return "This run is still going; wait for it to end."
    if not run.retryable:
        return ("This run failed on what it was asked to do, so trying again would fail the same way; change "
                "the input and start it again.")
    later = session.scalar(select(SyncRun.id).where(SyncRun.scope == run.scope, SyncRun.id > run.id)
                           .order_by(SyncRun.id.desc()).limit(1))
    if later is not None:
        return f"Run {later} did this work again since; retry that one if it failed."
    return None


def retry_refusal(session: Session, user: Any, run: SyncRun) -> str | None:
    """Why `user` cannot retry `run` now, or None: the run's state (see _state_refusal), or the user lacks the
    right that starts that work on that subject."""
    refusal = _state_refusal(session, run)
    if refusal or run.kind not in _RETRY_RULES:
        return refusal or "This kind of run cannot be retried."
    rule, refusal = _RETRY_RULES[run.kind]
    return None if rule(session, user, run) else refusal


def retry(session: Session, actor: Any, run_id: int) -> tuple[SyncRun, bool]:
    """Retry a failed run as a new run (the failed one stays in the log), or resume a paused one now.

    `actor` needs the right to start that work on that subject (a User; a system label is a trusted caller).
    Work whose params say RETRY_RESUMES (reading a tool's time: what was read stays read) goes on from the
    failed run's checkpoint; other work (pushes) starts over, so it sends what the portal holds now.
    A finished, running or superseded run is refused (Conflict), as is a user without the right (NotAllowed).
    """
    old = session.get(SyncRun, run_id)
    state = _state_refusal(session, old)
    if state:
        raise Conflict(state)
    if not isinstance(actor, str) and actor is not None:
        reason = retry_refusal(session, actor, old)
        if reason:
            raise NotAllowed(reason)
    if old.is_paused:
        return _resume_now(session, actor, old), False
    resumes = bool((old.params or {}).get(RETRY_RESUMES))
    run, created = start_run(session, kind=old.kind, scope=old.scope, job=old.job, queue_name=old.queue,
                             connection_id=old.connection_id, project_id=old.project_id, offering_id=old.offering_id,
                             initiated_by_id=getattr(actor, "id", None), params=old.params,
                             checkpoint=dict(old.checkpoint or {}) if resumes else None)
    if created:
        audit.record(session, actor, "run.retried", run, before={"run": old.id, "error": old.error},
                     summary=f"Retried run {old.id} ({old.kind}) as run {run.id}")
    return run, created


def _resume_now(session: Session, actor: Any, run: SyncRun) -> SyncRun:
    """A paused run is enqueued now instead of at its resume_at (the job enqueued for later then finds it
    claimed or ended and does nothing)."""
    resumed = session.execute(update(SyncRun).where(SyncRun.id == run.id, SyncRun.status == RunStatus.QUEUED,
                                                    SyncRun.resume_at.is_not(None))
                              .values(resume_at=None, status_text="Resuming now", heartbeat_at=utcnow())).rowcount
    session.refresh(run)
    if resumed:
        enqueue(session, run)
        audit.record(session, actor, "run.resumed", run, summary=f"Resumed paused run {run.id} ({run.kind}) now")
    return run


def retry_failed(session: Session, scope: str, actor: Any) -> SyncRun | None:
    """Retry the scope's latest run if it failed (a Retry button on a row that may be stale)."""
    run = latest(session, scope)
    if run is None or run.status != RunStatus.FAILED:
        return run
    return retry(session, actor, run.id)[0]


def requeue_stale(session: Session) -> list[int]:
    """Put back runs whose worker died (stale heartbeat) or whose enqueue was lost; they resume."""
    now = utcnow()
    stale = list(session.scalars(
        select(SyncRun).where(
            ((SyncRun.status == RunStatus.RUNNING) & (SyncRun.heartbeat_at < now - STALE_AFTER))
            | ((SyncRun.status == RunStatus.QUEUED)
               & (func.coalesce(SyncRun.heartbeat_at, SyncRun.created_at) < now - STALE_AFTER)
               # a paused run is due at resume_at; only a lost delayed job leaves it waiting longer
               & ((SyncRun.resume_at.is_(None)) | (SyncRun.resume_at < now - STALE_AFTER)))
        ).with_for_update(skip_locked=True)
    ))
    for run in stale:
        run.status = RunStatus.QUEUED
        run.status_text = "Resuming after an interruption"
        run.heartbeat_at = now  # the next sweep waits another interval before touching it again
        enqueue(session, run)
    return [r.id for r in stale]


def execute(session: Session, run_id: int, work: Callable[[Session, SyncRun], str | None]) -> SyncRun | None:
    """Claim the run, do `work` (which returns the outcome in words), and finish the run.

    A PortalError (a refusal or an external tool's failure) fails the run with its message and a failed
    sync message: the user reads the reason and uses Retry; RQ does not retry it. Anything else fails
    the run as unexpected and is re-raised, so RQ records it too. Returns None when the run was not
    claimable (another worker has it, or it already ended).
    """
    run = claim(session, run_id)
    if run is None:
        return None
    try:
        outcome = work(session, run)
    except Pause as pause:
        session.rollback()
        _pause(session, session.get(SyncRun, run_id, populate_existing=True), pause)
        return run
    except PortalError as error:
        session.rollback()
        run = session.get(SyncRun, run_id, populate_existing=True)
        session.add(SyncMessage(connection_id=run.connection_id, run_id=run.id, direction="outbound",
                                entity=run.kind, action=run.kind, status=MessageStatus.FAILED, reason=error.message,
                                payload=run.params, processed_at=utcnow()))
        run.retryable = not isinstance(error, InvalidInput)  # the same input would fail the same way
        events.sync_run_failed.send(run, session=session, error=error)
        finish(session, run, error=error.message)
        return run
    except Exception:
        session.rollback()
        log.exception("sync run %s (%s) failed unexpectedly", run_id, run.kind)
        run = session.get(SyncRun, run_id, populate_existing=True)
        finish(session, run, error=UNEXPECTED)
        raise
    finish(session, session.get(SyncRun, run_id), text=outcome)
    return run


def pause_until(session: Session, run: SyncRun, resume_at: datetime, text: str) -> None:
    """Pause a run that is not executed through `execute` (it raises no Pause) until `resume_at`."""
    _pause(session, run, Pause(resume_at, text))


def _pause(session: Session, run: SyncRun, pause: Pause) -> None:
    """Back to queued (still the scope's active run, so starts join it), enqueued again for `resume_at`."""
    run.status, run.status_text, run.resume_at = RunStatus.QUEUED, pause.text[:500], pause.resume_at
    run.heartbeat_at = utcnow()
    enqueue(session, run, delay=max(timedelta(seconds=1), pause.resume_at - utcnow()))
    session.commit()


def note(session: Session, run: SyncRun, entity: str, reason: str, *, external_id: str | None = None,
         action: str = "note", failed: bool = False, payload: dict[str, Any] | None = None) -> None:
    """Record one record's outcome on the run (the notes under its progress bar and the sync log)."""
    session.add(SyncMessage(connection_id=run.connection_id, run_id=run.id, direction="outbound", entity=entity,
                            external_id=external_id, action=action, payload=payload,
                            status=MessageStatus.FAILED if failed else MessageStatus.PROCESSED, reason=reason,
                            processed_at=utcnow()))


def notes(session: Session, run: SyncRun | None, limit: int = 20) -> list[SyncMessage]:
    """What an ended run says under its progress bar: its messages that say something (skips, warnings,
    failures), oldest first. None while it runs (the notes show once it has ended)."""
    if run is None or run.is_active:
        return []
    return list(session.scalars(
        select(SyncMessage).where(SyncMessage.run_id == run.id, SyncMessage.reason != "")
        .order_by(SyncMessage.id).limit(limit)
    ))


def ask_again(session: Session, run: SyncRun, what: Any = True) -> bool:
    """A running run read its input before a new change: have it do one more pass (of `what`) when it is
    done. False when the run is no longer running (the caller starts a new one)."""
    params = session.scalar(select(SyncRun.params).where(SyncRun.id == run.id)) or {}
    return bool(session.execute(update(SyncRun).where(SyncRun.id == run.id, SyncRun.status == RunStatus.RUNNING)
                                .values(params={**params, "again": what})).rowcount)


def take_again(session: Session, run: SyncRun) -> Any:
    """What another pass was asked for (True, or what ask_again was given), clearing the request; else None."""
    params = session.scalar(select(SyncRun.params).where(SyncRun.id == run.id)) or {}
    if not params.get("again"):
        return None
    session.execute(update(SyncRun).where(SyncRun.id == run.id)
                    .values(params={k: v for k, v in params.items() if k != "again"}))
    session.commit()
    return params["again"]
