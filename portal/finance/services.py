"""Finance reference data: cost categories and fiscal periods. Periods never overlap; every change,
lock and unlock is audited."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import audit
from portal.auth import policy
from portal.auth.models import User
from portal.columns import utcnow
from portal.errors import Conflict, InvalidInput, NotFound
from portal.finance import batches
from portal.finance.models import CostCategory, FinancialTransaction, FiscalPeriod, UnpostedPortion

MAX_PERIOD_DAYS = 550


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


def update_cost_category(session: Session, actor: User | str | None, category_id: int, *, name: str, code: str,
                         active: bool) -> CostCategory:
    """Rename or (de)activate a category. Inactive ones leave the choice lists; what uses them keeps them."""
    _require_admin(actor)
    category = session.get(CostCategory, category_id)
    if category is None:
        raise NotFound("That cost category does not exist.")
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Enter the cost category's name.", fields={"name": "Enter a name."})
    if session.scalar(select(CostCategory.id).where(CostCategory.name == name, CostCategory.id != category_id)):
        raise Conflict(f"The cost category {name} already exists.", fields={"name": "Already exists."})
    fields = ["name", "code", "active"]
    before = audit.snapshot(category, fields)
    category.name, category.code, category.active = name, (code or "").strip(), bool(active)
    session.flush()
    old, new = audit.changes(before, audit.snapshot(category, fields))
    if new:
        audit.record(session, actor, "cost_category.updated", category, before=old, after=new,
                     summary=f"Changed cost category {category.name}")
    return category


def create_fiscal_period(session: Session, actor: User | str | None, name: str, start_date: date,
                         end_date: date) -> FiscalPeriod:
    """A new, open period. Periods never overlap (checked here; on PostgreSQL also by an EXCLUDE constraint
    that settles two creations racing). Transactions already dated inside it are filed under it."""
    _require_admin(actor)
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Enter the period's name.", fields={"name": "Enter a name."})
    if start_date is None or end_date is None or end_date < start_date:
        raise InvalidInput("A fiscal period ends on or after its start.",
                           fields={"end_date": "Must not be before the start."})
    if (end_date - start_date).days > MAX_PERIOD_DAYS:
        raise InvalidInput("A fiscal period is at most a year and a half long.", fields={"end_date": "Too far."})
    overlapping = session.scalar(select(FiscalPeriod).where(FiscalPeriod.start_date <= end_date,
                                                            FiscalPeriod.end_date >= start_date))
    if overlapping is not None:
        raise Conflict(f"Fiscal periods may not overlap: {overlapping.name} runs {overlapping.start_date:%d %b %Y} "
                       f"to {overlapping.end_date:%d %b %Y}.", fields={"start_date": "Overlaps another period."})
    if session.scalar(select(FiscalPeriod.id).where(FiscalPeriod.name == name)):
        raise Conflict(f"A fiscal period named {name} exists.", fields={"name": "Already exists."})
    period = FiscalPeriod(name=name, start_date=start_date, end_date=end_date)
    try:
        with session.begin_nested():
            session.add(period)
    except IntegrityError:
        raise Conflict("Another fiscal period covering these dates (or with this name) was created just now; "
                       "reload the list.", fields={"start_date": "Overlaps another period."}) from None
    for model in (FinancialTransaction, UnpostedPortion):
        date_column = model.date if model is FinancialTransaction else model.end_date
        session.execute(update(model).where(date_column >= start_date, date_column <= end_date)
                        .values(fiscal_period_id=period.id).execution_options(synchronize_session=False))
    audit.record(session, actor, "fiscal_period.created", period,
                 after={"name": name, "start_date": start_date, "end_date": end_date},
                 summary=f"Created fiscal period {name}")
    return period


def set_period_lock(session: Session, actor: User | str | None, period_id: int, locked: bool) -> FiscalPeriod:
    """Lock (nothing in the period is then added, changed or deleted) or unlock a period. Unlocking starts
    a run that posts what the lock held back and removes what recalls left behind."""
    if isinstance(actor, User):
        policy.require(policy.can_lock_fiscal_periods(actor), "Only admins can lock or unlock fiscal periods.")
    # Row-locked: waits for postings that read this period (FOR SHARE) to commit, so none straddles the change.
    period = session.scalar(select(FiscalPeriod).where(FiscalPeriod.id == period_id).with_for_update()
                            .execution_options(populate_existing=True))
    if period is None:
        raise NotFound("That fiscal period does not exist.")
    if period.locked == locked:
        return period
    period.locked = locked
    period.locked_at = utcnow() if locked else None
    period.locked_by_id = actor.id if locked and isinstance(actor, User) else None
    session.flush()
    audit.record(session, actor, "fiscal_period.locked" if locked else "fiscal_period.unlocked", period,
                 before={"locked": not locked}, after={"locked": locked},
                 summary=f"{'Locked' if locked else 'Unlocked'} {period.name}")
    if not locked:
        batches.start_period_unlocked(session, actor, period)
    return period


def list_fiscal_periods(session: Session) -> list[FiscalPeriod]:
    return list(session.scalars(select(FiscalPeriod).order_by(FiscalPeriod.start_date)))
