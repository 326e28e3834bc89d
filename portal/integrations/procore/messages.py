"""The life of one Procore sync message (a time card coming in, a portal change going out).

pending ──claim──> (a worker holds it) ──> processed | failed | pending again with a reason:
- waiting for something in the portal (a project link, an earlier change of the same entry),
- or deferred after a transient failure (Procore down, rate limited) until `next_attempt_at`.

A claim is a conditional UPDATE, so two workers never handle one message; a claim whose worker died
expires. Failures a person must fix (a closed project, an unknown cost code) stay failed until Retry.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from portal import audit, queue
from portal.auth import policy
from portal.auth.models import User
from portal.columns import utcnow
from portal.errors import Conflict, ExternalServiceError, NotFound
from portal.integrations.http import AuthenticationFailed, RateLimited
from portal.integrations.models import Connection, ConnectionStatus
from portal.integrations.procore.connection import SYNC_ACTOR, save_state
from portal.runs.models import MessageStatus, SyncMessage

JOBS = {"inbound": "portal.integrations.procore.jobs.receive", "outbound": "portal.integrations.procore.jobs.send"}
CLAIM_EXPIRES = timedelta(minutes=10)
# Transient failures are retried with a growing pause, then the message fails and alerts.
MAX_TRANSIENT_ATTEMPTS = 8


class Waiting(Exception):
    """The record cannot be handled yet; it stays pending until the portal changes (`waiting_for`)."""

    def __init__(self, reason: str, **waiting_for: Any):
        super().__init__(reason)
        self.reason = reason
        self.waiting_for = waiting_for


class Refused(Exception):
    """The record breaks a rule; it fails with the reason until a person fixes the cause and retries."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


OUTCOMES = (Waiting, Refused, ExternalServiceError)


def claim(session: Session, message_id: int) -> SyncMessage | None:
    """Take a pending message for this worker (committed); None when another worker has it or it is done."""
    now = utcnow()
    taken = session.execute(
        update(SyncMessage)
        .where(SyncMessage.id == message_id, SyncMessage.status == MessageStatus.PENDING,
               or_(SyncMessage.claimed_at.is_(None), SyncMessage.claimed_at < now - CLAIM_EXPIRES))
        .values(claimed_at=now, attempts=SyncMessage.attempts + 1)
    ).rowcount
    session.commit()
    return session.get(SyncMessage, message_id, populate_existing=True) if taken else None


def _close(message: SyncMessage, status: str, reason: str) -> None:
    message.status = status
    message.reason = reason[:4000]
    message.claimed_at = None
    message.next_attempt_at = None
    message.processed_at = utcnow()


def processed(message: SyncMessage, reason: str) -> None:
    _close(message, MessageStatus.PROCESSED, reason)


def failed(message: SyncMessage, reason: str) -> None:
    _close(message, MessageStatus.FAILED, reason)


def wait(message: SyncMessage, reason: str, **waiting_for: Any) -> None:
    """Pending until something in the portal changes; `waiting_for` says what (the pump checks it)."""
    message.status = MessageStatus.PENDING
    message.reason = reason[:4000]
    message.claimed_at = None
    message.next_attempt_at = None
    payload = dict(message.payload or {})
    if waiting_for and payload.get("waiting_for") != waiting_for:
        payload["waiting_for"] = waiting_for
        payload["waiting_since"] = utcnow().isoformat()
    message.payload = payload


def defer(message: SyncMessage, reason: str, until: datetime | None = None) -> None:
    """A transient failure: try again later (growing pauses), or fail once it has gone on too long."""
    if message.attempts >= MAX_TRANSIENT_ATTEMPTS:
        failed(message, f"{reason} (gave up after {message.attempts} attempts; Retry once Procore is back)")
        return
    pause = timedelta(seconds=min(3600, 60 * 2 ** max(0, message.attempts - 1)))
    message.status = MessageStatus.PENDING
    message.claimed_at = None
    message.next_attempt_at = max(until or utcnow(), utcnow() + pause)
    message.reason = f"{reason} Next try at {message.next_attempt_at:%H:%M} UTC."[:4000]


def enqueue(session: Session, message: SyncMessage) -> None:
    queue.enqueue_after_commit(session, JOBS[message.direction], message.id, queue=queue.SYNC)


def retry(session: Session, actor: User | str | None, message_id: int, connection_id: int) -> SyncMessage:
    """A person fixed the cause of a failure: process the message again."""
    if isinstance(actor, User):
        policy.require(policy.can_manage_connections(actor), "Only admins can retry sync messages.")
    message = session.get(SyncMessage, message_id)
    if message is None or message.connection_id != connection_id:
        raise NotFound("That message is no longer in the activity log.")
    if message.status != MessageStatus.FAILED:
        raise Conflict("Only failed messages can be retried; this one is already " + message.status + ".")
    if message.payload is None and message.action == "refused":
        raise Conflict("A refused delivery carries nothing to retry; Procore sends it again when it retries.")
    before = {"status": message.status, "reason": message.reason}
    message.status = MessageStatus.PENDING
    message.reason = f"Retry requested by {getattr(actor, 'name', actor) or 'the system'}."
    message.processed_at = message.next_attempt_at = message.claimed_at = None
    message.attempts = 0
    audit.record(session, actor, "procore.message_retried", message, before=before,
                 after={"status": message.status}, summary=f"Retried {message.direction} message {message.id}")
    enqueue(session, message)
    return message


def settle(session: Session, connection: Connection, message: SyncMessage, error: Exception) -> None:
    """Record why a message could not be handled: waiting, deferred (transient) or failed."""
    if isinstance(error, Waiting):
        wait(message, error.reason, **error.waiting_for)
    elif isinstance(error, Refused):
        failed(message, error.reason)
    elif isinstance(error, AuthenticationFailed):
        wait(message, f"{error.message} It is processed once the connection works again.", reconnect=True)
        mark_broken(session, connection, error.message)
    elif isinstance(error, RateLimited):
        defer(message, f"Procore's rate limit is reached: {error.message}", until=error.resets_at)
    elif isinstance(error, ExternalServiceError) and (error.status_code is None or error.status_code >= 500):
        defer(message, f"Procore is unavailable: {error.message}")
    else:
        failed(message, getattr(error, "message", str(error)))


def mark_broken(session: Session, connection: Connection, reason: str) -> None:
    """Procore refused our credentials: the settings page says so and asks to reconnect."""
    if connection.status == ConnectionStatus.CONNECTED:
        audit.record(session, SYNC_ACTOR, "procore.connection_broken", connection, after={"error": reason},
                     summary="Procore refused the portal's credentials")
        save_state(session, connection.id, broken_at=utcnow().isoformat())
    connection.status, connection.last_error = ConnectionStatus.ERROR, reason[:2000]
