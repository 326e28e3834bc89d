"""Expenses: the cost side of seed 004's "time and cost" (cost cards)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.columns import MONEY, Timestamps
from portal.extensions import db

if TYPE_CHECKING:
    from portal.finance.models import CostCategory
    from portal.planning.models import ProjectTask
    from portal.projects.models import Project, Resource


class Expense(Timestamps, db.Model):
    """A cost a person incurred for a project on one date (travel, materials, a subcontractor invoice)."""

    __tablename__ = "expenses"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"))
    cost_category_id: Mapped[int] = mapped_column(ForeignKey("cost_categories.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("project_tasks.id", ondelete="SET NULL"))
    spent_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    description: Mapped[str] = mapped_column(Text, default="")
    billable: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    project: Mapped[Project] = relationship()
    resource: Mapped[Resource] = relationship()
    cost_category: Mapped[CostCategory] = relationship()
    task: Mapped[ProjectTask | None] = relationship()

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_expenses_resource_spent_on", "resource_id", "spent_on"),
    )
