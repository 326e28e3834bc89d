"""Cost categories and fiscal periods (financial items and transactions come with the posting rules)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.columns import Timestamps, UTCDateTime
from portal.extensions import db


class CostCategory(Timestamps, db.Model):
    __tablename__ = "cost_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    code: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"<CostCategory {self.id} {self.name}>"


class FiscalPeriod(Timestamps, db.Model):
    """A span of dates in the ledger; nothing is added, changed or deleted inside a locked one."""

    __tablename__ = "fiscal_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    start_date: Mapped[date] = mapped_column(Date, index=True)
    end_date: Mapped[date] = mapped_column(Date)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (CheckConstraint("end_date >= start_date", name="dates_ordered"),)

    @staticmethod
    def containing(session: Session, day: date) -> FiscalPeriod | None:
        return session.scalar(
            select(FiscalPeriod).where(FiscalPeriod.start_date <= day, FiscalPeriod.end_date >= day)
        )

    def __repr__(self) -> str:
        return f"<FiscalPeriod {self.name} {self.start_date}..{self.end_date}{' locked' if self.locked else ''}>"
