"""Monthly projected value of projects, weighted by likelihood (seed 004 "Percent likelihood", "Base
projections on").

- Bookings: booked hours × rate. The rate is the offering's effective fixed-fee rate for fixed bids and
  retainers, else the person's assignment bill rate, else their sell rate on the day; internal and
  time-off offerings (and bookings on projects with only those) project nothing. Weekly bookings are
  spread over the week's working days.
- Estimates: the project's CRM estimate (kept from its deals) spread evenly over the estimate's dates,
  or the project's dates when the deals have none.
Each project is weighted by its likelihood: the PM's override, else its stage's.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal import paging
from portal.auth import policy
from portal.auth.models import User
from portal.columns import ZERO
from portal.org.services import get_settings
from portal.projects.models import BILLABLE_MODELS, Booking, BookingMode, Offering, Project, RateType
from portal.projects.rates import FEE_MODELS, RateBook, fixed_fee_rate, to_cents
from portal.projects.services import managed_projects, open_stage_ids

MAX_MONTHS = 24
PAGE_SIZE = 50


@dataclass
class ProjectForecast:
    project: Project
    basis: str
    likelihood: int
    values: list[Decimal]
    note: str = ""
    weighted: list[Decimal] = field(init=False)

    def __post_init__(self) -> None:
        self.values = [to_cents(v) for v in self.values]
        self.weighted = [to_cents(v * self.likelihood / 100) for v in self.values]

    @property
    def total(self) -> Decimal:
        return sum(self.values, ZERO)

    @property
    def weighted_total(self) -> Decimal:
        return sum(self.weighted, ZERO)


def month_starts(first: date, count: int) -> list[date]:
    months, day = [], first.replace(day=1)
    for _ in range(count):
        months.append(day)
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


def _month_index(months: list[date], day: date) -> int | None:
    key = day.replace(day=1)
    return months.index(key) if months[0] <= key <= months[-1] else None


def _booking_days(booking: Booking) -> list[tuple[date, Decimal]]:
    if booking.mode == BookingMode.DAY:
        return [(booking.on, booking.hours)]
    workdays = [booking.on + timedelta(days=i) for i in range(7) if (booking.on + timedelta(days=i)).weekday() < 5]
    return [(day, booking.hours / len(workdays)) for day in workdays]


def booking_rate(booking: Booking, project: Project, sell_rates: RateBook, day: date, hours_source: str) -> Decimal:
    """What an hour of a booking is worth (the rules at the top); the burn-up forecast uses it too."""
    offering: Offering | None = booking.offering
    if offering is not None:
        if offering.billing_model not in BILLABLE_MODELS:
            return ZERO
        if offering.billing_model in FEE_MODELS:
            return fixed_fee_rate(offering, hours_source) or ZERO
        candidates = [offering]
    else:
        offerings = [o for o in project.offerings if not o.archived]
        candidates = [o for o in offerings if o.billing_model in BILLABLE_MODELS]
        if offerings and not candidates:  # internal work only
            return ZERO
    for candidate in candidates:
        for assignment in candidate.assignments:
            if assignment.resource_id == booking.resource_id and assignment.bill_rate is not None:
                return assignment.bill_rate
    return sell_rates.on(booking.resource_id, day) or ZERO


def _from_bookings(project: Project, bookings: list[Booking], months: list[date], end: date,
                   sell_rates: RateBook, hours_source: str) -> tuple[list[Decimal], str]:
    values = [ZERO] * len(months)
    for booking in bookings:
        for day, hours in _booking_days(booking):
            index = _month_index(months, day) if day <= end else None
            if index is not None:
                values[index] += hours * booking_rate(booking, project, sell_rates, day, hours_source)
    return values, "" if any(values) else "no bookings in these months"


def _from_estimate(project: Project, months: list[date], end: date) -> tuple[list[Decimal], str]:
    values = [ZERO] * len(months)
    if not project.estimate_amount:
        return values, "no CRM estimate"
    start = project.estimate_start or project.start_date
    finish = project.estimate_end or project.end_date
    if not start or not finish or finish < start:
        return values, "the CRM estimate has no dates"
    per_day = Decimal(project.estimate_amount) / ((finish - start).days + 1)
    per_month: dict[int, int] = defaultdict(int)
    day = max(start, months[0])
    while day <= min(finish, end):
        per_month[_month_index(months, day)] += 1
        day += timedelta(days=1)
    for index, days in per_month.items():
        values[index] = per_day * days
    return values, ""


def visible_projects(session: Session, user: User, include_closed: bool, after: str | None = None,
                     limit: int = PAGE_SIZE) -> tuple[list[Project], str | None]:
    """A page of the projects the user forecasts, by name: every project for those who see money everywhere,
    else (PMs) those whose PM team they are on; closed ones only when asked for."""
    query = select(Project).options(
        selectinload(Project.stage), selectinload(Project.client),
        selectinload(Project.offerings).selectinload(Offering.assignments), selectinload(Project.team),
    )
    if not policy.can_see_money(user):  # a PM: the projects whose PM team they are on
        query = query.where(Project.id.in_(managed_projects(user.id)))
    if not include_closed:
        query = query.where(Project.stage_id.in_(open_stage_ids(session)))
    return paging.by_name(session, query, Project.name, Project.id, after, limit)


def forecast(session: Session, user: User, first: date, count: int, include_closed: bool = False,
             after: str | None = None) -> tuple[list[date], list[ProjectForecast], str | None]:
    """The months, one page of projects' forecasts (by name), and the cursor of the next page."""
    policy.require(policy.can_view_forecast(user), "Forecasts are for PMs, approvers, MPE users and admins.")
    months = month_starts(first, max(1, min(count, MAX_MONTHS)))
    end = (months[-1].replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    projects, next_cursor = visible_projects(session, user, include_closed, after)
    bookings: dict[int, list[Booking]] = defaultdict(list)
    for booking in session.scalars(select(Booking).where(
            Booking.project_id.in_([p.id for p in projects]), Booking.on >= months[0] - timedelta(days=6),
            Booking.on <= end).options(selectinload(Booking.offering).selectinload(Offering.assignments))):
        bookings[booking.project_id].append(booking)
    sell_rates = RateBook.load(session, {b.resource_id for found in bookings.values() for b in found}, RateType.SELL)
    hours_source = get_settings(session).timesheet_hours_source
    rows = []
    for project in projects:
        basis = project.stage.flag("projection_basis")
        if basis == "estimates":
            values, note = _from_estimate(project, months, end)
        else:
            values, note = _from_bookings(project, bookings[project.id], months, end, sell_rates, hours_source)
        rows.append(ProjectForecast(project=project, basis=basis, likelihood=project.likelihood, values=values,
                                    note=note))
    return months, rows, next_cursor
