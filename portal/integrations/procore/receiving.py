"""Procore → portal: webhook deliveries are recorded and acknowledged at once; workers process them.

A delivery carries only the card's id (Procore's v2 events are id-only), so the worker asks Procore for
the card's current state and replica applies it: repeated and out-of-order deliveries converge on the
latest state. A delivery (its body read bounded by portal/integrations/webhooks.py) is authenticated by the
Authorization header the portal gave Procore before its body is parsed; a wrong header or a body that is
not an event of Procore's shape is refused, and nothing is recorded of it but the refusal. Each event is
recorded once: by its ulid (or event id), else by a key derived from the card, the event type and when it
was sent (or the body's digest).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.integrations.models import Connection, ConnectionStatus
from portal.integrations.procore import messages, replica
from portal.integrations.procore.connection import credentials, prefs
from portal.integrations.procore.connector import TIMECARD_RESOURCE, ProcoreConnector
from portal.integrations.procore.records import Timecard, WebhookEvent
from portal.integrations.registry import connector_for
from portal.integrations.webhooks import Delivery, Reply, refuse
from portal.runs.models import MessageStatus, SyncMessage, SyncRun

log = logging.getLogger(__name__)


def receive_delivery(session: Session, connection: Connection, delivery: Delivery) -> Reply:
    """Verify, read and record one webhook delivery; the answer is what Procore sees."""
    if connection.status == ConnectionStatus.DISCONNECTED:
        return Reply(404, {"status": "Procore is not connected to this portal."})
    expected = f"Bearer {credentials(connection).get('webhook_secret', '')}"
    if expected == "Bearer " or not hmac.compare_digest(delivery.header("Authorization").encode(),
                                                        expected.encode()):
        log.warning("refused a Procore webhook delivery from %s: wrong Authorization header", delivery.remote_addr)
        refuse(session, connection, f"Refused a webhook delivery (from {delivery.remote_addr}) whose Authorization "
                                    "header is not the one this portal gave Procore. Nothing of it was recorded.")
        return Reply(401, {"status": "Unauthorized"})
    try:
        event = WebhookEvent.parse(delivery.body)
    except ValueError as error:  # inputs.BadShape
        refuse(session, connection, f"Refused an authenticated Procore delivery that is not an event the portal "
                                    f"reads: {error} Nothing of it was recorded.")
        return Reply(400, {"status": "Expected a Procore webhook event with a resource_id."})
    if event.resource_name != TIMECARD_RESOURCE:
        return Reply(200, {"status": "Ignored: not a time card event."})
    if not prefs(connection)["receive"]:
        return Reply(200, {"status": "Ignored: receiving from Procore is off."})
    message = SyncMessage(connection_id=connection.id, direction="inbound", entity="time_entry",
                          external_id=event.resource_id, action=event.event_type,
                          dedupe_key=dedupe_key(connection, event, delivery.body), payload=event.raw,
                          status=MessageStatus.PENDING, reason="Received; waiting for a worker.")
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        return Reply(200, {"status": "Already received."})
    messages.enqueue(session, message)
    return Reply(200, {"status": "Received."})


def dedupe_key(connection: Connection, event: WebhookEvent, body: bytes) -> str:
    """One key per event: Procore's ulid (or event id); without either, the card, the event type and the
    instant it was sent, or the body's digest when it says no instant (a retry of it is the same bytes)."""
    if event.ulid or event.event_id:
        return f"procore:event:{event.ulid or event.event_id}"
    sent = event.timestamp.isoformat() if event.timestamp else hashlib.sha256(body).hexdigest()
    digest = hashlib.sha256(f"{event.resource_id}|{event.event_type}|{sent}".encode()).hexdigest()[:40]
    return f"procore:{connection.id}:derived:{digest}"


def _from_us(connection: Connection, payload: dict[str, Any] | None) -> bool:
    """Procore names the app that made a change; changes made by our own app are not imported back."""
    application = ((payload or {}).get("metadata") or {}).get("source_application_id")
    return bool(application) and application == credentials(connection).get("client_id")


def process_inbound(session: Session, message_id: int) -> None:
    message = messages.claim(session, message_id)
    if message is None:
        return
    connection = session.get(Connection, message.connection_id)
    if not connection.is_connected:
        messages.wait(message, "Procore is not connected; processed once the connection works again.",
                      reconnect=True)
        session.commit()
        return
    if not prefs(connection)["receive"]:
        messages.processed(message, "Receiving from Procore is off; not imported.")
    elif _from_us(connection, message.payload):
        messages.processed(message, "Our own change, sent from the portal; not imported again.")
    else:
        connector = connector_for(connection)
        try:
            card = connector.get_timecard(message.external_id)
            outcome = _apply(session, connection, connector, message.external_id, card)
        except messages.OUTCOMES as error:  # Procore could not be asked
            session.rollback()
            outcome, card = error, None
        finally:
            connector.close()
        _record(session, connection, session.get(SyncMessage, message_id), outcome, card)
    session.commit()


def _apply(session: Session, connection: Connection, connector: ProcoreConnector, external_id: str,
           card: Timecard | None) -> replica.Result | Exception:
    """Apply a card (flushed, not committed); a failure is rolled back and returned as the outcome."""
    try:
        incoming = replica.prepare(session, connection, connector, external_id, card)
        return replica.apply(session, connection, incoming)
    except messages.OUTCOMES as error:
        session.rollback()
        return error


def _record(session: Session, connection: Connection, message: SyncMessage, outcome: replica.Result | Exception,
            card: Timecard | None) -> None:
    if not isinstance(outcome, replica.Result):
        messages.settle(session, connection, message, outcome)
        return
    if card is None or card.deleted_at is not None:
        message.action = "delete"  # the tombstone that later (older) states of this card are checked against
    messages.processed(message, outcome.reason)


def catch_up_card(session: Session, connection: Connection, connector: ProcoreConnector, card: Timecard,
                  run: SyncRun) -> str:
    """One card seen by the catch-up poll; returns "unchanged", "changed" or "problem". Only changes and
    problems are logged as messages (an hourly poll must not flood the activity panel)."""
    existing = replica.find_entry(session, connection.id, card.id)
    if existing is not None and card.deleted_at is None and card.updated_at and existing.external_updated_at \
            and card.updated_at <= existing.external_updated_at:
        return "unchanged"
    outcome = _apply(session, connection, connector, card.id, card)
    open_message = session.scalar(select(SyncMessage).where(
        SyncMessage.connection_id == connection.id, SyncMessage.direction == "inbound",
        SyncMessage.external_id == card.id, SyncMessage.status.in_((MessageStatus.PENDING, MessageStatus.FAILED)))
        .order_by(SyncMessage.id.desc()).limit(1))
    changed = isinstance(outcome, replica.Result) and outcome.changed
    if isinstance(outcome, replica.Result) and not changed and open_message is None:
        session.commit()
        return "unchanged"
    message = open_message or SyncMessage(
        connection_id=connection.id, direction="inbound", entity="time_entry", external_id=card.id,
        action="catch_up", payload={"resource_id": card.id, "source": "catch-up poll"}, status=MessageStatus.PENDING)
    message.run_id = run.id
    session.add(message)
    _record(session, connection, message, outcome, card)
    if changed:
        message.reason = f"Repaired by the catch-up poll. {message.reason}"
    session.commit()
    return "changed" if changed else ("unchanged" if isinstance(outcome, replica.Result) else "problem")
