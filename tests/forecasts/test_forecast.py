"""Forecasts: monthly projected value from bookings or the CRM estimate, weighted by likelihood."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portal.auth.models import Permission
from portal.errors import NotAllowed
from portal.forecasts import services
from tests.factories import (
    AssignmentFactory,
    BookingFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    UserFactory,
    stage,
)
from tests.stages.helpers import on_day, set_flags

MARCH = date(2026, 3, 1)


def forecast_of(session, project, months=3, user=None, **options):
    _, rows, _ = services.forecast(session, user or UserFactory(role="admin"), MARCH, months, **options)
    return next(r for r in rows if r.project is project)


def test_bookings_are_valued_at_the_assignment_rate_and_weighted(session):
    set_flags(stage("Planning"), projection_basis="bookings", percent_likelihood=50)
    project = ProjectFactory(stage=stage("Planning"))
    person = ResourceFactory()
    offering = OfferingFactory(project=project)
    AssignmentFactory(offering=offering, resource=person, bill_rate=Decimal("100"))
    BookingFactory(project=project, offering=offering, resource=person, on=date(2026, 3, 10), hours=Decimal("8"))
    BookingFactory(project=project, offering=offering, resource=person, on=date(2026, 4, 1), hours=Decimal("4"))
    session.flush()
    row = forecast_of(session, project)
    assert row.values == [Decimal("800.00"), Decimal("400.00"), Decimal("0.00")]
    assert row.weighted == [Decimal("400.00"), Decimal("200.00"), Decimal("0.00")]
    assert (row.basis, row.likelihood) == ("bookings", 50)


def test_a_weekly_booking_across_a_month_end_is_split_over_its_working_days(session):
    project = ProjectFactory(stage=stage("In Progress"))
    person = ResourceFactory(rates={"sell": "50"})
    BookingFactory(project=project, resource=person, mode="week", on=date(2026, 3, 30), hours=Decimal("40"))
    session.flush()
    # Mon 30 and Tue 31 March, then Wed 1 – Fri 3 April: 2 and 3 of 5 working days; no offering: the sell rate.
    assert forecast_of(session, project).values[:2] == [Decimal("800.00"), Decimal("1200.00")]


def test_fixed_bid_bookings_use_the_effective_rate_and_internal_ones_nothing(session):
    project = ProjectFactory(stage=stage("In Progress"))
    fixed = OfferingFactory(project=project, billing_model="fixed_bid", fixed_fee=Decimal("8000"),
                            sold_hours=Decimal("40"))
    internal = OfferingFactory(project=project, billing_model="internal")
    BookingFactory(project=project, offering=fixed, on=date(2026, 3, 2), hours=Decimal("4"))
    BookingFactory(project=project, offering=internal, on=date(2026, 3, 3), hours=Decimal("8"))
    session.flush()
    assert forecast_of(session, project).values[0] == Decimal("800.00")


def test_estimates_spread_the_crm_estimate_over_its_dates(session):
    set_flags(stage("Opportunity"), projection_basis="estimates", percent_likelihood=25)
    project = ProjectFactory(stage=stage("Opportunity"), estimate_amount=Decimal("6100"),
                             estimate_start=date(2026, 3, 1), estimate_end=date(2026, 4, 30))
    BookingFactory(project=project, on=date(2026, 3, 2))  # ignored: this stage projects its estimate
    session.flush()
    row = forecast_of(session, project)
    assert row.values == [Decimal("3100.00"), Decimal("3000.00"), Decimal("0.00")], "100 a day, 31 + 30 days"
    assert row.weighted_total == Decimal("1525.00")


def test_the_stage_decides_the_basis(session):
    project = ProjectFactory(stage=stage("In Progress"), estimate_amount=Decimal("3100"),
                             estimate_start=date(2026, 3, 1), estimate_end=date(2026, 3, 31))
    BookingFactory(project=project, resource=ResourceFactory(rates={"sell": "10"}), on=date(2026, 3, 2),
                   hours=Decimal("1"))
    session.flush()
    set_flags(stage("In Progress"), projection_basis="bookings")
    assert forecast_of(session, project).values[0] == Decimal("10.00")
    set_flags(stage("In Progress"), projection_basis="estimates")
    assert forecast_of(session, project).values[0] == Decimal("3100.00")


def test_missing_estimates_are_explained(session):
    set_flags(stage("Opportunity"), projection_basis="estimates")
    project = ProjectFactory(stage=stage("Opportunity"))
    session.flush()
    assert forecast_of(session, project).note == "no CRM estimate"


def test_closed_projects_are_left_out_unless_asked_for(session):
    project = ProjectFactory(stage=stage("Closed"))
    session.flush()
    _, rows, _ = services.forecast(session, UserFactory(role="admin"), MARCH, 3)
    assert project not in [r.project for r in rows]
    assert forecast_of(session, project, include_closed=True)


def test_pms_see_their_projects_planners_see_all_others_none(session):
    pm = UserFactory(role="pm")
    mine, theirs = ProjectFactory(pm=pm), ProjectFactory()
    session.flush()
    _, rows, _ = services.forecast(session, pm, MARCH, 3)
    assert [r.project for r in rows] == [mine]
    _, rows, _ = services.forecast(session, UserFactory(role="staff", permissions=[Permission.MAINTAIN_PROJECTS]),
                                   MARCH, 3)
    assert {mine, theirs} <= {r.project for r in rows}
    with pytest.raises(NotAllowed):
        services.forecast(session, UserFactory(role="staff"), MARCH, 3)


def test_the_forecast_page_weighs_by_likelihood(client, session):
    admin = UserFactory(role="admin")
    set_flags(stage("Planning"), projection_basis="bookings", percent_likelihood=60)
    project = ProjectFactory(stage=stage("Planning"), name="Weighted one")
    BookingFactory(project=project, resource=ResourceFactory(rates={"sell": "100"}), on=date(2026, 3, 2),
                   hours=Decimal("10"))
    session.commit()
    with on_day(date(2026, 3, 15)):
        client.login(admin)  # inside the time travel: a session signed "in the future" is refused
        page = client.get("/forecast?months=3").get_data(as_text=True)
    assert "Weighted one" in page and "Mar 2026" in page and "600.00" in page and "60 %" in page
