"""Email: an outbox row in the same transaction as the change, delivered over SMTP by a job.

The row makes mail survive a Redis or SMTP outage (the sweeper re-enqueues what is still queued) and
lets tests and admins see what was sent. Delivery is at-least-once: a worker killed between SMTP
accept and the status update sends that one email again, which is preferable to losing it.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from flask import current_app, render_template
from sqlalchemy import JSON, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal import queue
from portal.columns import UTCDateTime, utcnow
from portal.extensions import db

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_AFTER = timedelta(minutes=5)


class OutboundEmail(db.Model):
    __tablename__ = "outbound_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipients: Mapped[list[str]] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # What triggered it (stage_move, budget_alert, sync_alert, ...), for the admin view and tests.
    category: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)  # queued|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def queue_email(session: Session, recipients: list[str], subject: str, template: str, category: str,
                **context: Any) -> OutboundEmail | None:
    """Render `emails/<template>.txt` and send it after commit. No recipients: nothing is queued."""
    recipients = sorted({r.strip().lower() for r in recipients if r and r.strip()})
    if not recipients:
        return None
    body = render_template(f"emails/{template}.txt", **context)
    email = OutboundEmail(recipients=recipients, subject=subject[:300], body=body, category=category)
    session.add(email)
    session.flush()
    queue.enqueue_after_commit(session, "portal.jobs.send_email", email.id, queue=queue.MAIL)
    return email


def deliver(session: Session, email_id: int) -> bool:
    """Send one queued email. Returns False when there was nothing to do (sent already, claimed)."""
    claimed = session.execute(
        update(OutboundEmail)
        .where(OutboundEmail.id == email_id, OutboundEmail.status == "queued")
        .values(status="sending", attempts=OutboundEmail.attempts + 1, updated_at=utcnow())
    ).rowcount
    session.commit()
    if not claimed:
        return False
    email = session.get(OutboundEmail, email_id, populate_existing=True)
    try:
        _send(email)
    except (OSError, smtplib.SMTPException) as exc:
        email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        email.status = "failed" if email.attempts >= MAX_ATTEMPTS else "queued"
        session.commit()
        log.warning("email %s not sent (attempt %s): %s", email.id, email.attempts, exc)
        return False
    email.status, email.sent_at, email.last_error = "sent", utcnow(), ""
    session.commit()
    return True


def _send(email: OutboundEmail) -> None:
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = ", ".join(email.recipients)
    message["Subject"] = email.subject
    message["Message-ID"] = f"<portal-{email.id}@{config['MAIL_FROM'].split('@')[-1]}>"
    message.set_content(email.body)
    with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=20) as smtp:
        if config["SMTP_STARTTLS"]:
            smtp.starttls()
        if config["SMTP_USERNAME"]:
            smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
        smtp.send_message(message)


def requeue_waiting(session: Session) -> list[int]:
    """Emails still queued after RETRY_AFTER (Redis was down, SMTP refused), or stuck mid-send."""
    cutoff = utcnow() - RETRY_AFTER
    waiting = list(session.scalars(
        select(OutboundEmail.id).where(OutboundEmail.status.in_(("queued", "sending")),
                                       OutboundEmail.updated_at < cutoff)
    ))
    if waiting:
        session.execute(update(OutboundEmail).where(OutboundEmail.id.in_(waiting))
                        .values(status="queued", updated_at=utcnow()))
        for email_id in waiting:
            queue.enqueue_after_commit(session, "portal.jobs.send_email", email_id, queue=queue.MAIL)
    return waiting
