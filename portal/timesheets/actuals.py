"""Offering actuals computed from time entries: hours, cost and revenue.

- cost = hours × the resource's cost rate effective on the work date;
- revenue (billable entries of billable offerings) = hours × the entry's bill rate, else the assignment's,
  else the resource's sell rate on the work date; fixed-bid and retainer offerings earn their effective
  rate instead (portal.projects.rates.fixed_fee_rate: the fee ÷ the hours of the Timesheet Hours Source);
- internal and time-off offerings earn nothing.

Hours without a cost rate on their date are counted in `unpriced_hours` (their cost is unknown, not 0 by
choice).

Budget use (issue 15 item 17) is one figure wherever it shows (the budget alert emails, the Finance tab, the
client workspace), measured by `budget_use`: all time entered (approved or not); against a money budget, the
revenue of billable offerings and the cost of internal ones; an offering without a money budget is measured
in hours against its hours by the Hours Source setting (sold or current), as its timesheet tool is told.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.columns import ZERO
from portal.org.services import get_settings
from portal.projects.models import BILLABLE_MODELS, Offering, RateType
from portal.projects.rates import FEE_MODELS, RateBook, fixed_fee_rate, source_hours, to_cents
from portal.timesheets.models import TimeEntry


@dataclass(frozen=True)
class Actuals:
    hours: Decimal = ZERO
    billable_hours: Decimal = ZERO
    cost: Decimal = ZERO
    revenue: Decimal = ZERO
    unpriced_hours: Decimal = ZERO


def offering_actuals(session: Session, offering_ids: list[int] | set[int]) -> dict[int, Actuals]:
    """Actuals of each offering (every id given gets an entry; offerings without time get zeros)."""
    return {offering_id: _totals(by_day) for offering_id, by_day in _valued(session, offering_ids).items()}


def offering_actuals_by_day(session: Session, offering_ids: list[int] | set[int]) -> dict[int, dict[date, Actuals]]:
    """Each offering's actuals per work date (the burn-up charts add them up week by week)."""
    return {offering_id: {day: _totals({day: values}) for day, values in by_day.items()}
            for offering_id, by_day in _valued(session, offering_ids).items()}


def _totals(by_day: dict[date, dict[str, Decimal]]) -> Actuals:
    total: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for values in by_day.values():
        for key, value in values.items():
            total[key] += value
    return Actuals(hours=total["hours"], billable_hours=total["billable_hours"],
                   unpriced_hours=total["unpriced_hours"],
                   cost=to_cents(total["cost"]), revenue=to_cents(total["revenue"]))


def _valued(session: Session, offering_ids: list[int] | set[int]) -> dict[int, dict[date, dict[str, Decimal]]]:
    """Each offering's time valued by the rules above, per work date: {offering: {day: {measure: value}}}."""
    ids = set(offering_ids)
    if not ids:
        return {}
    offerings = {o.id: o for o in session.scalars(
        select(Offering).where(Offering.id.in_(ids)).options(selectinload(Offering.assignments)))}
    # One row per (offering, person, day, billable, rate): far fewer than entries, summed by the database.
    rows = session.execute(
        select(TimeEntry.offering_id, TimeEntry.resource_id, TimeEntry.work_date, TimeEntry.billable,
               TimeEntry.bill_rate, func.sum(TimeEntry.hours))
        .where(TimeEntry.offering_id.in_(ids))
        .group_by(TimeEntry.offering_id, TimeEntry.resource_id, TimeEntry.work_date, TimeEntry.billable,
                  TimeEntry.bill_rate)
    ).all()
    people = {row[1] for row in rows}
    cost_rates = RateBook.load(session, people, RateType.COST)
    sell_rates = RateBook.load(session, people, RateType.SELL)
    hours_source = get_settings(session).timesheet_hours_source
    days: dict[int, dict[date, dict[str, Decimal]]] = {i: defaultdict(lambda: defaultdict(lambda: ZERO)) for i in ids}
    for offering_id, resource_id, work_date, billable, entry_rate, hours in rows:
        offering = offerings[offering_id]
        hours = Decimal(hours)
        total = days[offering_id][work_date]
        total["hours"] += hours
        cost_rate = cost_rates.on(resource_id, work_date)
        if cost_rate is None:
            total["unpriced_hours"] += hours
        else:
            total["cost"] += hours * cost_rate
        if not billable or offering.billing_model not in BILLABLE_MODELS:
            continue
        total["billable_hours"] += hours
        if offering.billing_model in FEE_MODELS:
            rate = fixed_fee_rate(offering, hours_source) or ZERO
        else:
            assignment = next((a for a in offering.assignments if a.resource_id == resource_id), None)
            rate = next((r for r in (entry_rate, assignment.bill_rate if assignment else None,
                                     sell_rates.on(resource_id, work_date)) if r is not None), ZERO)
        total["revenue"] += hours * rate
    return days


# Budget use ---------------------------------------------------------------------------------------------
class BudgetBasis(StrEnum):
    REVENUE = "revenue"
    COST = "cost"
    HOURS = "hours"


BASIS_WORDS = {
    BudgetBasis.REVENUE: "the revenue of all time entered (approved or not) against the money budget",
    BudgetBasis.COST: "the cost of all time entered (approved or not) against the money budget",
    BudgetBasis.HOURS: "all hours entered (approved or not) against the {source} hours",
}


@dataclass(frozen=True)
class BudgetUse:
    """How much of an offering's budget its time has used, and on what basis."""

    basis: BudgetBasis
    budget: Decimal | None  # money, or hours for the hours basis; None: the offering has no budget
    used: Decimal
    hours_source: str = "sold"

    @property
    def in_hours(self) -> bool:
        return self.basis == BudgetBasis.HOURS

    @property
    def percent(self) -> Decimal | None:
        if not self.budget:
            return None
        return (self.used * 100 / self.budget).quantize(Decimal("1"), rounding=ROUND_HALF_UP)

    @property
    def over(self) -> bool:
        return self.budget is not None and self.used > self.budget

    @property
    def described(self) -> str:
        """The basis in words: what is counted, against which budget."""
        return BASIS_WORDS[self.basis].format(source=self.hours_source)


def budget_basis(offering: Offering, hours_source: str) -> tuple[BudgetBasis, Decimal | None]:
    """What an offering's budget is measured in: its money budget (revenue if billable, cost if internal),
    else its hours by the Hours Source setting (sold or current planned), else nothing."""
    if offering.budget_amount and offering.budget_amount > 0:
        return (BudgetBasis.REVENUE if offering.is_billable else BudgetBasis.COST), Decimal(offering.budget_amount)
    hours = source_hours(offering, hours_source)
    if hours and hours > 0:
        return BudgetBasis.HOURS, hours
    return (BudgetBasis.REVENUE if offering.is_billable else BudgetBasis.COST), None


def measure(basis: BudgetBasis, actuals: Actuals) -> Decimal:
    return {BudgetBasis.REVENUE: actuals.revenue, BudgetBasis.COST: actuals.cost,
            BudgetBasis.HOURS: actuals.hours}[basis]


def budget_use(offering: Offering, actuals: Actuals, hours_source: str) -> BudgetUse:
    """The one budget figure: the alert emails, the Finance tab and the client workspace all read this."""
    basis, budget = budget_basis(offering, hours_source)
    return BudgetUse(basis, budget, measure(basis, actuals), hours_source)


def budget_uses(session: Session, offerings: list[Offering], hours_source: str) -> dict[int, BudgetUse]:
    actuals = offering_actuals(session, [o.id for o in offerings])
    return {o.id: budget_use(o, actuals[o.id], hours_source) for o in offerings}
