"""Time entries (native or synced from a timesheet tool) and the weekly timesheets they roll up into."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.columns import HOURS, RATE, Timestamps, UTCDateTime, utcnow
from portal.extensions import db

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.planning.models import ProjectTask
    from portal.projects.items import ProjectItem
    from portal.projects.models import Offering, Project, Resource


class EntrySource(StrEnum):
    NATIVE = "native"
    TOGGL = "toggl"
    PROCORE = "procore"


SOURCE_LABELS = {EntrySource.NATIVE: "Portal", EntrySource.TOGGL: "From Toggl", EntrySource.PROCORE: "From Procore"}


class TimeEntry(Timestamps, db.Model):
    """Hours a resource worked on a project on one date.

    Synced entries carry the connection and the tool's id; (connection, external id) is unique, which is
    what makes a repeated or concurrent import harmless. They are read-only in the portal.
    """

    __tablename__ = "time_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    offering_id: Mapped[int | None] = mapped_column(ForeignKey("offerings.id", ondelete="SET NULL"), index=True)
    work_date: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(HOURS)
    billable: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(10), default=EntrySource.NATIVE)
    connection_id: Mapped[int | None] = mapped_column(ForeignKey("connections.id", ondelete="SET NULL"))
    external_id: Mapped[str | None] = mapped_column(String(64))
    external_url: Mapped[str | None] = mapped_column(String(500))
    # The tool's own last-modified instant: an older delivery never overwrites a newer state.
    external_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    timesheet_id: Mapped[int | None] = mapped_column(ForeignKey("timesheets.id", ondelete="SET NULL"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Stage editor (issue 3): the project task worked on, and the bill rate the entry is valued at
    # (frozen when entered; a PM with "revalue time" or "adjust time" changes it). None: the assignment's.
    task_id: Mapped[int | None] = mapped_column(ForeignKey("project_tasks.id", ondelete="SET NULL"), index=True)
    bill_rate: Mapped[Decimal | None] = mapped_column(RATE)
    # Issue 7 (Procore): the project item (cost code) the time was spent on.
    project_item_id: Mapped[int | None] = mapped_column(ForeignKey("project_items.id", ondelete="SET NULL"))
    # Clock times and unpaid break when the tool records them (Procore time in / time out / lunch).
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    break_minutes: Mapped[int | None] = mapped_column(Integer)
    # The tool's other fields kept as they came (approval status, time type, sub job, crew...), by name.
    external_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    resource: Mapped[Resource] = relationship()
    project: Mapped[Project] = relationship()
    offering: Mapped[Offering | None] = relationship()
    timesheet: Mapped[Timesheet | None] = relationship(back_populates="entries")
    task: Mapped[ProjectTask | None] = relationship()
    project_item: Mapped[ProjectItem | None] = relationship()

    __table_args__ = (
        # External id first: a sync looks entries up by it (portal.sql.by_key); (connection_id, work_date) serves
        # the reads by connection.
        UniqueConstraint("external_id", "connection_id"),
        CheckConstraint("hours > 0 AND hours <= 24", name="hours_range"),
        CheckConstraint("bill_rate IS NULL OR bill_rate >= 0", name="bill_rate_not_negative"),
        Index("ix_time_entries_resource_date", "resource_id", "work_date"),
        # Time sync (issue 5): reconciling a connection's entries over a window of days.
        Index("ix_time_entries_connection_date", "connection_id", "work_date"),
        # A project's entries, and their timesheets without reading the rows (a PM's approvals, issue 14).
        Index("ix_time_entries_project_timesheet", "project_id", "timesheet_id"),
    )

    @property
    def is_synced(self) -> bool:
        return self.source != EntrySource.NATIVE

    @property
    def details(self) -> list[tuple[str, str]]:
        """What the entry was booked against beyond project, offering and task, as (label, text): its project
        item and what its tool said (Procore's time type, cost code and sub job), for My time and the
        project's Time & costs tab."""
        said = self.external_details or {}
        shown = []
        if said.get("time_type"):
            code = said.get("time_type_code")
            abbreviation = f" ({code})" if code and code != said["time_type"] else ""
            shown.append(("Time type", said["time_type"] + abbreviation))
        if said.get("cost_code"):
            shown.append(("Cost code", " ".join(filter(None, (said["cost_code"], said.get("cost_code_name"))))))
        if self.project_item is not None and self.project_item.code != said.get("cost_code"):
            shown.append(("Project item", self.project_item.label))
        if said.get("sub_job"):
            shown.append(("Sub job", said["sub_job"]))
        return shown


class TimesheetStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    RECALLED = "recalled"


STATUS_LABELS = {
    TimesheetStatus.DRAFT: "Draft",
    TimesheetStatus.SUBMITTED: "Submitted",
    TimesheetStatus.APPROVED: "Approved",
    TimesheetStatus.REJECTED: "Rejected",
    TimesheetStatus.RECALLED: "Recalled",
}


class PostingStatus(StrEnum):
    """Where the timesheet's actuals stand in finance (seed 003)."""

    NONE = "none"  # nothing to post: not approved, or its actuals were removed
    PENDING = "pending"  # a posting job is queued or running
    POSTED = "posted"  # the ledger matches the timesheet
    HELD = "held"  # approved while Timesheet to Finance Sync was off; "Post now" posts it


class Timesheet(Timestamps, db.Model):
    """One resource's time for one week (the week start is an organization setting)."""

    __tablename__ = "timesheets"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default=TimesheetStatus.DRAFT)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Issue 16: the approver a stand-in decided for (None: the decider used their own right).
    decided_for_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    # Bumped on every change of entries or status: an approval form carrying an older version is stale.
    version: Mapped[int] = mapped_column(Integer, default=1)
    posting_status: Mapped[str] = mapped_column(String(10), default=PostingStatus.NONE, server_default="none",
                                                index=True)
    # When the last posting job was asked for: the sweeper re-enqueues pending postings that went quiet.
    posting_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What the last posting skipped without an error (a missing rate), in words, for the approver and finance.
    posting_note: Mapped[str] = mapped_column(Text, default="", server_default="")

    resource: Mapped[Resource] = relationship()
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    decided_for: Mapped[User | None] = relationship(foreign_keys=[decided_for_id])
    entries: Mapped[list[TimeEntry]] = relationship(back_populates="timesheet", order_by="TimeEntry.work_date")

    __table_args__ = (
        UniqueConstraint("resource_id", "period_start"),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        # The approvals queue in its order (week, id), by status or of any status (issue 14); on PostgreSQL the
        # person is carried in the index, so the queue's capped count ("1,000+"), which leaves out the viewer's
        # own timesheets, is read from the index alone instead of a heap page per timesheet.
        Index("ix_timesheets_status_week", "status", "period_start", "id", postgresql_include=["resource_id"]),
        Index("ix_timesheets_week", "period_start", "id"),
    )

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[TimesheetStatus(self.status)]

    @property
    def total_hours(self) -> Decimal:
        return sum((e.hours for e in self.entries), Decimal("0"))


# Time sync (issue 5) ------------------------------------------------------------------------------------
class ConflictStatus(StrEnum):
    OPEN = "open"  # waiting for the approver
    ACCEPTED = "accepted"  # applied; the timesheet went back to submitted
    REJECTED = "rejected"  # the approved time stays as it was
    SUPERSEDED = "superseded"  # the tool changed the entry again (or back), or the change applied by itself


# Synced time that changes after approval is held, not applied: approved (and recalled) timesheets.
HELD_STATUSES = (TimesheetStatus.APPROVED, TimesheetStatus.RECALLED)
_OPEN_CONFLICT = text("status = 'open'")


class TimesheetConflict(Timestamps, db.Model):
    """A change a timesheet tool made to time on an approved timesheet ("changed in Toggl after approval").

    It is held for the approver: accepting sends the timesheet back to submitted and applies the change,
    rejecting keeps the approved time. One open conflict per synced entry; a later change replaces its
    proposal. `proposed` holds the entry's new values (none for a deletion), `current` the approved ones.
    """

    __tablename__ = "timesheet_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    timesheet_id: Mapped[int] = mapped_column(ForeignKey("timesheets.id", ondelete="CASCADE"), index=True)
    time_entry_id: Mapped[int | None] = mapped_column(ForeignKey("time_entries.id", ondelete="SET NULL"),
                                                      index=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(10))  # create | update | delete
    proposed: Mapped[dict | None] = mapped_column(JSON)
    current: Mapped[dict | None] = mapped_column(JSON)
    # The tool's version of the change: a rejected version is not raised again.
    external_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    summary: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(12), default=ConflictStatus.OPEN)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    timesheet: Mapped[Timesheet] = relationship()
    time_entry: Mapped[TimeEntry | None] = relationship()
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __table_args__ = (
        Index("uq_timesheet_conflicts_open_entry", "connection_id", "external_id", unique=True,
              sqlite_where=_OPEN_CONFLICT, postgresql_where=_OPEN_CONFLICT),
        Index("ix_timesheet_conflicts_entry", "connection_id", "external_id"),
    )


# Stand-in approvers and reminders (issue 16) -------------------------------------------------------------
class StandIn(Timestamps, db.Model):
    """Someone who sees and decides an approver's timesheets from `starts_on` to `ends_on` (inclusive, in the
    organization's timezone), as that approver could, never on their own. One approver's stand-ins do not
    overlap (ended ones aside); ending early sets `ended_at`."""

    __tablename__ = "stand_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    approver_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    stand_in_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    approver: Mapped[User] = relationship(foreign_keys=[approver_id])
    stand_in: Mapped[User] = relationship(foreign_keys=[stand_in_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    ended_by: Mapped[User | None] = relationship(foreign_keys=[ended_by_id])

    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="dates_ordered"),
        CheckConstraint("approver_id <> stand_in_id", name="not_self"),
    )

    def active_on(self, day: date) -> bool:
        return self.ended_at is None and self.starts_on <= day <= self.ends_on


class ReminderKind(StrEnum):
    WEEKLY = "weekly"  # the cron's email to the person
    ESCALATION = "escalation"  # the person listed in their approvers' digest
    MANUAL = "manual"  # an approver pressed Remind on the approvals list


_MANUAL = text("kind = 'manual'")
_NOT_MANUAL = text("kind <> 'manual'")


class TimesheetReminder(db.Model):
    """One reminder about one person's week. The cron's are unique per (resource, week, kind), so two cron
    processes, or a retried run, never send one twice; an approver's Remind is unique per person and day."""

    __tablename__ = "timesheet_reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    week_start: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(12))
    # The day it was sent, in the organization's timezone (a manual reminder: once a day per person).
    sent_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # What the reminder said: the hours found and expected, and the timesheet's state ("" when none existed).
    hours: Mapped[Decimal] = mapped_column(HOURS)
    expected: Mapped[Decimal] = mapped_column(HOURS)
    status: Mapped[str] = mapped_column(String(12), default="")
    # Who got it: the person (weekly, manual; empty when they turned reminders off) or the approvers (escalation).
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    resource: Mapped[Resource] = relationship()
    sent_by: Mapped[User | None] = relationship()

    __table_args__ = (
        Index("uq_timesheet_reminders_week", "resource_id", "week_start", "kind", unique=True,
              sqlite_where=_NOT_MANUAL, postgresql_where=_NOT_MANUAL),
        Index("uq_timesheet_reminders_manual_day", "resource_id", "sent_on", unique=True,
              sqlite_where=_MANUAL, postgresql_where=_MANUAL),
        Index("ix_timesheet_reminders_kind_week", "kind", "week_start"),
    )
