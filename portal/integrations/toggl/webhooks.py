"""Webhooks of timesheet tools (Toggl Webhooks v1, reference A9): subscribing on connect, and receiving.

Receiving, POST /hooks/<kind>/<connection id>: the signature over the raw body (Toggl's
X-Webhook-Signature-256, HMAC-SHA256 with our secret) is compared in constant time before anything in the
body is believed. A bad one is refused (401) and only the refusal is recorded. A PING is answered with its
validation code (Toggl's synchronous validation). An event sent longer ago than WEBHOOK_REPLAY_WINDOW, or
one already recorded (same event id: a retry whose answer was lost, or a replay), is not applied again.
Otherwise the event becomes a pending sync message and the connection's time sync applies it (a webhook
run, or the run already going joins it). Polling stays the safety net for anything a webhook missed.

Subscribing runs after every successful validation of the connection: one subscription per portal, found
again by its description, with a fresh secret stored encrypted beside the API token.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import audit
from portal.auth.access import public
from portal.columns import utcnow
from portal.errors import ExternalServiceError
from portal.extensions import csrf, db
from portal.integrations import connectors
from portal.integrations.models import Connection
from portal.integrations.registry import connector_class, connector_for
from portal.integrations.services import ADMINS_RETRY, may_manage_connections, require_connected, run_actor
from portal.integrations.toggl import time_runs
from portal.integrations.toggl.sync import event_key
from portal.integrations.webhooks import REFUSALS_GROUPED, record_refusal
from portal.runs import services as runs
from portal.runs.models import MessageStatus, SyncMessage, SyncRun

MAX_BODY = 1_000_000  # bytes; Toggl's events are a few kilobytes
JOB = "portal.integrations.toggl.jobs.subscribe_webhooks"
runs.retry_right(("webhooks",), may_manage_connections, ADMINS_RETRY)

bp = Blueprint("webhooks", __name__)
csrf.exempt(bp)  # the tool cannot send our CSRF token; the signature authenticates instead


@bp.route("/hooks/<kind>/<int:connection_id>", methods=["POST"])
@public  # the signature authenticates the tool
def receive(kind: str, connection_id: int):
    if (request.content_length or 0) > MAX_BODY:
        return jsonify("Too large"), 413
    reply = receive_delivery(db.session, kind, connection_id, request.get_data(), dict(request.headers))
    db.session.commit()
    return jsonify(reply.body), reply.status


@dataclass
class Reply:
    status: int
    body: Any = field(default_factory=lambda: {"status": "ok"})


def secret_of(connection: Connection) -> str:
    try:
        return json.loads(connection.credentials or "{}").get("webhook_secret") or ""
    except ValueError:
        return ""


def receive_delivery(session: Session, kind: str, connection_id: int, body: bytes, headers: dict[str, str]) -> Reply:
    connection = session.get(Connection, connection_id)
    if connection is None or connection.kind != kind or not connector_class(kind).supports(connectors.WEBHOOKS):
        return Reply(404, "No such webhook endpoint")
    secret = secret_of(connection)
    label = connector_class(kind).display_name()
    if not connection.is_connected or not secret:
        # Gone: the connection was disconnected (its secret forgotten); the tool stops sending.
        _refuse(session, connection, f"Refused a {label} webhook delivery: the connection is not connected (or was "
                                     "re-connected and has not subscribed again). Check: Admin → Integrations.")
        return Reply(410, "Not connected")
    connector = connector_for(connection)
    if not connector.verify_webhook(body, headers, secret):
        _refuse(session, connection, f"Refused a webhook delivery whose X-Webhook-Signature-256 does not match our "
                                     f"secret: it was not sent by {label}, or was altered. Nothing was applied. If "
                                     f"this repeats, check that only {label} can reach the portal, and validate the "
                                     "connection again (that subscribes with a new secret).")
        return Reply(401, "Bad signature")
    try:
        delivery = connector.parse_webhook(body)
    except ValueError:
        _refuse(session, connection, f"Refused a signed {label} delivery that is not an event the portal reads.")
        return Reply(400, "Not an event")
    if delivery.is_ping:
        return Reply(200, {"validation_code": delivery.validation_code} if delivery.validation_code else "ok")
    window = timedelta(seconds=int(current_app.config.get("WEBHOOK_REPLAY_WINDOW", 300)))
    if delivery.sent_at is None or abs(utcnow() - delivery.sent_at) > window:
        sent = f"{delivery.sent_at:%d %b %Y %H:%M:%S} UTC" if delivery.sent_at else "an unknown time"
        _refuse(session, connection, f"Refused {label} event {delivery.event_id}: sent at {sent}, outside the "
                                     f"{window.seconds // 60}-minute window, so it is a replay (a real retry is sent "
                                     "again with a new timestamp).")
        return Reply(400, "Replay")
    key = event_key(connection, delivery.event_id)
    if session.scalar(select(SyncMessage.id).where(SyncMessage.dedupe_key == key)) is not None:
        return Reply(200, {"status": "duplicate"})  # applied (or queued) once already
    message = SyncMessage(connection_id=connection.id, direction="inbound", entity=delivery.entity,
                          external_id=delivery.entry.id if delivery.entry else None, dedupe_key=key,
                          action=delivery.action, payload=json.loads(body), status=MessageStatus.PENDING,
                          reason="Received; waiting for the sync to apply it")
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:  # the same event, delivered twice at once
        return Reply(200, {"status": "duplicate"})
    run, _ = time_runs.start(session, connection, "webhook")
    message.run_id = run.id
    return Reply(200, {"status": "queued"})


def _refuse(session: Session, connection: Connection, reason: str) -> None:
    record_refusal(session, connection, "webhook", lambda count: reason if count == 1 else
                   f"Refused {count} deliveries within {REFUSALS_GROUPED.seconds // 60} minutes; the last: {reason}")


# Subscribing ---------------------------------------------------------------------------------------

def callback_url(connection: Connection) -> str:
    return f"{current_app.config['PORTAL_PUBLIC_URL'].rstrip('/')}/hooks/{connection.kind}/{connection.id}"


def description() -> str:
    """Unique per workspace (Toggl requires it): names this portal, so two portals never take each other's."""
    return f"Portal time sync ({current_app.config['PORTAL_PUBLIC_URL'].rstrip('/')})"[:100]


def start_subscribe(session: Session, connection: Connection, initiated_by_id: int | None) -> SyncRun | None:
    """Subscribe to the tool's time-entry events, after commit (a run); None for tools without webhooks."""
    if not connector_class(connection.kind).supports(connectors.WEBHOOKS):
        return None
    run, _ = runs.start_run(session, kind="webhooks", scope=f"{connection.kind}:webhooks", job=JOB,
                            queue_name="sync", connection_id=connection.id, initiated_by_id=initiated_by_id)
    return run


def run_subscribe(session: Session, run_id: int) -> SyncRun | None:
    return runs.execute(session, run_id, _subscribe)


def _subscribe(session: Session, run: SyncRun) -> str:
    connection = require_connected(session, run.connection_id, connectors.WEBHOOKS)
    label = connector_class(connection.kind).display_name()
    url, name = callback_url(connection), description()
    connector = connector_for(connection)
    try:
        ours = [hook for hook in connector.list_webhooks() if hook.description == name or hook.url == url]
        secret = secret_of(connection)
        for hook in ours:
            if hook.url == url and hook.enabled and hook.validated and secret and hook.secret == secret:
                return f"Already subscribed to {label}'s time-entry events"
        for hook in ours:
            connector.delete_webhook(hook.id)
        secret = secrets.token_hex(32)
        # Stored (committed) before the subscription exists: creating it PINGs our URL, signed with it.
        credentials = json.loads(connection.credentials or "{}")
        connection.credentials = json.dumps({**credentials, "webhook_secret": secret})
        session.commit()
        try:
            hook = connector.create_webhook(url, name, secret)
        except ExternalServiceError as error:
            raise ExternalServiceError(
                f"{label} could not subscribe the portal to its events: {error.message}. Check: PORTAL_PUBLIC_URL "
                f"({url}) must be an address {label} can reach over the internet. Until then the hourly and "
                "nightly syncs keep time up to date.", service=label) from None
    finally:
        connector.close()
    connection.settings = {**connection.settings, "webhook_id": hook.id, "webhook_url": url,
                           "webhook_validated": hook.validated}
    audit.record(session, run_actor(session, run), "connection.webhooks_subscribed", connection,
                 after={"webhook_id": hook.id, "url": url, "validated": hook.validated},
                 summary=f"Subscribed to {label} time-entry events at {url}")
    if not hook.validated:
        runs.note(session, run, "webhook", f"{label} has not validated {url} yet: events flow once it has. Check "
                  "that the address reaches this portal.")
    return f"Subscribed to {label}'s time-entry events" + ("" if hook.validated else " (waiting for validation)")
