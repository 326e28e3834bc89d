"""Burn-up of each offering of a project (issue 15 item 18): its budget, its budget use added up week by week,
and a forecast that goes on from this week with its bookings, all on the one budget basis
(portal.timesheets.actuals.budget_use: revenue, cost or hours of all time entered).

Everything is computed for the project's offerings at once: the time valued per day in one pass, the
bookings and rates in one query each, whatever the number of offerings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.finance.forecasts import booked_days
from portal.forecasts.services import booking_rate
from portal.org.services import get_settings
from portal.projects.models import Booking, Offering, Project, RateType
from portal.projects.rates import RateBook
from portal.projects.services import week_start
from portal.timesheets.actuals import (
    ZERO,
    Actuals,
    BudgetBasis,
    BudgetUse,
    budget_use,
    measure,
    offering_actuals,
    offering_actuals_by_day,
)

MAX_WEEKS = 104  # two years of weeks: the chart and its table stay the size of a page


@dataclass
class BurnUp:
    offering: Offering
    actuals: Actuals  # all time entered: hours, cost and revenue
    use: BudgetUse
    weeks: list[date]  # week starts
    actual: list[Decimal | None]  # budget use added up to the end of each week, until this week
    forecast: list[Decimal | None]  # from this week: the actual so far plus what is booked after today

    @property
    def charted(self) -> bool:
        """Whether there is anything to draw: a budget or some time."""
        return bool(self.use.budget or self.actuals.hours)

    @property
    def final_forecast(self) -> Decimal | None:
        return next((v for v in reversed(self.forecast) if v is not None), None)

    @property
    def forecast_over(self) -> bool:
        final = self.final_forecast
        return bool(self.use.budget and final is not None and final > self.use.budget)

    def rows(self) -> list[tuple[date, Decimal | None, Decimal | None]]:
        return list(zip(self.weeks, self.actual, self.forecast, strict=True))

    def chart_data(self) -> str:
        """What static/js/burnup.js draws, as JSON for a data attribute."""
        def number(value: Decimal | None) -> float | None:
            return None if value is None else float(value)

        return json.dumps({
            "weeks": [w.isoformat() for w in self.weeks], "budget": number(self.use.budget),
            "actual": [number(v) for v in self.actual], "forecast": [number(v) for v in self.forecast],
            "unit": "h" if self.use.in_hours else "",
        })


def _span(offering: Offering, days: list[date], today: date, first_weekday: int) -> list[date]:
    """The weeks from the offering's start (or first time) to its end (or last booking), this week included;
    at most MAX_WEEKS, around this week when the offering runs longer."""
    first = week_start(min(d for d in (offering.start_date, *days[:1], today) if d), first_weekday)
    last = week_start(max(d for d in (offering.end_date, *days[-1:], today) if d), first_weekday)
    if (last - first).days // 7 >= MAX_WEEKS:
        first = max(first, week_start(today, first_weekday) - timedelta(weeks=MAX_WEEKS // 2))
        last = first + timedelta(weeks=MAX_WEEKS - 1)
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


def burn_ups(session: Session, project: Project, today: date) -> list[BurnUp]:
    """Each offering's hours, cost, revenue, budget use and burn-up (archived offerings only with time)."""
    settings = get_settings(session)
    offerings = list(project.offerings)
    ids = [o.id for o in offerings]
    by_day = offering_actuals_by_day(session, ids)
    totals = offering_actuals(session, ids)
    bookings = list(session.scalars(select(Booking).where(Booking.offering_id.in_(ids))
                                    .options(selectinload(Booking.offering).selectinload(Offering.assignments))))
    people = {b.resource_id for b in bookings}
    sell_rates = RateBook.load(session, people, RateType.SELL)
    cost_rates = RateBook.load(session, people, RateType.COST)
    current = week_start(today, settings.week_start)
    result = []
    for offering in offerings:
        use = budget_use(offering, totals[offering.id], settings.timesheet_hours_source)
        time = {day: measure(use.basis, a) for day, a in by_day.get(offering.id, {}).items()}
        if offering.archived and not time:
            continue
        booked: dict[date, Decimal] = {}
        for booking in (b for b in bookings if b.offering_id == offering.id):
            for day, hours in booked_days(booking):
                if day > today:
                    booked[day] = booked.get(day, ZERO) + _booked_value(
                        use.basis, booking, project, day, hours, sell_rates, cost_rates,
                        settings.timesheet_hours_source)
        weeks = _span(offering, sorted({*time, *booked}), today, settings.week_start)
        used = sum((v for d, v in time.items() if d < weeks[0]), ZERO)
        planned = ZERO
        actual: list[Decimal | None] = []
        forecast: list[Decimal | None] = []
        for week in weeks:
            end = week + timedelta(days=6)
            used += sum((v for d, v in time.items() if week <= d <= end), ZERO)
            planned += sum((v for d, v in booked.items() if week <= d <= end), ZERO)
            actual.append(used if week <= current else None)
            forecast.append(used + planned if week >= current else None)
        result.append(BurnUp(offering, totals[offering.id], use, weeks, actual, forecast))
    return result


def _booked_value(basis: BudgetBasis, booking: Booking, project: Project, day: date, hours: Decimal,
                  sell_rates: RateBook, cost_rates: RateBook, hours_source: str) -> Decimal:
    """Booked hours on the budget's basis: hours, their revenue (as the Forecast page values them) or cost."""
    if basis == BudgetBasis.HOURS:
        return hours
    if basis == BudgetBasis.REVENUE:
        return hours * booking_rate(booking, project, sell_rates, day, hours_source)
    return hours * (cost_rates.on(booking.resource_id, day) or ZERO)
