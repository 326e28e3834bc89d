"""Clients, CRM deals, projects and their offerings, resources with rates, assignments and bookings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

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
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.columns import HOURS, MONEY, RATE, Timestamps
from portal.extensions import db
from portal.stages.models import EngagementType, Stage

if TYPE_CHECKING:
    from portal.auth.models import User


class Client(Timestamps, db.Model):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Lower-cased, punctuation and legal suffixes removed: two CRM records of one company share it.
    normalized_name: Mapped[str] = mapped_column(String(200), index=True)
    crm_id: Mapped[str | None] = mapped_column(String(100), unique=True)

    projects: Mapped[list[Project]] = relationship(back_populates="client")

    # The client list and the client lookup, in name order a page at a time (issue 14).
    __table_args__ = (Index("ix_clients_name", "name", "id"),)

    def __repr__(self) -> str:
        return f"<Client {self.id} {self.name}>"


class DealStage(StrEnum):
    PROSPECTING = "prospecting"
    QUALIFICATION = "qualification"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    CLOSED_WON = "closed_won"
    CLOSED_LOST = "closed_lost"


DEAL_STAGE_LABELS = {
    DealStage.PROSPECTING: "Prospecting",
    DealStage.QUALIFICATION: "Qualification",
    DealStage.PROPOSAL: "Proposal",
    DealStage.NEGOTIATION: "Negotiation",
    DealStage.CLOSED_WON: "Closed Won",
    DealStage.CLOSED_LOST: "Closed Lost",
}


class Deal(Timestamps, db.Model):
    """A CRM deal. Reaching Closed Won makes its project Active and its offerings Sold."""

    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"), index=True)
    stage: Mapped[str] = mapped_column(String(20), default=DealStage.PROSPECTING)
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    crm_id: Mapped[str | None] = mapped_column(String(100), unique=True)

    client: Mapped[Client] = relationship()
    project: Mapped[Project | None] = relationship(back_populates="deals")


class Project(Timestamps, db.Model):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str | None] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    engagement_type_id: Mapped[int] = mapped_column(ForeignKey("engagement_types.id"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"), index=True)
    # Active = won (seed 000: "moved to Active Projects by moving it to Closed Won in your CRM").
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    pm_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    # None follows the stage's percent likelihood; a number is the PM's override.
    percent_likelihood: Mapped[int | None] = mapped_column(Integer)
    default_cost_category_id: Mapped[int | None] = mapped_column(
        ForeignKey("cost_categories.id", ondelete="SET NULL")
    )
    description: Mapped[str] = mapped_column(Text, default="")
    # Stage editor (issue 3) ---------------------------------------------------------------------------
    # Project options the stage may let people change (seed 004 "Allow changes to ..."). None follows
    # the stage; policy.entry_open reads them only while the stage allows changes, so moving into a
    # stage that does not brings its own setting back without losing what was chosen.
    open_for_time: Mapped[bool | None] = mapped_column(Boolean)
    open_for_time_transfer: Mapped[bool | None] = mapped_column(Boolean)
    open_for_cost: Mapped[bool | None] = mapped_column(Boolean)
    open_for_cost_transfer: Mapped[bool | None] = mapped_column(Boolean)
    # Who may enter time / costs: "anyone" or "assigned" (people on one of the project's offerings).
    time_entry_by: Mapped[str] = mapped_column(String(10), default="anyone", server_default="anyone")
    time_descriptions_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    cost_entry_by: Mapped[str] = mapped_column(String(10), default="anyone", server_default="anyone")
    # The CRM estimate (seed 004 "Base projections on: estimates"), kept from the deals while the stage
    # allows CRM updates.
    estimate_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    estimate_start: Mapped[date | None] = mapped_column(Date)
    estimate_end: Mapped[date | None] = mapped_column(Date)
    # Client workspace: sections that exist, and those client users may see (None: the defaults).
    workspace_sections: Mapped[list[str] | None] = mapped_column(JSON)
    workspace_client_sections: Mapped[list[str] | None] = mapped_column(JSON)

    client: Mapped[Client] = relationship(back_populates="projects")
    engagement_type: Mapped[EngagementType] = relationship()
    stage: Mapped[Stage] = relationship()
    pm: Mapped[User | None] = relationship(foreign_keys=[pm_id])
    team: Mapped[list[ProjectManager]] = relationship(back_populates="project", cascade="all, delete-orphan")
    offerings: Mapped[list[Offering]] = relationship(
        back_populates="project", order_by="Offering.id", cascade="all, delete-orphan"
    )
    deals: Mapped[list[Deal]] = relationship(back_populates="project")

    __table_args__ = (
        CheckConstraint("percent_likelihood IS NULL OR (percent_likelihood BETWEEN 0 AND 100)",
                        name="likelihood_range"),
        CheckConstraint("time_entry_by IN ('anyone', 'assigned') AND cost_entry_by IN ('anyone', 'assigned')",
                        name="entry_by_values"),
        # The project list and the project lookups, in name order a page at a time (issue 14).
        Index("ix_projects_name", "name", "id"),
    )

    @property
    def likelihood(self) -> int:
        return self.percent_likelihood if self.percent_likelihood is not None else self.stage.flag("percent_likelihood")

    @property
    def is_closed(self) -> bool:
        return self.stage.is_closed

    def pm_team_ids(self) -> set[int]:
        """The PM and everyone on the PM team ("can act as PM")."""
        ids = {m.user_id for m in self.team}
        if self.pm_id:
            ids.add(self.pm_id)
        return ids

    def __repr__(self) -> str:
        return f"<Project {self.id} {self.name}>"


class ProjectCostCategory(db.Model):
    """A cost category a project accepts expenses in; a project with none listed accepts every category
    (seed 004 "other cost entry settings": which expense types are available)."""

    __tablename__ = "project_cost_categories"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    cost_category_id: Mapped[int] = mapped_column(ForeignKey("cost_categories.id", ondelete="CASCADE"),
                                                  primary_key=True)


class ProjectManager(db.Model):
    """A member of the project's PM team (seed 004: engagement manager, PM, "can act as PM")."""

    __tablename__ = "project_managers"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    project: Mapped[Project] = relationship(back_populates="team")
    user: Mapped[User] = relationship()

    __table_args__ = (UniqueConstraint("project_id", "user_id"),)


class BillingModel(StrEnum):
    TIME_AND_MATERIALS = "time_and_materials"
    FIXED_BID = "fixed_bid"
    RETAINER = "retainer"
    INTERNAL = "internal"
    TIME_OFF = "time_off"


BILLING_MODEL_LABELS = {
    BillingModel.TIME_AND_MATERIALS: "Time & Materials",
    BillingModel.FIXED_BID: "Fixed Bid",
    BillingModel.RETAINER: "Retainer",
    BillingModel.INTERNAL: "Internal",
    BillingModel.TIME_OFF: "Time Off",
}
BILLABLE_MODELS = {BillingModel.TIME_AND_MATERIALS, BillingModel.FIXED_BID, BillingModel.RETAINER}


class SaleStatus(StrEnum):
    SOLD = "sold"
    PRE_SALE = "pre_sale"


class Offering(Timestamps, db.Model):
    """A sold piece of a project (a project offering): billing model, hours, fee and budget."""

    __tablename__ = "offerings"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    billing_model: Mapped[str] = mapped_column(String(30), default=BillingModel.TIME_AND_MATERIALS)
    sold_hours: Mapped[Decimal] = mapped_column(HOURS, default=Decimal("0"))
    planned_hours: Mapped[Decimal] = mapped_column(HOURS, default=Decimal("0"))
    fixed_fee: Mapped[Decimal | None] = mapped_column(MONEY)
    # The money budget actuals are measured against (budget alerts, Finance tab).
    budget_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    sale_status: Mapped[str] = mapped_column(String(20), default=SaleStatus.PRE_SALE)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)

    project: Mapped[Project] = relationship(back_populates="offerings")
    deal: Mapped[Deal | None] = relationship()
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="offering", cascade="all, delete-orphan", order_by="Assignment.id"
    )

    __table_args__ = (
        CheckConstraint("sold_hours >= 0 AND planned_hours >= 0", name="hours_not_negative"),
        CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name="dates_ordered"),
    )

    @property
    def is_billable(self) -> bool:
        return self.billing_model in BILLABLE_MODELS

    @property
    def is_sold(self) -> bool:
        return self.sale_status == SaleStatus.SOLD

    def __repr__(self) -> str:
        return f"<Offering {self.id} {self.name}>"


class Resource(Timestamps, db.Model):
    """A person who works and is billed. The email is the key for matching in timesheet tools."""

    __tablename__ = "resources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    title: Mapped[str] = mapped_column(String(120), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), unique=True)
    default_cost_category_id: Mapped[int | None] = mapped_column(
        ForeignKey("cost_categories.id", ondelete="SET NULL")
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Issue 16: hours expected a week for timesheet reminders; None: the organization's, 0: never logs time.
    expected_hours_per_week: Mapped[Decimal | None] = mapped_column(HOURS)
    # Issue 13: the IANA time zone the person works in (synced time is dated by its start there); None: the
    # organization's (PORTAL_TIMEZONE).
    time_zone: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User | None] = relationship()
    rates: Mapped[list[ResourceRate]] = relationship(
        back_populates="resource", cascade="all, delete-orphan", order_by="ResourceRate.effective_from"
    )

    # The people list and the people lookup, in name order a page at a time (issue 14).
    __table_args__ = (Index("ix_resources_name", "name", "id"),)

    def __repr__(self) -> str:
        return f"<Resource {self.id} {self.email}>"


class RateType(StrEnum):
    COST = "cost"
    SELL = "sell"


class ResourceRate(db.Model):
    """An hourly cost or sell rate, effective from a date until the next rate of the same type."""

    __tablename__ = "resource_rates"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    rate_type: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal] = mapped_column(RATE)
    effective_from: Mapped[date] = mapped_column(Date)

    resource: Mapped[Resource] = relationship(back_populates="rates")

    __table_args__ = (
        UniqueConstraint("resource_id", "rate_type", "effective_from"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )


class Assignment(Timestamps, db.Model):
    """A resource on an offering with a bill rate. `passive` when created because they logged time."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offerings.id", ondelete="CASCADE"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(120), default="")
    bill_rate: Mapped[Decimal | None] = mapped_column(RATE)
    planned_hours: Mapped[Decimal] = mapped_column(HOURS, default=Decimal("0"))
    passive: Mapped[bool] = mapped_column(Boolean, default=False)

    offering: Mapped[Offering] = relationship(back_populates="assignments")
    resource: Mapped[Resource] = relationship()

    __table_args__ = (
        UniqueConstraint("offering_id", "resource_id"),
        CheckConstraint("bill_rate IS NULL OR bill_rate >= 0", name="rate_not_negative"),
        CheckConstraint("planned_hours >= 0", name="planned_not_negative"),
    )


class BookingMode(StrEnum):
    DAY = "day"
    WEEK = "week"


class Booking(Timestamps, db.Model):
    """Scheduled hours of a resource on a project, on one day or in one week (`on` = the week's start)."""

    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    offering_id: Mapped[int | None] = mapped_column(ForeignKey("offerings.id", ondelete="SET NULL"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4), default=BookingMode.DAY)
    on: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(HOURS)

    project: Mapped[Project] = relationship()
    offering: Mapped[Offering | None] = relationship()
    resource: Mapped[Resource] = relationship()

    __table_args__ = (
        UniqueConstraint("project_id", "resource_id", "mode", "on"),
        CheckConstraint("hours > 0 AND hours <= 168", name="hours_range"),
        Index("ix_bookings_resource_on", "resource_id", "on"),
    )

