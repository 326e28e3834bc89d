"""Resource → finance forecast: booked hours × rate, per month, on the project's financial items.

Forecasts live on the same items as actuals (project, resource, cost category), so a person's item shows
forecast beside actual whichever came first. A refresh recomputes the project's whole forecast from its
bookings and reconciles it like a posting: idempotent, and frozen inside locked fiscal periods (the past
that finance has closed keeps the forecast it had).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal import audit
from portal.finance.ledger import ZERO, FiscalCalendar, Outcome, Posting, reconcile
from portal.finance.models import FinancialItem, FinancialTransaction, TransactionKind
from portal.finance.posting import cost_category_for
from portal.org.services import get_settings
from portal.projects.models import Booking, BookingMode, Project
from portal.projects.rates import RateBook, to_cents

ACTOR = "finance forecast"
FOUR_PLACES = Decimal("0.0001")


def booked_days(booking: Booking) -> Iterator[tuple[date, Decimal]]:
    """A booking's hours by day. A weekly booking spreads over the five working days of its week (the last
    day takes the rounding remainder, so the days add up to the booking)."""
    if booking.mode != BookingMode.WEEK:
        yield booking.on, booking.hours
        return
    days = [d for d in (booking.on + timedelta(days=i) for i in range(7)) if d.weekday() < 5]
    share = (booking.hours / len(days)).quantize(FOUR_PLACES)
    for day in days[:-1]:
        yield day, share
    yield days[-1], booking.hours - share * (len(days) - 1)


def _month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def refresh_forecast(session: Session, project_id: int, actor: str = ACTOR) -> Outcome:
    """Recompute the project's forecast transactions from its bookings (hours × the rate type's rate on
    each booked day), one per resource, cost category and month (cut at fiscal period boundaries)."""
    project = session.scalar(select(Project).where(Project.id == project_id).with_for_update()
                             .execution_options(populate_existing=True))
    if project is None:
        return Outcome()
    settings = get_settings(session)
    bookings = list(session.scalars(select(Booking).where(Booking.project_id == project_id)
                                    .options(selectinload(Booking.resource))))
    existing = list(session.scalars(
        select(FinancialTransaction).join(FinancialItem)
        .where(FinancialItem.project_id == project_id, FinancialTransaction.kind == TransactionKind.FORECAST)
        .options(selectinload(FinancialTransaction.item), selectinload(FinancialTransaction.lines))
    ))
    booked = [(b, day, hours) for b in bookings for day, hours in booked_days(b)]
    days = [day for _, day, _ in booked] + [t.date for t in existing]
    if not days:
        return Outcome()
    calendar = FiscalCalendar.load(session, min(days), max(days), share_lock=True)
    rates = RateBook.load(session, {b.resource_id for b in bookings}, settings.finance_rate_type)

    Bucket = tuple[int, int, date, int | None]  # resource, cost category, month, fiscal period
    sums: dict[Bucket, dict[int | None, list[Decimal]]] = defaultdict(lambda: defaultdict(lambda: [ZERO, ZERO]))
    last_day: dict[Bucket, date] = {}
    names: dict[int, str] = {}
    for booking, day, hours in booked:
        rate = rates.on(booking.resource_id, day)
        category = cost_category_for(project.default_cost_category_id, booking.resource, settings)
        if rate is None or category is None:
            continue  # like actuals: no rate (or nowhere to put it), no forecast
        period = calendar.period_on(day)
        bucket = (booking.resource_id, category, day.replace(day=1), period.id if period else None)
        line = sums[bucket][booking.offering_id]
        line[0] += hours
        line[1] += hours * rate
        last_day[bucket] = max(day, last_day.get(bucket, day))
        names[booking.resource_id] = booking.resource.name

    desired = []
    for bucket, by_offering in sorted(sums.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], kv[0][3] or 0)):
        resource_id, category, month, period_id = bucket
        lines = {offering: (hours, to_cents(amount)) for offering, (hours, amount) in by_offering.items()}
        if not any(a for _, a in lines.values()):
            continue
        period = calendar.period_on(last_day[bucket])
        # Dated inside its own period: the month's end, or the period's end when the period ends first.
        dated = min(_month_end(month), period.end_date) if period else last_day[bucket]
        desired.append(Posting(
            key=f"forecast:{project_id}:{resource_id}:{category}:{month:%Y%m}:{period_id or 0}",
            kind=TransactionKind.FORECAST, project_id=project_id, resource_id=resource_id,
            resource_name=names[resource_id], cost_category_id=category, date=dated, fiscal_period_id=period_id,
            lines=lines, rate_type=settings.finance_rate_type,
        ))
    outcome = reconcile(session, desired, existing, calendar)
    if outcome.changed:
        audit.record(session, actor, "project.forecast_refreshed", project, after=outcome.as_dict(),
                     summary=f"Forecast of {project.name}: {outcome.created} added, {outcome.deleted} removed")
    return outcome


def projects_to_refresh_for_resource(session: Session, resource_id: int) -> list[int]:
    """Projects whose forecast depends on the resource: booked there, or already forecast there."""
    booked = select(Booking.project_id).where(Booking.resource_id == resource_id)
    forecast = select(FinancialItem.project_id).where(FinancialItem.resource_id == resource_id)
    return sorted(set(session.scalars(booked.union(forecast))))


def projects_with_forecasts(session: Session, start: date | None = None, end: date | None = None) -> list[int]:
    """Projects with bookings or forecast transactions (in [start, end] when given)."""
    booked = select(Booking.project_id)
    forecast = select(FinancialItem.project_id).join(FinancialTransaction).where(
        FinancialTransaction.kind == TransactionKind.FORECAST)
    if start and end:
        # A weekly booking starting up to six days before `start` still books days inside it.
        booked = booked.where(Booking.on >= start - timedelta(days=6), Booking.on <= end)
        forecast = forecast.where(FinancialTransaction.date >= start, FinancialTransaction.date <= end)
    return sorted(set(session.scalars(booked.union(forecast))))
