"""Offering actuals computed from time entries: hours, cost and revenue.

- cost = hours × the resource's cost rate effective on the work date;
- revenue (billable entries of billable offerings) = hours × the entry's bill rate, else the assignment's,
  else the resource's sell rate on the work date; fixed-bid and retainer offerings earn their effective
  rate instead (portal.projects.rates.fixed_fee_rate: the fee ÷ the hours of the Timesheet Hours Source);
- internal and time-off offerings earn nothing.

Hours without a cost rate on their date are counted in `unpriced_hours` (their cost is unknown, not 0 by
choice). Budget alerts use this; the timesheet-sync and finance pages may too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.columns import ZERO
from portal.org.services import get_settings
from portal.projects.models import BILLABLE_MODELS, Offering, RateType
from portal.projects.rates import FEE_MODELS, RateBook, fixed_fee_rate, to_cents
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
            rate = fixed_fee_rate(offering, hours_source) or ZERO
        else:
            assignment = next((a for a in offering.assignments if a.resource_id == resource_id), None)
            rate = next((r for r in (entry_rate, assignment.bill_rate if assignment else None,
                                     sell_rates.on(resource_id, work_date)) if r is not None), ZERO)
        total["revenue"] += hours * rate
    return {
        offering_id: Actuals(
            hours=t["hours"], billable_hours=t["billable_hours"], unpriced_hours=t["unpriced_hours"],
            cost=to_cents(t["cost"]), revenue=to_cents(t["revenue"]),
        )
        for offering_id, t in totals.items()
    }
