"""Repairs: the catch-up poll and the pump.

The catch-up poll (hourly, and "Sync now") lists the time cards Procore changed or deleted since the
last poll (`filters[updated_at]` / `filters[deleted_at]`, with an overlap) and applies any the portal
missed: Procore drops a webhook delivery after 12 hours of failures. It also checks that our webhook
hook and its triggers still exist in Procore, and refreshes the cached time types and projects.

The pump (every five minutes) re-enqueues messages that are due again: deferred after a transient
failure, waiting for a project that has since been linked, lost between commit and enqueue, or held by
a worker that died. Then it sends the alert email for new problems (alerts.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from portal.columns import utcnow
from portal.errors import ExternalServiceError
from portal.integrations.http import AuthenticationFailed, RateLimited
from portal.integrations.models import Connection, ProjectLink
from portal.integrations.procore import messages
from portal.integrations.procore.connection import connected, ensure_hook, prefs, refresh_lists, save_state
from portal.integrations.procore.receiving import catch_up_card
from portal.integrations.registry import connector_for
from portal.runs import services as runs
from portal.runs.models import MessageStatus, SyncMessage, SyncRun

# Procore's updated_at has one-second precision and clocks differ: look back a little further each time.
OVERLAP = timedelta(minutes=10)
# The work dates a changed card may have: Procore's list is always sent dates (its default window is not
# documented), wide enough for a card edited long after its day, or entered ahead of it.
WORK_DATES_BEHIND = timedelta(days=400)
WORK_DATES_AHEAD = timedelta(days=60)
LOST_AFTER = timedelta(minutes=2)
KEEP_PROCESSED = timedelta(days=90)


def run_catch_up(session: Session, run_id: int) -> None:
    run = runs.claim(session, run_id)
    if run is None:
        return
    connection = session.get(Connection, run.connection_id)
    if connection is None or not connection.is_connected:
        runs.finish(session, run, error="Procore is not connected.")
        return
    connector = connector_for(connection)
    counts = {"checked": 0, "changed": 0, "problem": 0, "unchanged": 0}
    try:
        started = utcnow()
        runs.report(session, run, text="Checking the webhooks in Procore")
        repaired = ensure_hook(session, connection, connector, fresh=False)
        runs.report(session, run, add={"webhooks_repaired": 1} if repaired else None, text="Reading the lists")
        refresh_lists(session, connection, connector)
        session.commit()
        if prefs(connection)["receive"]:
            since = datetime.fromisoformat(connection.settings.get("cursor") or started.isoformat()) - OVERLAP
            for label, window in (("changed", {"updated_between": (since, started)}),
                                  ("deleted", {"deleted_between": (since, started)})):
                runs.report(session, run, text=f"Reading time cards {label} in Procore since {since:%d %b %H:%M} UTC")
                checked_before = counts["checked"]

                def total(found: int, before: int = checked_before) -> None:
                    run.progress_total = before + found

                days = ((since - WORK_DATES_BEHIND).date(), (started + WORK_DATES_AHEAD).date())
                for page in connector.timecard_pages(days, **window, on_total=total):
                    for card in page:
                        counts[catch_up_card(session, connection, connector, card, run)] += 1
                        counts["checked"] += 1
                    runs.report(session, run, done=counts["checked"],
                                text=f"Checked {counts['checked']} time cards")
            save_state(session, connection.id, cursor=started.isoformat())
        run.counts = {**(run.counts or {}), **{k: v for k, v in counts.items() if v}}
        runs.finish(session, run, text=f"Checked {counts['checked']} time cards; {counts['changed']} repaired, "
                                       f"{counts['problem']} with problems.")
    except RateLimited as error:  # Procore asked every job of the connection to wait: the check waits too
        session.rollback()
        runs.pause_until(session, session.get(SyncRun, run_id), error.resets_at,
                         f"Procore asked us to wait until {error.resets_at:%H:%M} UTC; the check goes on then.")
    except ExternalServiceError as error:
        session.rollback()
        if isinstance(error, AuthenticationFailed):
            messages.mark_broken(session, session.get(Connection, run.connection_id), error.message)
        runs.finish(session, session.get(SyncRun, run_id), error=error.message)
    finally:
        connector.close()


def pump(session: Session) -> list[int]:
    """Re-enqueue messages that are due again; returns their ids."""
    connection = connected(session)
    if connection is None:
        return []
    now = utcnow()
    pending = list(session.scalars(select(SyncMessage).where(
        SyncMessage.connection_id == connection.id, SyncMessage.status == MessageStatus.PENDING,
        or_(SyncMessage.claimed_at.is_(None), SyncMessage.claimed_at < now - messages.CLAIM_EXPIRES))
        .order_by(SyncMessage.id).limit(1000)))
    linked = set(session.scalars(select(ProjectLink.external_id).where(ProjectLink.connection_id == connection.id)))
    due = []
    for message in pending:
        waiting_for = (message.payload or {}).get("waiting_for") or {}
        if message.claimed_at is not None:
            due.append(message)  # its worker died
        elif message.next_attempt_at is not None:
            if message.next_attempt_at <= now:
                due.append(message)
        elif "project" in waiting_for:
            if waiting_for["project"] in linked:
                due.append(message)
        elif message.created_at < now - LOST_AFTER:
            due.append(message)  # never picked up (Redis lost it), or waiting behind a change that is done
    for message in due:
        message.claimed_at = None
        messages.enqueue(session, message)
    session.execute(delete(SyncMessage).where(SyncMessage.connection_id == connection.id,
                                              SyncMessage.status == MessageStatus.PROCESSED,
                                              SyncMessage.processed_at < now - KEEP_PROCESSED))
    return [m.id for m in due]


def requeue_for_project(session: Session, connection_id: int, external_project_id: str) -> int:
    """A Procore project was just linked: its waiting time cards go now rather than at the next pump."""
    count = 0
    for message in session.scalars(select(SyncMessage).where(
            SyncMessage.connection_id == connection_id, SyncMessage.status == MessageStatus.PENDING,
            SyncMessage.direction == "inbound", SyncMessage.claimed_at.is_(None))):
        if ((message.payload or {}).get("waiting_for") or {}).get("project") == external_project_id:
            messages.enqueue(session, message)
            count += 1
    return count
