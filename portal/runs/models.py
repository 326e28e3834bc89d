"""The record of background work a person may watch: a sync run (one execution, with progress, counts
and a checkpoint) and its messages (one record in or out, or a note on the run).

Runs are infrastructure: timesheet tools, finance batches and any later long work use them the same way.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.columns import UTCDateTime, utcnow
from portal.extensions import db


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
_ACTIVE_WHERE = text("status IN ('queued', 'running')")


class SyncRun(db.Model):
    """One execution of background work that a person may watch: provisioning, a push, a time sync.

    `scope` names what the run works on (e.g. "toggl:org", "offering:12:provision"); a partial unique
    index allows one active run per scope, so a second click, the cron and a webhook burst all join the
    run that is already going instead of starting another.
    """

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int | None] = mapped_column(ForeignKey("connections.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    scope: Mapped[str] = mapped_column(String(120))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"), index=True)
    offering_id: Mapped[int | None] = mapped_column(ForeignKey("offerings.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(12), default=RunStatus.QUEUED)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    # What the run is doing now in the user's words ("waiting for the Toggl quota to reset at 14:05").
    status_text: Mapped[str] = mapped_column(String(500), default="")
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # Where a resumed run picks up (cursors, pages, the last processed id).
    checkpoint: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The job that executes the run (a dotted path in portal.jobs) and its queue, so the sweeper and the
    # Retry button can start it again without knowing what kind of run it is.
    job: Mapped[str] = mapped_column(String(120))
    queue: Mapped[str] = mapped_column(String(20))
    error: Mapped[str] = mapped_column(Text, default="")
    # False when the run failed on input that trying again cannot fix (a project id the tool does not have):
    # the page shows the reason without a Retry.
    retryable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    initiated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Requests the run sent to the tool (retries included: what quotas count); None when not counted.
    requests: Mapped[int | None] = mapped_column(Integer)
    # A queued run that paused (a tool's quota is used up) resumes then; the sweeper leaves it alone until.
    resume_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    messages = relationship("SyncMessage", back_populates="run", lazy="write_only")

    __table_args__ = (
        Index("uq_sync_runs_active_scope", "scope", unique=True,
              sqlite_where=_ACTIVE_WHERE, postgresql_where=_ACTIVE_WHERE),
    )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES

    @property
    def is_paused(self) -> bool:
        """Waiting for `resume_at` (a tool's quota resets) with its checkpoint; a Retry resumes it now."""
        return self.status == RunStatus.QUEUED and self.resume_at is not None

    @property
    def percent(self) -> int:
        if not self.progress_total:
            return 100 if not self.is_active else 0
        return min(100, int(100 * self.progress_done / self.progress_total))


class MessageStatus(StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"


class SyncMessage(db.Model):
    """One record moving in or out of the portal; the activity panel and Retry read these."""

    __tablename__ = "sync_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int | None] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id", ondelete="SET NULL"), index=True)
    direction: Mapped[str] = mapped_column(String(10))  # inbound | outbound
    entity: Mapped[str] = mapped_column(String(40))  # time_entry, project, project_user, client, ...
    external_id: Mapped[str | None] = mapped_column(String(64))
    # Deliveries and events that must be handled once carry a key (event id, delivery ulid).
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    action: Mapped[str] = mapped_column(String(20), default="")  # create | update | delete | ...
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default=MessageStatus.PENDING)
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The portal record the message is about (an outbound time entry), kept after the record is deleted,
    # so changes of one record are sent in order and a delete finds what its create produced.
    local_id: Mapped[int | None] = mapped_column(Integer)
    # A pending message that waits for a transient failure to pass is tried again from this instant.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set while a worker handles the message (a claim by conditional update; stale claims expire).
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    run = relationship("SyncRun", back_populates="messages")

    __table_args__ = (
        Index("ix_sync_messages_connection_status", "connection_id", "status", "created_at"),
        Index("ix_sync_messages_local", "connection_id", "direction", "local_id"),
        Index("ix_sync_messages_external", "connection_id", "direction", "external_id"),
    )
