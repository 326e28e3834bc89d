"""A Toggl API token the service no longer accepts (regenerated): the connection needs a new one; and the
request quota as Toggl last reported it (what the settings page and the sync log show).

The connector tells a refused token from a permission refusal (connector.TOKEN_REFUSED); whatever run meets
it (a sync, a push, a provisioning: events.sync_run_failed) marks the connection here. Syncs need a connected
connection, so they stop until an admin validates a new token (connection.run_validate clears the mark);
admins are emailed once, not per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit, events, mail
from portal.auth.models import Role, User
from portal.columns import utcnow
from portal.errors import PortalError
from portal.integrations.models import Connection, ConnectionStatus
from portal.runs.models import SyncRun

LABEL = "Toggl Track"


def token_refused(session: Session, connection: Connection, message: str) -> None:
    """Toggl no longer accepts the stored token (regenerated): the connection needs a new one. Syncs stop
    (they need a connected connection) until an admin validates a token; admins are told once by email,
    not on every run that meets it."""
    connection.status, connection.last_error = ConnectionStatus.ERROR, message
    settings = dict(connection.settings or {})
    settings["needs_token"] = True
    if not settings.get("token_alert_sent_at"):
        settings["token_alert_sent_at"] = utcnow().isoformat()
        admins = session.scalars(select(User.email).where(User.active.is_(True),
                                                          User.role.in_((Role.ADMIN, Role.SUPER_ADMIN))))
        link = current_app.config["PORTAL_PUBLIC_URL"].rstrip("/") + "/settings/integrations/toggl"
        mail.queue_email(session, list(admins), f"{LABEL} needs a new API token", "toggl_token_refused",
                         "sync_alert", workspace=connection.account_name or connection.account_id, reason=message,
                         link=link)
        audit.record(session, "Toggl sync", "connection.token_refused", connection, after={"reason": message[:500]},
                     summary=f"{LABEL} no longer accepts the API token; syncs wait for a new one")
    connection.settings = settings


@events.sync_run_failed.connect
def _run_met_a_refused_token(run: SyncRun, session: Session, error: PortalError, **_) -> None:
    # Not a validation: it tells a refused candidate token (the working one stays) from the stored one itself.
    if error.details.get("token_refused") and run.connection_id is not None and run.kind != "validate":
        connection = session.get(Connection, run.connection_id)
        if connection is not None and connection.kind == "toggl":
            token_refused(session, connection, error.message)


def token_accepted(connection: Connection) -> None:
    """A validated token: the mark and the alert are cleared (the next refusal is told again)."""
    connection.settings = {k: v for k, v in (connection.settings or {}).items()
                           if k not in ("needs_token", "token_alert_sent_at")}


@dataclass(frozen=True)
class QuotaSeen:
    """Connection.settings["quota"] read back: what Toggl's last answer said, and its last 402."""

    remaining: int
    resets_at: datetime
    refused_at: datetime | None

    @property
    def has_reset(self) -> bool:
        return self.resets_at <= utcnow()


def quota_seen(connection: Connection | None) -> QuotaSeen | None:
    stored = ((connection.settings or {}) if connection is not None else {}).get("quota") or {}
    try:
        return QuotaSeen(int(stored["remaining"]), datetime.fromisoformat(stored["resets_at"]),
                         datetime.fromisoformat(stored["refused_at"]) if stored.get("refused_at") else None)
    except (KeyError, TypeError, ValueError):
        return None
