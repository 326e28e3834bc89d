"""Offering actuals computed from time entries: hours, cost and revenue.

- cost = hours × the resource's cost rate effective on the work date;
- revenue (billable entries of billable offerings) = hours × the entry's bill rate, else the assignment's,
  else the resource's sell rate on the work date; fixed-bid and retainer offerings earn their effective
  rate instead (fixed fee ÷ sold hours, or planned hours when nothing was sold);
- internal and time-off offerings earn nothing.

Hours without a cost rate on their date are counted in `unpriced_hours` (their cost is unknown, not 0 by
choice). Budget alerts use this; the timesheet-sync and finance pages may too.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.columns import ZERO
from portal.projects.models import BILLABLE_MODELS, BillingModel, Offering, RateType, ResourceRate
from portal.timesheets.models import TimeEntry

CENT = Decimal("0.01")
FEE_MODELS = (BillingModel.FIXED_BID, BillingModel.RETAINER)


@dataclass(frozen=True)
class Actuals:
    hours: Decimal = ZERO
    billable_hours: Decimal = ZERO
    cost: Decimal = ZERO
    revenue: Decimal = ZERO
    unpriced_hours: Decimal = ZERO


class RateBook:
    """Effective-dated rates of many resources, loaded in one query and looked up by date."""

    def __init__(self, session: Session, resource_ids: set[int], rate_type: str):
        self._dates: dict[int, list[date]] = defaultdict(list)
        self._amounts: dict[int, list[Decimal]] = defaultdict(list)
        if not resource_ids:
            return
        rows = session.execute(
            select(ResourceRate.resource_id, ResourceRate.effective_from, ResourceRate.amount)
            .where(ResourceRate.resource_id.in_(resource_ids), ResourceRate.rate_type == rate_type)
            .order_by(ResourceRate.resource_id, ResourceRate.effective_from)
        )
        for resource_id, effective_from, amount in rows:
            self._dates[resource_id].append(effective_from)
            self._amounts[resource_id].append(amount)

    def on(self, resource_id: int, day: date) -> Decimal | None:
        index = bisect_right(self._dates.get(resource_id, []), day)
        return self._amounts[resource_id][index - 1] if index else None


def effective_fee_rate(offering: Offering) -> Decimal:
    """A fixed fee's value per hour: the fee spread over the sold hours (or the planned ones)."""
    hours = offering.sold_hours or offering.planned_hours
    if not offering.fixed_fee or not hours:
        return ZERO
    return Decimal(offering.fixed_fee) / Decimal(hours)


def offering_actuals(session: Session, offering_ids: list[int] | set[int]) -> dict[int, Actuals]:
    """Actuals of each offering (every id given gets an entry; offerings without time get zeros)."""
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
    cost_rates = RateBook(session, people, RateType.COST)
    sell_rates = RateBook(session, people, RateType.SELL)
    totals: dict[int, dict[str, Decimal]] = {i: defaultdict(lambda: ZERO) for i in ids}
    for offering_id, resource_id, work_date, billable, entry_rate, hours in rows:
        offering = offerings[offering_id]
        hours = Decimal(hours)
        total = totals[offering_id]
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
            rate = effective_fee_rate(offering)
        else:
            assignment = next((a for a in offering.assignments if a.resource_id == resource_id), None)
            rate = next((r for r in (entry_rate, assignment.bill_rate if assignment else None,
                                     sell_rates.on(resource_id, work_date)) if r is not None), ZERO)
        total["revenue"] += hours * rate
    return {
        offering_id: Actuals(
            hours=t["hours"], billable_hours=t["billable_hours"], unpriced_hours=t["unpriced_hours"],
            cost=t["cost"].quantize(CENT, rounding=ROUND_HALF_UP),
            revenue=t["revenue"].quantize(CENT, rounding=ROUND_HALF_UP),
        )
        for offering_id, t in totals.items()
    }
