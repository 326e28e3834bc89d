"""The audit log: who did what to which record, when, with the values before and after.

Services call `record` in the same transaction as the change, so an audited change and its audit row
commit or roll back together. Secrets never reach this table: callers pass snapshots, and
`snapshot` drops any field whose name says it is a secret.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, false, inspect, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.columns import UTCDateTime, utcnow
from portal.extensions import db
from portal.inputs import MAX_ID

if TYPE_CHECKING:
    from portal.auth.models import User

SECRET_WORDS = ("password", "token", "secret", "credential")


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Kept beside actor_id so the log still reads after a user is deleted, and names system actors.
    actor_label: Mapped[str] = mapped_column(String(200))
    # Issue 16: the user whose right the actor used (a stand-in approver deciding for them); None: their own.
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    on_behalf_of_label: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject_type: Mapped[str] = mapped_column(String(60))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(500), default="")
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    @property
    def who(self) -> str:
        """The actor as the log and histories show it: "bob@x on behalf of ann@x" for a stand-in."""
        return f"{self.actor_label} on behalf of {self.on_behalf_of_label}" if self.on_behalf_of_label \
            else self.actor_label


def plain(value: Any) -> Any:
    """A value as the audit log stores it (JSON: Decimals and dates as strings)."""
    if isinstance(value, Decimal):
        # Canonical: 100 and 100.0000 (what a Numeric(10, 4) column returns) are the same value.
        return format(value.normalize(), "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def snapshot(obj: Any, fields: list[str] | None = None) -> dict[str, Any]:
    """The audit-safe values of a model's columns (or just `fields`)."""
    names = fields or [c.key for c in inspect(obj).mapper.column_attrs]
    return {n: plain(getattr(obj, n)) for n in names if not any(w in n.lower() for w in SECRET_WORDS)}


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def update(session: Session, actor: User | str | None, subject: Any, values: dict[str, Any], action: str,
           summary: str, fields: list[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set `values` on `subject`, flush, and record one row of what really changed among `fields` (by default
    the keys of `values`); nothing is recorded when nothing changed. Returns the changes as (before, after)."""
    fields = fields or list(values)
    before = snapshot(subject, fields)
    for name, value in values.items():
        setattr(subject, name, value)
    session.flush()
    old, new = changes(before, snapshot(subject, fields))
    if new:
        record(session, actor, action, subject, before=old, after=new, summary=summary)
    return old, new


def record(session: Session, actor: User | str | None, action: str, subject: Any = None,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           summary: str = "", subject_type: str | None = None, subject_id: int | None = None,
           on_behalf_of: User | None = None) -> AuditEvent:
    """Add one audit row. `actor` is a User, a system label ("worker", "toggl sync") or None (system);
    `on_behalf_of` the user whose right the actor used, when it is not their own (a stand-in approver)."""
    if subject is not None:
        subject_type = subject_type or subject.__tablename__
        subject_id = subject_id if subject_id is not None else subject.id
    if isinstance(actor, str) or actor is None:
        actor_id, actor_label = None, actor or "system"
    else:
        actor_id, actor_label = actor.id, actor.email
    event = AuditEvent(
        actor_id=actor_id,
        actor_label=actor_label,
        action=action,
        subject_type=subject_type or "",
        subject_id=subject_id,
        summary=summary[:500],
        before=plain(before) if before is not None else None,
        after=plain(after) if after is not None else None,
        on_behalf_of_id=on_behalf_of.id if on_behalf_of is not None else None,
        on_behalf_of_label=on_behalf_of.email if on_behalf_of is not None else None,
    )
    session.add(event)
    return event


def history(session: Session, subject_type: str, subject_id: int, limit: int = 50) -> list[AuditEvent]:
    return list(session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject_type == subject_type, AuditEvent.subject_id == subject_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    ))


def search(session: Session, *, action: str = "", subject: str = "", actor: str = "", before_id: int | None = None,
           limit: int = 50) -> tuple[list[AuditEvent], int | None]:
    """The audit log, newest first, one page of `limit`: events whose action starts with `action`, about
    `subject` ("kind" or "kind:id"), by (or on behalf of) an actor whose name contains `actor`, older than
    `before_id`.
    Returns (events, the id to pass as `before_id` for the next page, or None on the last page)."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit + 1)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if subject:
        kind, _, ident = subject.partition(":")
        query = query.where(AuditEvent.subject_type == kind)
        if ident.isdigit():  # beyond what an id column holds: no such subject
            query = query.where(AuditEvent.subject_id == int(ident) if len(ident) <= 10 and int(ident) <= MAX_ID
                                else false())
    if actor:
        query = query.where(or_(AuditEvent.actor_label.ilike(f"%{actor}%"),
                                AuditEvent.on_behalf_of_label.ilike(f"%{actor}%")))
    if before_id:
        query = query.where(AuditEvent.id < before_id)
    events = list(session.scalars(query))
    return events[:limit], events[limit - 1].id if len(events) > limit else None
