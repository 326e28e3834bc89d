"""What every tool's webhook endpoint shares: the record of deliveries it refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.columns import utcnow
from portal.integrations.models import Connection
from portal.runs.models import MessageStatus, SyncMessage

REFUSALS_GROUPED = timedelta(minutes=10)  # refused deliveries counted in one message


def record_refusal(session: Session, connection: Connection, entity: str,
                   describe: Callable[[int], str]) -> SyncMessage:
    """What a refused delivery leaves (no payload is kept): one failed message per connection and
    REFUSALS_GROUPED counts the refusals, so a flood of forged or replayed requests cannot flood the table
    (or the alerts) with rows. `describe(count)` words the message."""
    now = utcnow()
    refusal = session.scalar(select(SyncMessage).where(
        SyncMessage.connection_id == connection.id, SyncMessage.entity == entity, SyncMessage.action == "refused",
        SyncMessage.created_at > now - REFUSALS_GROUPED).order_by(SyncMessage.id.desc()).limit(1))
    if refusal is None:
        refusal = SyncMessage(connection_id=connection.id, direction="inbound", entity=entity, action="refused",
                              status=MessageStatus.FAILED, attempts=0, created_at=now)
        session.add(refusal)
    refusal.attempts += 1
    refusal.processed_at = now
    refusal.reason = describe(refusal.attempts)[:2000]
    return refusal
