"""Engagement types and their ordered project stages."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.columns import MONEY, Timestamps, UTCDateTime, utcnow
from portal.extensions import db
from portal.stages import registry


class EngagementType(Timestamps, db.Model):
    """A line of business with its own stage workflow; exactly one is the default."""

    __tablename__ = "engagement_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

    stages: Mapped[list[Stage]] = relationship(
        back_populates="engagement_type", order_by="Stage.position", cascade="all, delete-orphan"
    )


class Stage(Timestamps, db.Model):
    __tablename__ = "stages"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_type_id: Mapped[int] = mapped_column(ForeignKey("engagement_types.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Values of registry.SETTINGS by key; a key missing here reads as the registry default.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    engagement_type: Mapped[EngagementType] = relationship(back_populates="stages")

    __table_args__ = (UniqueConstraint("engagement_type_id", "name"),)

    def flag(self, key: str) -> Any:
        setting = registry.BY_KEY[key]  # a KeyError here is a typo in code, not bad data
        return (self.settings or {}).get(key, setting.default)

    @property
    def is_closed(self) -> bool:
        return bool(self.flag("consider_closed"))

    @property
    def is_in_progress(self) -> bool:
        return bool(self.flag("in_progress"))

    def __repr__(self) -> str:
        return f"<Stage {self.id} {self.name}>"


class BudgetAlert(db.Model):
    """A budget alert that was sent: an offering's budget use reached `threshold` % of `budget_amount`.

    Unique per (offering, threshold, basis, budget): a repeated or concurrent check sends it once, and
    raising the budget (or measuring it on another basis) arms the thresholds again. On the hours basis
    `budget_amount` and `used_amount` are hours.
    """

    __tablename__ = "budget_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offerings.id", ondelete="CASCADE"))
    threshold: Mapped[int] = mapped_column(Integer)
    budget_amount: Mapped[Decimal] = mapped_column(MONEY)
    used_amount: Mapped[Decimal] = mapped_column(MONEY)
    # What the figure measured (portal.timesheets.actuals.BudgetBasis): revenue, cost or hours.
    basis: Mapped[str] = mapped_column(String(10))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("offering_id", "threshold", "basis", "budget_amount"),)
