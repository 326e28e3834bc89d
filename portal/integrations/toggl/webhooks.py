"""Webhooks of timesheet tools (Toggl Webhooks v1, reference A9): subscribing on connect, and receiving.

Receiving (portal/integrations/webhooks.py: POST /webhooks/<kind>/<connection id>, the body read bounded):
the signature over the raw body (Toggl's X-Webhook-Signature-256, HMAC-SHA256 with our secret) is compared
in constant time before anything in the body is parsed or believed. A bad one is refused (401) and only the
refusal is recorded. A signed body that is not an event of Toggl's documented shape is refused (400) and
recorded the same way. A PING is answered with its validation code (Toggl's synchronous validation). An
event sent longer ago than WEBHOOK_REPLAY_WINDOW, or one already recorded (same event id: a retry whose answer
was lost, or a replay), is not applied again. Otherwise the event becomes a pending sync message and the
connection's time sync applies it (a webhook run, or the run already going joins it). Polling stays the
safety net for anything a webhook missed.

Subscribing runs after every successful validation of the connection, and again by itself when the URL the
portal would register now differs from the subscription's (`renew_moved`, at every scheduled sync): one
subscription per portal, found again by its description, with a fresh secret stored encrypted beside the
API token.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import audit
from portal.columns import utcnow
from portal.errors import ExternalServiceError
from portal.integrations import connectors
from portal.integrations.models import Connection, ConnectionStatus
from portal.integrations.registry import connector_class, connector_for
from portal.integrations.services import (
    ADMINS_RETRY,
    connected_supporting,
    may_manage_connections,
    require_connected,
    run_actor,
    sync_actor,
    tool_label,
)
from portal.integrations.toggl import time_runs
from portal.integrations.toggl.sync import event_key
from portal.integrations.webhooks import Delivery, Reply, callback_url, refuse, url_outdated
from portal.runs import services as runs
from portal.runs.models import MessageStatus, SyncMessage, SyncRun

JOB = "portal.integrations.toggl.jobs.subscribe_webhooks"
runs.retry_right(("webhooks",), may_manage_connections, ADMINS_RETRY)


def secret_of(connection: Connection) -> str:
    try:
        return json.loads(connection.credentials or "{}").get("webhook_secret") or ""
    except ValueError:
        return ""


def receive_delivery(session: Session, connection: Connection, delivery: Delivery) -> Reply:
    """One delivery to the connection's URL (its kind checked by the endpoint): authenticated, then parsed."""
    if not connector_class(connection.kind).supports(connectors.WEBHOOKS):
        return Reply(404, "No such webhook endpoint")
    secret = secret_of(connection)
    label = tool_label(connection)
    if connection.status == ConnectionStatus.DISCONNECTED or not secret:
        # Gone: the connection was disconnected (its secret forgotten); the tool stops sending. A connection in
        # error (a regenerated token) still holds its secret: its deliveries are verified and kept below.
        refuse(session, connection, f"Refused a {label} webhook delivery: the connection is not connected (or was "
                                    "re-connected and has not subscribed again). Check: Admin → Integrations.")
        return Reply(410, "Not connected")
    connector = connector_for(connection)
    if not connector.verify_webhook(delivery.body, delivery.headers, secret):
        refuse(session, connection, f"Refused a webhook delivery whose X-Webhook-Signature-256 does not match our "
                                    f"secret: it was not sent by {label}, or was altered. Nothing was applied. If "
                                    f"this repeats, check that only {label} can reach the portal, and validate the "
                                    "connection again (that subscribes with a new secret).")
        return Reply(401, "Bad signature")
    try:
        event = connector.parse_webhook(delivery.body)
    except ValueError as error:  # inputs.BadShape: a wrong type, a nesting too deep, an id too long ...
        refuse(session, connection, f"Refused a signed {label} delivery that is not an event the portal reads: "
                                    f"{error} Nothing was applied.")
        return Reply(400, "Not an event")
    if event.is_ping:
        return Reply(200, {"validation_code": event.validation_code} if event.validation_code else "ok")
    window = timedelta(seconds=int(current_app.config.get("WEBHOOK_REPLAY_WINDOW", 300)))
    if event.sent_at is None or abs(utcnow() - event.sent_at) > window:
        sent = f"{event.sent_at:%d %b %Y %H:%M:%S} UTC" if event.sent_at else "an unknown time"
        refuse(session, connection, f"Refused {label} event {event.event_id}: sent at {sent}, outside the "
                                    f"{window.seconds // 60}-minute window, so it is a replay (a real retry is sent "
                                    "again with a new timestamp).")
        return Reply(400, "Replay")
    key = event_key(connection, event.event_id)
    if session.scalar(select(SyncMessage.id).where(SyncMessage.dedupe_key == key)) is not None:
        return Reply(200, {"status": "duplicate"})  # applied (or queued) once already
    message = SyncMessage(connection_id=connection.id, direction="inbound", entity=event.entity[:40],
                          external_id=event.entry.id if event.entry else None, dedupe_key=key,
                          action=event.action[:20], payload=event.raw, status=MessageStatus.PENDING,
                          reason="Received; waiting for the sync to apply it")
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:  # the same event, delivered twice at once
        return Reply(200, {"status": "duplicate"})
    if not connection.is_connected:  # a 410 would make Toggl stop delivering; the first sync after the fix applies it
        message.reason = "Received while the connection needs attention (a new API token); applied by the first " \
                         "sync once it is connected again"
        return Reply(200, {"status": "kept"})
    run, _ = time_runs.start(session, connection, "webhook")
    message.run_id = run.id
    return Reply(200, {"status": "queued"})


# Subscribing ---------------------------------------------------------------------------------------

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


def renew_moved(session: Session) -> list[int]:
    """Subscribe again, by itself, wherever the subscription's URL is not the one the portal would register
    now (an upgrade changed the URL scheme, or PORTAL_PUBLIC_URL moved), audited. The old URL keeps answering
    until the tool holds the new one. Returns the subscription runs started."""
    started = []
    for connection in list(connected_supporting(session, connectors.WEBHOOKS)):
        registered = (connection.settings or {}).get("webhook_url")
        if not url_outdated(registered, connection):
            continue
        run = start_subscribe(session, connection, None)
        url, label = callback_url(connection), tool_label(connection)
        audit.record(session, sync_actor(connection), "connection.webhook_url_changed", connection,
                     before={"url": registered}, after={"url": url},
                     summary=f"{label} delivers to {registered}; subscribing again at {url}")
        started.append(run.id)
    return started


def run_subscribe(session: Session, run_id: int) -> SyncRun | None:
    return runs.execute(session, run_id, _subscribe)


def _subscribe(session: Session, run: SyncRun) -> str:
    connection = require_connected(session, run.connection_id, connectors.WEBHOOKS)
    label = tool_label(connection)
    url, name = callback_url(connection), description()
    connector = connector_for(connection)
    try:
        held = connection.settings or {}  # the subscription made before (its URL or description may have moved)
        ours = [hook for hook in connector.list_webhooks() if hook.description == name or hook.url == url
                or hook.id == str(held.get("webhook_id")) or hook.url == held.get("webhook_url")]
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
