"""Organization settings: one row, super-admin only, every change audited."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.columns import HOURS, Timestamps
from portal.extensions import db
from portal.finance.models import CostCategory, LockedPeriodActuals

SINGLETON_ID = 1


class HoursSource(StrEnum):
    SOLD = "sold"  # send the offering's sold hours to the timesheet tool
    CURRENT = "current"  # send its current planned hours


class OrgSettings(Timestamps, db.Model):
    __tablename__ = "org_settings"

    id: Mapped[int] = mapped_column(primary_key=True, default=SINGLETON_ID)
    name: Mapped[str] = mapped_column(String(200), default="Our consultancy")
    # Seed 002 section 7: per-person rates are pushed to Toggl only when this is on.
    assignment_level_budgeting: Mapped[bool] = mapped_column(Boolean, default=False)
    timesheet_hours_source: Mapped[str] = mapped_column(String(10), default=HoursSource.SOLD)
    # Seed 003: "Timesheet Finance Sync".
    finance_sync_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    finance_rate_type: Mapped[str] = mapped_column(String(10), default="cost")
    default_cost_category_id: Mapped[int | None] = mapped_column(
        ForeignKey("cost_categories.id", ondelete="SET NULL")
    )
    # 0 = Monday … 6 = Sunday, as date.weekday().
    week_start: Mapped[int] = mapped_column(Integer, default=0)
    # Issue 16: actuals that would land in a period on hold wait as unposted portions, or post late.
    locked_period_actuals: Mapped[str] = mapped_column(String(10), default=LockedPeriodActuals.HOLD,
                                                       server_default=LockedPeriodActuals.HOLD)
    # Issue 16: weekly reminders for missing and unsubmitted time, on a weekday and hour of PORTAL_TIMEZONE.
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reminder_weekday: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reminder_hour: Mapped[int] = mapped_column(Integer, default=9, server_default="9")
    # Hours a person is expected to log a week; a resource may override it (0: never logs time).
    expected_hours_per_week: Mapped[Decimal] = mapped_column(HOURS, default=Decimal("40"), server_default="40")
    # Days after the reminder before a still unsubmitted week is sent to the person's approvers.
    reminder_escalate_days: Mapped[int] = mapped_column(Integer, default=2, server_default="2")

    default_cost_category: Mapped[CostCategory | None] = relationship()

    __table_args__ = (
        CheckConstraint(f"id = {SINGLETON_ID}", name="singleton"),
        CheckConstraint("week_start BETWEEN 0 AND 6", name="week_start_range"),
        CheckConstraint("reminder_weekday BETWEEN 0 AND 6", name="reminder_weekday_range"),
        CheckConstraint("reminder_hour BETWEEN 0 AND 23", name="reminder_hour_range"),
        CheckConstraint("expected_hours_per_week >= 0 AND expected_hours_per_week <= 168", name="expected_hours_range"),
        CheckConstraint("reminder_escalate_days BETWEEN 1 AND 28", name="escalate_days_range"),
    )
