"""Organization settings: one row, super-admin only, every change audited."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.columns import Timestamps
from portal.extensions import db
from portal.finance.models import CostCategory

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

    default_cost_category: Mapped[CostCategory | None] = relationship()

    __table_args__ = (
        CheckConstraint(f"id = {SINGLETON_ID}", name="singleton"),
        CheckConstraint("week_start BETWEEN 0 AND 6", name="week_start_range"),
    )
