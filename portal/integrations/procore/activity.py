"""The activity section of Admin → Integrations → Procore: what the sync engine did and what it holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from portal.integrations.models import Connection
from portal.integrations.procore.connector import rate_limit_pause
from portal.runs import services as runs
from portal.runs.models import MessageStatus, SyncMessage, SyncRun

LAST_PROCESSED = 20
LISTED = 50


@dataclass
class Activity:
    processed: list[SyncMessage]
    pending: list[SyncMessage]
    pending_count: int
    failed: list[SyncMessage]
    failed_count: int
    run: SyncRun | None  # the latest catch-up / connect / disconnect run
    run_notes: list[SyncMessage]  # what it said, once it ended
    paused_until: datetime | None  # Procore's rate limit: no job for this connection calls Procore before then


def superseded():
    """A failed message whose record a later message handled: the same time card (inbound) or time entry
    (outbound) went through since, so the failure is history (the run's log keeps it), not a problem."""
    later = aliased(SyncMessage)
    return exists().where(
        later.connection_id == SyncMessage.connection_id, later.direction == SyncMessage.direction,
        later.id > SyncMessage.id, later.status == MessageStatus.PROCESSED,
        or_(and_(SyncMessage.direction == "inbound", SyncMessage.external_id.is_not(None),
                 later.external_id == SyncMessage.external_id),
            and_(SyncMessage.direction == "outbound", SyncMessage.local_id.is_not(None),
                 later.local_id == SyncMessage.local_id)))


def activity(session: Session, connection: Connection) -> Activity:
    def where(status: str) -> tuple:
        current = (~superseded(),) if status == MessageStatus.FAILED else ()
        return SyncMessage.connection_id == connection.id, SyncMessage.status == status, *current

    def listed(status: str, order, limit: int) -> list[SyncMessage]:
        return list(session.scalars(select(SyncMessage).where(*where(status)).order_by(*order).limit(limit)))

    def count(status: str) -> int:
        return session.scalar(select(func.count()).select_from(SyncMessage).where(*where(status)))

    run = session.scalar(select(SyncRun).where(SyncRun.connection_id == connection.id,
                                               SyncRun.kind.startswith("procore_")).order_by(SyncRun.id.desc()).limit(1))
    return Activity(
        processed=listed(MessageStatus.PROCESSED, (SyncMessage.processed_at.desc(), SyncMessage.id.desc()),
                         LAST_PROCESSED),
        pending=listed(MessageStatus.PENDING, (SyncMessage.id,), LISTED), pending_count=count(MessageStatus.PENDING),
        failed=listed(MessageStatus.FAILED, (SyncMessage.id.desc(),), LISTED), failed_count=count(MessageStatus.FAILED),
        run=run, run_notes=runs.notes(session, run), paused_until=rate_limit_pause(connection.id).until(),
    )
