"""Cost categories and fiscal periods. Periods never overlap; locking and unlocking are audited."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit
from portal.auth import policy
from portal.auth.models import User
from portal.columns import utcnow
from portal.errors import Conflict, InvalidInput, NotFound
from portal.finance.models import CostCategory, FiscalPeriod


def _require_admin(actor: User | str | None) -> None:
    if isinstance(actor, User):
        policy.require(policy.can_manage_reference_data(actor), "Only admins can manage finance reference data.")


def create_cost_category(session: Session, actor: User | str | None, name: str, code: str = "") -> CostCategory:
    _require_admin(actor)
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Enter the cost category's name.", fields={"name": "Enter a name."})
    if session.scalar(select(CostCategory.id).where(CostCategory.name == name)):
        raise Conflict(f"The cost category {name} already exists.", fields={"name": "Already exists."})
    category = CostCategory(name=name, code=(code or "").strip())
    session.add(category)
    session.flush()
    audit.record(session, actor, "cost_category.created", category, after={"name": name, "code": category.code},
                 summary=f"Created cost category {name}")
    return category


def list_cost_categories(session: Session, include_inactive: bool = False) -> list[CostCategory]:
    query = select(CostCategory).order_by(CostCategory.name)
    if not include_inactive:
        query = query.where(CostCategory.active.is_(True))
    return list(session.scalars(query))


def create_fiscal_period(session: Session, actor: User | str | None, name: str, start_date: date,
                         end_date: date) -> FiscalPeriod:
    _require_admin(actor)
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Enter the period's name.", fields={"name": "Enter a name."})
    if start_date is None or end_date is None or end_date < start_date:
        raise InvalidInput("A fiscal period ends on or after its start.",
                           fields={"end_date": "Must not be before the start."})
    overlapping = session.scalar(select(FiscalPeriod).where(FiscalPeriod.start_date <= end_date,
                                                            FiscalPeriod.end_date >= start_date))
    if overlapping is not None:
        raise Conflict(f"Fiscal periods may not overlap: {overlapping.name} runs {overlapping.start_date} to "
                       f"{overlapping.end_date}.", fields={"start_date": "Overlaps another period."})
    if session.scalar(select(FiscalPeriod.id).where(FiscalPeriod.name == name)):
        raise Conflict(f"A fiscal period named {name} exists.", fields={"name": "Already exists."})
    period = FiscalPeriod(name=name, start_date=start_date, end_date=end_date)
    session.add(period)
    session.flush()
    audit.record(session, actor, "fiscal_period.created", period,
                 after={"name": name, "start_date": start_date, "end_date": end_date},
                 summary=f"Created fiscal period {name}")
    return period


def set_period_lock(session: Session, actor: User | str | None, period_id: int, locked: bool) -> FiscalPeriod:
    _require_admin(actor)
    period = session.get(FiscalPeriod, period_id)
    if period is None:
        raise NotFound("That fiscal period does not exist.")
    if period.locked == locked:
        return period
    period.locked = locked
    period.locked_at = utcnow() if locked else None
    period.locked_by_id = actor.id if locked and isinstance(actor, User) else None
    audit.record(session, actor, "fiscal_period.locked" if locked else "fiscal_period.unlocked", period,
                 before={"locked": not locked}, after={"locked": locked},
                 summary=f"{'Locked' if locked else 'Unlocked'} {period.name}")
    return period


def list_fiscal_periods(session: Session) -> list[FiscalPeriod]:
    return list(session.scalars(select(FiscalPeriod).order_by(FiscalPeriod.start_date)))
