"""The project ledger: cost categories, fiscal periods, financial items and their transactions.

An item is one resource's money on one project under one cost category; its transactions are actuals
(posted from approved timesheets) and forecasts (from bookings). A transaction inside a locked fiscal
period (on hold or closed) is never added, changed or deleted; a portion that would land there is kept
as an unposted portion until the period opens, or posted late in the next open period (the finance
setting `locked_period_actuals`; always so for a closed period, which never opens again).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.columns import HOURS, MONEY, Timestamps, UTCDateTime, utcnow
from portal.extensions import db

if TYPE_CHECKING:
    from portal.projects.models import Offering, Project, Resource
    from portal.timesheets.models import Timesheet


class CostCategory(Timestamps, db.Model):
    __tablename__ = "cost_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    code: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"<CostCategory {self.id} {self.name}>"


class PeriodState(StrEnum):
    OPEN = "open"
    ON_HOLD = "on_hold"  # locked, can be reopened
    CLOSED = "closed"  # locked for good: nobody reopens it


PERIOD_STATE_LABELS = {PeriodState.OPEN: "Open", PeriodState.ON_HOLD: "On hold", PeriodState.CLOSED: "Closed"}


class LockedPeriodActuals(StrEnum):
    """What happens to actuals that would land in a period on hold (a closed period always posts late)."""

    HOLD = "hold"  # kept as unposted portions until the period is reopened
    NEXT_OPEN = "next_open"  # posted on the first day of the next open period, naming the period they belong to


LOCKED_RULE_LABELS = {
    LockedPeriodActuals.HOLD: "keep them as unposted portions until the period is reopened",
    LockedPeriodActuals.NEXT_OPEN: "post them on the first day of the next open period, noting the period they "
                                   "belong to",
}


class FiscalPeriod(Timestamps, db.Model):
    """A span of dates in the ledger: open, on hold or closed. Nothing is added, changed or deleted inside a
    locked one (on hold or closed); a period on hold can be reopened, a closed one never.

    Periods never overlap: the service checks, and on PostgreSQL an EXCLUDE constraint on the date range
    settles concurrent creations (migration 0004_finance).
    """

    __tablename__ = "fiscal_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    start_date: Mapped[date] = mapped_column(Date, index=True)
    end_date: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(10), default=PeriodState.OPEN, server_default=PeriodState.OPEN)
    # When and by whom it was last locked (put on hold or closed); None while open.
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        CheckConstraint("state IN ('open', 'on_hold', 'closed')", name="state_known"),
    )

    @hybrid_property
    def locked(self) -> bool:
        """On hold or closed: the ledger inside does not change (also usable in queries)."""
        return self.state != PeriodState.OPEN

    @property
    def closed(self) -> bool:
        return self.state == PeriodState.CLOSED

    @property
    def state_label(self) -> str:
        return PERIOD_STATE_LABELS[PeriodState(self.state)]

    @staticmethod
    def containing(session: Session, day: date) -> FiscalPeriod | None:
        return session.scalar(
            select(FiscalPeriod).where(FiscalPeriod.start_date <= day, FiscalPeriod.end_date >= day)
        )

    def __repr__(self) -> str:
        return f"<FiscalPeriod {self.name} {self.start_date}..{self.end_date} {self.state}>"


class TransactionKind(StrEnum):
    ACTUAL = "actual"  # approved timesheet hours × rate
    FORECAST = "forecast"  # booked hours × rate


class FinancialItem(Timestamps, db.Model):
    """A resource's line in a project's financials under one cost category (seed 003).

    Unique per (project, resource, cost category): actuals and forecasts of the same person and category
    always share one item, whichever was created first.
    """

    __tablename__ = "financial_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    cost_category_id: Mapped[int] = mapped_column(ForeignKey("cost_categories.id"))
    # The resource's name when the item was created (seed 003: "a financial item sharing the resource's name").
    name: Mapped[str] = mapped_column(String(200))

    project: Mapped[Project] = relationship()
    resource: Mapped[Resource] = relationship()
    cost_category: Mapped[CostCategory] = relationship()

    __table_args__ = (UniqueConstraint("project_id", "resource_id", "cost_category_id"),)


class FinancialTransaction(db.Model):
    """One amount on an item, dated inside (at most) one fiscal period.

    `posting_key` names what the transaction stands for (a timesheet's project portion in one fiscal
    period, or a month of forecast); it is unique, so a repeated or concurrent posting cannot double it.
    """

    __tablename__ = "financial_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("financial_items.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    date: Mapped[date] = mapped_column(Date, index=True)
    hours: Mapped[Decimal] = mapped_column(HOURS)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    fiscal_period_id: Mapped[int | None] = mapped_column(ForeignKey("fiscal_periods.id", ondelete="SET NULL"),
                                                         index=True)
    timesheet_id: Mapped[int | None] = mapped_column(ForeignKey("timesheets.id", ondelete="SET NULL"), index=True)
    posting_key: Mapped[str] = mapped_column(String(120), unique=True)
    # Why a transaction is one part of a split, or why it was posted late (shown as a tooltip); empty otherwise.
    split_note: Mapped[str] = mapped_column(Text, default="")
    # The resource rate its amount was computed at (cost | sell, the organization's rate type then): after
    # the rate type changes, the ledger says which amounts are which until open periods are re-posted.
    rate_type: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A late posting (issue 16): the locked period the money belongs to; it is dated in the next open one.
    belongs_to_period_id: Mapped[int | None] = mapped_column(
        ForeignKey("fiscal_periods.id", ondelete="SET NULL"), index=True)

    item: Mapped[FinancialItem] = relationship()
    fiscal_period: Mapped[FiscalPeriod | None] = relationship(foreign_keys=[fiscal_period_id])
    belongs_to_period: Mapped[FiscalPeriod | None] = relationship(foreign_keys=[belongs_to_period_id])
    timesheet: Mapped[Timesheet | None] = relationship()
    lines: Mapped[list[FinancialTransactionLine]] = relationship(
        back_populates="transaction", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        Index("ix_financial_transactions_item_kind", "item_id", "kind"),
        # Finance → Actuals newest first, of one kind (issue 14).
        Index("ix_financial_transactions_kind_date", "kind", "date", "id"),
        # What the ledger holds at the other rate type (Finance → Actuals): a few rows, not the whole ledger.
        Index("ix_financial_transactions_rate_type", "rate_type"),
    )


class LedgerTotal(db.Model):
    """The ledger's count, hours and amount per kind and fiscal period (`period_key`: its id, 0 for none).

    `ledger.reconcile`, the one place transactions are added or removed, keeps these in the same transaction,
    so the organization's totals (Finance → Actuals) read a few rows whatever the ledger holds (issue 14).
    """

    __tablename__ = "ledger_totals"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    period_key: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=0)
    hours: Mapped[Decimal] = mapped_column(Numeric(16, 4), default=Decimal("0"))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=Decimal("0"))

    __table_args__ = (UniqueConstraint("kind", "period_key"),)


class FinancialTransactionLine(db.Model):
    """A transaction's share per offering, so budgets (which belong to offerings) meet their actuals."""

    __tablename__ = "financial_transaction_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("financial_transactions.id", ondelete="CASCADE"),
                                                index=True)
    offering_id: Mapped[int | None] = mapped_column(ForeignKey("offerings.id", ondelete="SET NULL"), index=True)
    hours: Mapped[Decimal] = mapped_column(HOURS)
    amount: Mapped[Decimal] = mapped_column(MONEY)

    transaction: Mapped[FinancialTransaction] = relationship(back_populates="lines")
    offering: Mapped[Offering | None] = relationship()


class UnpostedReason(StrEnum):
    PERIOD_LOCKED = "period_locked"
    NO_COST_CATEGORY = "no_cost_category"


UNPOSTED_LABELS = {
    UnpostedReason.PERIOD_LOCKED: "Not posted: period on hold",
    UnpostedReason.NO_COST_CATEGORY: "Not posted: no cost category",
}


class UnpostedPortion(db.Model):
    """Money an approved timesheet should have posted but could not (yet); the current state, not a log.

    Re-posting the timesheet (after an unlock, or once a cost category exists) posts it and removes the row.
    """

    __tablename__ = "unposted_portions"

    id: Mapped[int] = mapped_column(primary_key=True)
    timesheet_id: Mapped[int] = mapped_column(ForeignKey("timesheets.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    cost_category_id: Mapped[int | None] = mapped_column(ForeignKey("cost_categories.id", ondelete="SET NULL"))
    fiscal_period_id: Mapped[int | None] = mapped_column(ForeignKey("fiscal_periods.id", ondelete="SET NULL"),
                                                         index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(HOURS)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    reason: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text, default="")
    posting_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    project: Mapped[Project] = relationship()
    resource: Mapped[Resource] = relationship()
    fiscal_period: Mapped[FiscalPeriod | None] = relationship()
    timesheet: Mapped[Timesheet] = relationship()

    @property
    def label(self) -> str:
        return UNPOSTED_LABELS.get(UnpostedReason(self.reason), self.reason)
