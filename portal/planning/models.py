"""Tasks and task types of a project, budget baselines (snapshots of offering budgets), resource requests."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.columns import HOURS, MONEY, Timestamps, UTCDateTime, utcnow
from portal.extensions import db

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.projects.models import Offering, Project, Resource


class TaskType(Timestamps, db.Model):
    """A kind of task on one project's task list (design, build, travel, ...)."""

    __tablename__ = "task_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (UniqueConstraint("project_id", "name"),)


class ProjectTask(Timestamps, db.Model):
    """A task of the project's plan; time and cost entries may name the task they were for."""

    __tablename__ = "project_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    task_type_id: Mapped[int | None] = mapped_column(ForeignKey("task_types.id", ondelete="SET NULL"))
    planned_hours: Mapped[Decimal] = mapped_column(HOURS, default=Decimal("0"))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    # Inactive tasks keep their history but take no new time or cost.
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    task_type: Mapped[TaskType | None] = relationship()

    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        CheckConstraint("planned_hours >= 0", name="planned_not_negative"),
        CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name="dates_ordered"),
    )


class Baseline(db.Model):
    """A named snapshot of the project's offering budgets, to compare today's plan with."""

    __tablename__ = "baselines"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    taken_by: Mapped[User | None] = relationship()
    lines: Mapped[list[BaselineLine]] = relationship(back_populates="baseline", cascade="all, delete-orphan",
                                                     order_by="BaselineLine.id")

    __table_args__ = (UniqueConstraint("project_id", "name"),)


class BaselineLine(db.Model):
    """One offering's budget as it was when the baseline was taken (the name is kept if it is deleted)."""

    __tablename__ = "baseline_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    baseline_id: Mapped[int] = mapped_column(ForeignKey("baselines.id", ondelete="CASCADE"), index=True)
    offering_id: Mapped[int | None] = mapped_column(ForeignKey("offerings.id", ondelete="SET NULL"))
    offering_name: Mapped[str] = mapped_column(String(200))
    sold_hours: Mapped[Decimal] = mapped_column(HOURS)
    planned_hours: Mapped[Decimal] = mapped_column(HOURS)
    fixed_fee: Mapped[Decimal | None] = mapped_column(MONEY)
    budget_amount: Mapped[Decimal | None] = mapped_column(MONEY)

    baseline: Mapped[Baseline] = relationship(back_populates="lines")
    offering: Mapped[Offering | None] = relationship()

    __table_args__ = (
        CheckConstraint("sold_hours >= 0 AND planned_hours >= 0", name="hours_not_negative"),
        CheckConstraint("budget_amount IS NULL OR budget_amount >= 0", name="budget_not_negative"),
    )


class RequestStatus(StrEnum):
    OPEN = "open"
    BOOKED = "booked"
    CANCELLED = "cancelled"


class ResourceRequest(Timestamps, db.Model):
    """A PM's request for someone's hours on the project; a scheduler answers it by booking."""

    __tablename__ = "resource_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    offering_id: Mapped[int | None] = mapped_column(ForeignKey("offerings.id", ondelete="SET NULL"))
    # The person asked for, when the PM has someone in mind; otherwise the role describes who is needed.
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resources.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(120), default="")
    hours: Mapped[Decimal] = mapped_column(HOURS)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default=RequestStatus.OPEN, index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    project: Mapped[Project] = relationship()
    offering: Mapped[Offering | None] = relationship()
    resource: Mapped[Resource | None] = relationship()
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])

    __table_args__ = (
        CheckConstraint("hours > 0", name="hours_positive"),
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
    )
