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
COUNT_CAP = 1000


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
    def handled_since(key: str, direction: str):
        # One EXISTS per direction, each on its record's key, so each runs on an index (ix_sync_messages_external,
        # ix_sync_messages_local): one OR across both made PostgreSQL scan every later message (seconds at 1M).
        later = aliased(SyncMessage)
        return and_(SyncMessage.direction == direction, getattr(SyncMessage, key).is_not(None), exists().where(
            later.connection_id == SyncMessage.connection_id, later.direction == direction,
            getattr(later, key) == getattr(SyncMessage, key), later.id > SyncMessage.id,
            later.status == MessageStatus.PROCESSED))

    return or_(handled_since("external_id", "inbound"), handled_since("local_id", "outbound"))


def activity(session: Session, connection: Connection) -> Activity:
    def where(status: str) -> tuple:
        current = (~superseded(),) if status == MessageStatus.FAILED else ()
        return SyncMessage.connection_id == connection.id, SyncMessage.status == status, *current

    def listed(status: str, order, limit: int) -> list[SyncMessage]:
        return list(session.scalars(select(SyncMessage).where(*where(status)).order_by(*order).limit(limit)))

    def count(status: str) -> int:  # up to COUNT_CAP + 1 ("1,000+"): counting further costs what the table holds
        capped = select(SyncMessage.id).where(*where(status)).limit(COUNT_CAP + 1).subquery()
        return session.scalar(select(func.count()).select_from(capped))

    run = session.scalar(select(SyncRun).where(SyncRun.connection_id == connection.id,
                                               SyncRun.kind.startswith("procore_")).order_by(SyncRun.id.desc()).limit(1))
    return Activity(
        processed=listed(MessageStatus.PROCESSED, (SyncMessage.processed_at.desc(), SyncMessage.id.desc()),
                         LAST_PROCESSED),
        pending=listed(MessageStatus.PENDING, (SyncMessage.id,), LISTED), pending_count=count(MessageStatus.PENDING),
        # The latest failures first (a message that failed again comes back to the top), in the order of the index
        # the processed ones use: ordered by id, PostgreSQL read and sorted every failure the connection holds.
        failed=listed(MessageStatus.FAILED, (SyncMessage.processed_at.desc(), SyncMessage.id.desc()), LISTED),
        failed_count=count(MessageStatus.FAILED),
        run=run, run_notes=runs.notes(session, run), paused_until=rate_limit_pause(connection.id).until(),
    )
