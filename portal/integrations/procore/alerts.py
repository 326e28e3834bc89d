"""Alert emails about Procore sync problems, batched: one email lists every problem since the last one.

The pump calls `send_alerts` every five minutes; an email goes out at most every ALERT_INTERVAL, so a
storm of failures becomes one email, and nothing is lost in between (the next email lists it). Problems
are Procore refusing the portal's credentials (told once, until a reconnect; what waits for the reconnect is
not listed again), failed messages in either direction (refused deliveries included), time cards that started
waiting for a project link, and failed connect / catch-up / disconnect runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import mail
from portal.columns import utcnow
from portal.integrations.models import Connection
from portal.integrations.procore.connection import KIND, prefs, save_state
from portal.mail import OutboundEmail
from portal.runs.models import MessageStatus, RunStatus, SyncMessage, SyncRun

ALERT_INTERVAL = timedelta(minutes=15)
LISTED = 50
RUN_KINDS = ("procore_connect", "procore_catch_up", "procore_disconnect")


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def send_alerts(session: Session) -> OutboundEmail | None:
    """Queue one email about the problems since the last alert (flushed; the caller commits)."""
    connection = session.scalar(select(Connection).where(Connection.kind == KIND).with_for_update())
    if connection is None or not connection.settings:
        return None
    state, now = connection.settings, utcnow()
    since = _instant(state.get("last_alert_at")) or now
    sent_at = _instant(state.get("last_alert_sent_at"))
    if sent_at is not None and now - sent_at < ALERT_INTERVAL:
        return None
    recipients = prefs(connection)["alert_emails"]
    problems = list(session.scalars(
        select(SyncMessage).where(SyncMessage.connection_id == connection.id,
                                  SyncMessage.status == MessageStatus.FAILED,
                                  func.coalesce(SyncMessage.processed_at, SyncMessage.created_at) > since)
        .order_by(SyncMessage.id).limit(LISTED)))
    failed_count = session.scalar(select(func.count()).select_from(SyncMessage).where(
        SyncMessage.connection_id == connection.id, SyncMessage.status == MessageStatus.FAILED,
        func.coalesce(SyncMessage.processed_at, SyncMessage.created_at) > since))
    waiting = [m for m in session.scalars(select(SyncMessage).where(
        SyncMessage.connection_id == connection.id, SyncMessage.status == MessageStatus.PENDING,
        SyncMessage.direction == "inbound").limit(1000))
        # waiting for a project link; those waiting for a reconnect are the broken connection's, told once
        if "project" in ((m.payload or {}).get("waiting_for") or {})
        and (_instant((m.payload or {}).get("waiting_since")) or since) > since][:LISTED]
    failed_runs = list(session.scalars(select(SyncRun).where(
        SyncRun.connection_id == connection.id, SyncRun.kind.in_(RUN_KINDS), SyncRun.status == RunStatus.FAILED,
        SyncRun.finished_at > since).order_by(SyncRun.id)))
    broken = connection.last_error if (_instant(state.get("broken_at")) or since) > since else ""
    if not (problems or waiting or failed_runs or broken):
        return None
    save_state(session, connection.id, last_alert_at=now.isoformat(), last_alert_sent_at=now.isoformat())
    if not recipients:
        return None
    total = failed_count + len(waiting) + len(failed_runs) + bool(broken)
    link = current_app.config["PORTAL_PUBLIC_URL"].rstrip("/") + "/settings/integrations/procore"
    return mail.queue_email(session, recipients, f"Procore sync: {total} problem{'s' if total != 1 else ''} "
                                                 f"need{'s' if total == 1 else ''} attention", "procore_alert",
                            "sync_alert", company=connection.account_name, broken=broken, problems=problems,
                            more=max(0, failed_count - len(problems)), waiting=waiting, runs=failed_runs, link=link)
