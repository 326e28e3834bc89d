"""The activity section of Admin → Integrations → Procore: what the sync engine did and what it holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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


def activity(session: Session, connection: Connection) -> Activity:
    def listed(status: str, order, limit: int) -> list[SyncMessage]:
        return list(session.scalars(select(SyncMessage).where(
            SyncMessage.connection_id == connection.id, SyncMessage.status == status).order_by(*order).limit(limit)))

    def count(status: str) -> int:
        return session.scalar(select(func.count()).select_from(SyncMessage).where(
            SyncMessage.connection_id == connection.id, SyncMessage.status == status))

    run = session.scalar(select(SyncRun).where(SyncRun.connection_id == connection.id,
                                               SyncRun.kind.startswith("procore_")).order_by(SyncRun.id.desc()).limit(1))
    return Activity(
        processed=listed(MessageStatus.PROCESSED, (SyncMessage.processed_at.desc(), SyncMessage.id.desc()),
                         LAST_PROCESSED),
        pending=listed(MessageStatus.PENDING, (SyncMessage.id,), LISTED), pending_count=count(MessageStatus.PENDING),
        failed=listed(MessageStatus.FAILED, (SyncMessage.id.desc(),), LISTED), failed_count=count(MessageStatus.FAILED),
        run=run, run_notes=runs.notes(session, run), paused_until=rate_limit_pause(connection.id).until(),
    )
