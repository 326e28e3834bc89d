"""What every tool's webhook endpoint shares: one URL scheme, a bounded read of the body, the answer, and the
record of deliveries it refused.

A tool receives its deliveries at `/webhooks/<kind>/<connection id>` (`callback_url`); the endpoint
(portal/integrations/webhook_views.py) finds the tool in the registry, reads at most MAX_BODY bytes of the
body in chunks (a chunked body has no Content-Length to trust) and hands the bytes to the tool's receiver
(`Tool.webhooks`), which authenticates them (a signature, a secret header) before parsing them, and
parses them through the input layer's JSON readers (portal/inputs.py): a wrong shape is refused with a 400.
Every refusal is recorded through `refuse`, counted in one message per connection and ten minutes.

The URLs tools were given before the one scheme (`/hooks/<kind>/<id>`, `/webhooks/<kind>`) keep answering
until each tool's periodic check has registered the current URL with the tool (`url_outdated`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.columns import utcnow
from portal.integrations.models import Connection
from portal.runs.models import MessageStatus, SyncMessage

MAX_BODY = 1_000_000  # bytes; the tools' events are a few kilobytes
CHUNK = 64 * 1024
REFUSALS_GROUPED = timedelta(minutes=10)  # refused deliveries counted in one message
ENTITY = "webhook"  # the entity of refusal messages


@dataclass(frozen=True)
class Delivery:
    """One request to a webhook URL, as a tool's receiver sees it: nothing in it is believed yet."""

    body: bytes
    headers: dict[str, str]
    remote_addr: str

    def header(self, name: str) -> str:
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), "")


@dataclass
class Reply:
    status: int
    body: Any = field(default_factory=lambda: {"status": "ok"})


def callback_url(connection: Connection) -> str:
    """Where the portal asks a tool to deliver the connection's events (the one URL scheme)."""
    return f"{current_app.config['PORTAL_PUBLIC_URL'].rstrip('/')}/webhooks/{connection.kind}/{connection.id}"


def url_outdated(registered: str | None, connection: Connection) -> bool:
    """A hook the tool holds points at another URL than the portal would register now (an upgrade changed
    the scheme, or the public address moved): the tool's check registers it again."""
    return bool(registered) and registered != callback_url(connection)


def refuse(session: Session, connection: Connection, reason: str) -> SyncMessage:
    """What a refused delivery leaves (no payload is kept): one failed message per connection and
    REFUSALS_GROUPED counts the refusals, so a flood of forged, oversized or malformed requests cannot flood
    the table (or the alerts) with rows."""
    now = utcnow()
    refusal = session.scalar(select(SyncMessage).where(
        SyncMessage.connection_id == connection.id, SyncMessage.entity == ENTITY, SyncMessage.action == "refused",
        SyncMessage.created_at > now - REFUSALS_GROUPED).order_by(SyncMessage.id.desc()).limit(1))
    if refusal is None:
        refusal = SyncMessage(connection_id=connection.id, direction="inbound", entity=ENTITY, action="refused",
                              status=MessageStatus.FAILED, attempts=0, created_at=now)
        session.add(refusal)
    refusal.attempts += 1
    refusal.processed_at = now
    minutes = REFUSALS_GROUPED.seconds // 60
    counted = f"Refused {refusal.attempts} webhook deliveries within {minutes} minutes; the last: {reason}"
    refusal.reason = (reason if refusal.attempts == 1 else counted)[:2000]
    return refusal
