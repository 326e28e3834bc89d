"""Resource → finance forecast: bookings × rate per month on the project's items, re-run on changes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from portal.finance import services as finance
from portal.finance.forecasts import refresh_forecast
from portal.finance.models import FinancialTransaction
from portal.projects import resources, services
from tests.factories import BookingFactory, CostCategoryFactory, OfferingFactory, ResourceFactory
from tests.finance.support import items


def forecasts(session):
    return list(session.scalars(select(FinancialTransaction).where(FinancialTransaction.kind == "forecast")
                                .order_by(FinancialTransaction.date)))


def test_bookings_times_rate_give_one_forecast_per_resource_and_month(session, org, months):
    resource = ResourceFactory(name="Lee", rates={"cost": "50"})
    offering = OfferingFactory()
    for day, hours in ((date(2026, 3, 2), 8), (date(2026, 3, 30), 4), (date(2026, 4, 1), 6)):
        BookingFactory(project=offering.project, offering=offering, resource=resource, on=day, hours=Decimal(hours))
    session.flush()
    refresh_forecast(session, offering.project_id)
    march, april = forecasts(session)
    assert (march.date, march.hours, march.amount, march.fiscal_period.name) == (
        date(2026, 3, 31), Decimal("12"), Decimal("600.00"), "2026-03")
    assert (april.date, april.amount) == (date(2026, 4, 30), Decimal("300.00"))
    (item,) = items(session)
    assert item.name == "Lee" and {line.offering_id for line in march.lines} == {offering.id}


def test_a_weekly_booking_spreads_over_the_working_days_and_splits_at_the_month_end(session, org, months):
    resource = ResourceFactory(rates={"cost": "10"})
    offering = OfferingFactory()
    # The week of Mon 30 Mar: two working days in March, three in April.
    BookingFactory(project=offering.project, resource=resource, mode="week", on=date(2026, 3, 30), hours=Decimal("20"))
    session.flush()
    refresh_forecast(session, offering.project_id)
    march, april = forecasts(session)
    assert (march.hours, april.hours) == (Decimal("8"), Decimal("12"))
    assert march.amount + april.amount == Decimal("200.00")


def test_changing_bookings_or_rates_refreshes_the_forecast(session, org, run_jobs):
    resource = ResourceFactory(rates={"cost": "50"})
    offering = OfferingFactory()
    services.set_booking(session, "test", offering.project_id, resource.id, mode="day", on=date(2026, 3, 2),
                         hours=Decimal("8"), offering_id=offering.id)
    session.commit()
    run_jobs()
    assert [f.amount for f in forecasts(session)] == [Decimal("400.00")]

    resources.set_rate(session, "test", resource.id, "cost", Decimal("60"), date(2026, 1, 1))
    session.commit()
    run_jobs()
    assert [f.amount for f in forecasts(session)] == [Decimal("480.00")]

    services.set_booking(session, "test", offering.project_id, resource.id, mode="day", on=date(2026, 3, 2),
                         hours=Decimal("0"))  # removed
    session.commit()
    run_jobs()
    assert forecasts(session) == [] and items(session) == []


def test_changing_a_resources_default_cost_category_moves_its_forecast(session, org, run_jobs):
    resource = ResourceFactory(name="Lee", email="lee@example.test", rates={"cost": "50"})
    offering = OfferingFactory()
    services.set_booking(session, "test", offering.project_id, resource.id, mode="day", on=date(2026, 3, 2),
                         hours=Decimal("8"), offering_id=offering.id)
    session.commit()
    run_jobs()
    assert [f.item.cost_category_id for f in forecasts(session)] == [org.default_cost_category_id]

    design = CostCategoryFactory(name="Design")
    session.flush()
    resources.update_resource(session, "test", resource.id, name="Lee", email="lee@example.test", title="",
                              active=True, default_cost_category_id=design.id)
    session.commit()
    run_jobs()
    assert [(f.item.cost_category_id, f.amount) for f in forecasts(session)] == [(design.id, Decimal("400.00"))]


def test_forecasts_in_a_locked_period_stay_as_they_were(session, org, months):
    resource = ResourceFactory(rates={"cost": "50"})
    offering = OfferingFactory()
    booking = BookingFactory(project=offering.project, resource=resource, on=date(2026, 3, 2), hours=Decimal("8"))
    session.flush()
    refresh_forecast(session, offering.project_id)
    (before,) = forecasts(session)
    finance.set_period_lock(session, "test", months["2026-03"].id, True)
    booking.hours = Decimal("2")
    session.flush()
    outcome = refresh_forecast(session, offering.project_id)
    (after,) = forecasts(session)
    assert (after.id, after.amount) == (before.id, Decimal("400.00")) and outcome.changed is False


def test_changing_the_rate_type_refreshes_every_forecast_in_a_run(session, org, run_jobs):
    from portal.org import services as org_services
    from tests.factories import UserFactory

    resource = ResourceFactory(rates={"cost": "50", "sell": "150"})
    offering = OfferingFactory()
    BookingFactory(project=offering.project, resource=resource, on=date(2026, 3, 2), hours=Decimal("1"))
    session.flush()
    refresh_forecast(session, offering.project_id)
    org_services.update_settings(session, UserFactory(role="super_admin"), finance_rate_type="sell")
    session.commit()
    run_jobs()
    assert [f.amount for f in forecasts(session)] == [Decimal("150.00")]
