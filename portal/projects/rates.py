"""The money rules every page, job, email and timesheet tool shares: a resource's rate on a day, and a fixed
fee's value per hour. Each is defined here once; actuals, postings, both forecasts and the rates sent to the
tools call these.

- A resource's cost or sell rate on a day is the one effective from the latest date on or before it (rates
  are effective-dated, each until the next of its type); none before the first.
- Money is kept in cents, rounded half-up (`to_cents`).
- The effective rate of a Fixed Bid or Retainer offering (seed 002, "For Fixed Bid: Calculated effective rate
  per person") is its fixed fee ÷ the hours of the organization's Timesheet Hours Source: the sold hours
  (SOLD), or the current planned hours (CURRENT), the same hours the tools get as the project's budget. It is
  rounded half-up to the cent, as a rate is stored and shown. Without a fee, or with no hours in that source,
  there is no effective rate (None): the fee buys no hours yet, so nothing is valued or sent at a rate.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.org.models import HoursSource
from portal.projects.models import BillingModel, Offering, ResourceRate

CENT = Decimal("0.01")
FEE_MODELS = frozenset({BillingModel.FIXED_BID, BillingModel.RETAINER})


def to_cents(value: Decimal) -> Decimal:
    """Money is kept and shown in cents, rounded half-up."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class RateBook:
    """Effective-dated rates of one type for some resources, looked up per day without a query each."""

    def __init__(self, rows: Iterable[tuple[int, date, Decimal]]):
        self._dates: dict[int, list[date]] = defaultdict(list)
        self._amounts: dict[int, list[Decimal]] = defaultdict(list)
        for resource_id, effective_from, amount in sorted(rows):
            self._dates[resource_id].append(effective_from)
            self._amounts[resource_id].append(amount)

    @classmethod
    def load(cls, session: Session, resource_ids: Iterable[int], rate_type: str) -> RateBook:
        """The `rate_type` rates of these resources, in one query."""
        ids = sorted(set(resource_ids))
        if not ids:
            return cls([])
        return cls(session.execute(
            select(ResourceRate.resource_id, ResourceRate.effective_from, ResourceRate.amount)
            .where(ResourceRate.resource_id.in_(ids), ResourceRate.rate_type == rate_type)
        ).all())

    def on(self, resource_id: int, day: date) -> Decimal | None:
        """The rate effective on `day`, or None when the resource has none yet."""
        index = bisect.bisect_right(self._dates.get(resource_id, []), day) - 1
        return self._amounts[resource_id][index] if index >= 0 else None


def source_hours(offering: Offering, hours_source: str) -> Decimal | None:
    """The offering's hours by the Timesheet Hours Source: sold hours, or current planned hours; None when 0."""
    hours = offering.planned_hours if hours_source == HoursSource.CURRENT else offering.sold_hours
    return Decimal(hours) if hours else None


def fixed_fee_rate(offering: Offering, hours_source: str) -> Decimal | None:
    """A Fixed Bid or Retainer offering's effective hourly rate (see the module's docstring); None for other
    billing models, without a fee, or without hours in the source."""
    hours = source_hours(offering, hours_source)
    if offering.billing_model not in FEE_MODELS or not offering.fixed_fee or hours is None:
        return None
    return to_cents(Decimal(offering.fixed_fee) / hours)
