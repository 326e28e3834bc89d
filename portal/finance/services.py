"""Finance reference data: cost categories and fiscal periods. Periods never overlap; a period is open, on
hold (reopenable) or closed (for good); every change, hold, reopening and closing is audited, and so is the
rule for actuals that would land in a period on hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import audit
from portal.auth import policy
from portal.auth.models import User
from portal.columns import utcnow
from portal.errors import Conflict, InvalidInput, NotFound, get_or_raise
from portal.finance import batches
from portal.finance.ledger import ZERO
from portal.finance.models import (
    LOCKED_RULE_LABELS,
    CostCategory,
    FinancialTransaction,
    FiscalPeriod,
    LockedPeriodActuals,
    PeriodState,
    UnpostedPortion,
    UnpostedReason,
)
from portal.formatting import money, plural
from portal.org.services import get_settings

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
    category = get_or_raise(session, CostCategory, category_id, "cost category")
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Enter the cost category's name.", fields={"name": "Enter a name."})
    if session.scalar(select(CostCategory.id).where(CostCategory.name == name, CostCategory.id != category_id)):
        raise Conflict(f"The cost category {name} already exists.", fields={"name": "Already exists."})
    audit.update(session, actor, category, {"name": name, "code": (code or "").strip(), "active": bool(active)},
                 "cost_category.updated", f"Changed cost category {name}")
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


def _period_for_change(session: Session, actor: User | str | None, period_id: int) -> FiscalPeriod:
    if isinstance(actor, User):
        policy.require(policy.can_lock_fiscal_periods(actor), "Only admins can change the state of fiscal periods.")
    # Row-locked: waits for postings that read this period (FOR SHARE) to commit, so none straddles the change.
    period = session.scalar(select(FiscalPeriod).where(FiscalPeriod.id == period_id).with_for_update()
                            .execution_options(populate_existing=True))
    if period is None:
        raise NotFound("That fiscal period does not exist.")
    if period.closed:
        raise Conflict(f"{period.name} is closed: a closed period cannot be reopened or changed, by anyone.")
    return period


def set_period_lock(session: Session, actor: User | str | None, period_id: int, locked: bool) -> FiscalPeriod:
    """Put a period on hold (nothing in it is then added, changed or deleted) or reopen it. Reopening starts a
    run that posts what the hold kept back and brings late postings of its days home."""
    period = _period_for_change(session, actor, period_id)
    if period.locked == locked:
        return period
    period.state = PeriodState.ON_HOLD if locked else PeriodState.OPEN
    period.locked_at = utcnow() if locked else None
    period.locked_by_id = actor.id if locked and isinstance(actor, User) else None
    session.flush()
    audit.record(session, actor, "fiscal_period.locked" if locked else "fiscal_period.unlocked", period,
                 before={"state": PeriodState.OPEN if locked else PeriodState.ON_HOLD}, after={"state": period.state},
                 summary=f"{'Put' if locked else 'Reopened'} {period.name}{' on hold' if locked else ''}")
    if not locked:
        batches.start_period_changed(session, actor, period)
    return period


@dataclass
class Holdings:
    """What a period holds, for the close confirmation and the periods page."""

    transactions: int = 0
    actual: Decimal = ZERO
    forecast: Decimal = ZERO
    held_portions: int = 0  # unposted portions waiting for it to reopen
    held_hours: Decimal = ZERO
    held_amount: Decimal = ZERO
    late_out: int = 0  # its money posted late in later periods
    late_out_amount: Decimal = ZERO
    late_in: int = 0  # late postings of locked periods dated in it
    late_in_amount: Decimal = ZERO


def holdings(session: Session, period_ids: list[int]) -> dict[int, Holdings]:
    """Per period: its transactions, its unposted portions held back, and late postings out of and into it
    (four grouped queries whatever the number of periods)."""
    result = {i: Holdings() for i in period_ids}
    if not period_ids:
        return result
    T, U = FinancialTransaction, UnpostedPortion
    for period_id, kind, count, amount in session.execute(
            select(T.fiscal_period_id, T.kind, func.count(), func.sum(T.amount))
            .where(T.fiscal_period_id.in_(period_ids)).group_by(T.fiscal_period_id, T.kind)):
        held = result[period_id]
        held.transactions += count
        setattr(held, kind, Decimal(amount or 0))
    for period_id, count, hours, amount in session.execute(
            select(U.fiscal_period_id, func.count(), func.sum(U.hours), func.sum(U.amount))
            .where(U.fiscal_period_id.in_(period_ids), U.reason == UnpostedReason.PERIOD_LOCKED)
            .group_by(U.fiscal_period_id)):
        result[period_id].held_portions, result[period_id].held_hours = count, Decimal(hours or 0)
        result[period_id].held_amount = Decimal(amount or 0)
    for column, count_name, amount_name in ((T.belongs_to_period_id, "late_out", "late_out_amount"),
                                            (T.fiscal_period_id, "late_in", "late_in_amount")):
        for period_id, count, amount in session.execute(
                select(column, func.count(), func.sum(T.amount))
                .where(column.in_(period_ids), T.belongs_to_period_id.is_not(None)).group_by(column)):
            setattr(result[period_id], count_name, count)
            setattr(result[period_id], amount_name, Decimal(amount or 0))
    return result


def close_period(session: Session, actor: User | str | None, period_id: int, confirm_name: str) -> FiscalPeriod:
    """Close a period for good: nobody reopens it. The actor confirms by typing its name. What it held back as
    unposted portions is posted late on the first open day after it (a run does it now), and so is anything
    that would land in it from now on."""
    period = _period_for_change(session, actor, period_id)
    if (confirm_name or "").strip() != period.name:
        raise InvalidInput(f"Closing is permanent: type the period's name ({period.name}) to confirm.",
                           fields={"confirm_name": f"Type {period.name}."})
    before = period.state
    held = holdings(session, [period.id])[period.id]
    now = utcnow()
    period.state, period.closed_at = PeriodState.CLOSED, now
    period.closed_by_id = actor.id if isinstance(actor, User) else None
    if before == PeriodState.OPEN:
        period.locked_at, period.locked_by_id = now, period.closed_by_id
    session.flush()
    audit.record(session, actor, "fiscal_period.closed", period, before={"state": before},
                 after={"state": period.state, "transactions": held.transactions, "actual": held.actual,
                        "held_portions": held.held_portions, "held_amount": held.held_amount},
                 summary=f"Closed {period.name} for good: {plural(held.transactions, 'transaction')} stay; "
                         f"{plural(held.held_portions, 'held-back portion')} ({money(held.held_amount)}) post late")
    batches.start_period_changed(session, actor, period)
    return period


def set_locked_period_rule(session: Session, actor: User | str | None, rule: str) -> bool:
    """Choose what happens to actuals that would land in a period on hold: kept as unposted portions until it
    is reopened (HOLD), or posted late on the first open day after it (NEXT_OPEN). A change brings every
    timesheet it concerns in line (a run). Returns whether anything changed."""
    if isinstance(actor, User):
        policy.require(policy.can_lock_fiscal_periods(actor), "Only admins can choose how locked periods post.")
    if rule not in set(LockedPeriodActuals):
        raise InvalidInput("Choose what happens to actuals of a period on hold.", fields={"rule": "Choose one."})
    settings = get_settings(session)
    if settings.locked_period_actuals == rule:
        return False
    before, settings.locked_period_actuals = settings.locked_period_actuals, rule
    session.flush()
    audit.record(session, actor, "finance.locked_period_rule_changed", settings,
                 before={"locked_period_actuals": before}, after={"locked_period_actuals": rule},
                 summary="Actuals of periods on hold: " + LOCKED_RULE_LABELS[LockedPeriodActuals(rule)])
    batches.start_rule_changed(session, actor)
    return True


def list_fiscal_periods(session: Session) -> list[FiscalPeriod]:
    return list(session.scalars(select(FiscalPeriod).order_by(FiscalPeriod.start_date)))
