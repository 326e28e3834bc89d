"""The money rules, defined once (portal/projects/rates.py) and agreed on by every place that values time.

Seed 002 ("For Fixed Bid: Calculated effective rate per person"; "TIMESHEET HOURS SOURCE (Sold/Current)"):
a Fixed Bid or Retainer offering's effective rate is its fixed fee ÷ the hours of the organization's
Timesheet Hours Source, rounded half-up to the cent; actuals, forecasts and the rates sent to the tools
all use that one rate.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portal.forecasts import services as forecasts
from portal.integrations import rules
from portal.org.models import HoursSource
from portal.org.services import get_settings
from portal.projects.models import Offering, RateType, ResourceRate
from portal.projects.rates import RateBook, fixed_fee_rate, source_hours, to_cents
from portal.timesheets.actuals import offering_actuals
from tests.factories import (
    AssignmentFactory,
    BookingFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    TimeEntryFactory,
    UserFactory,
    stage,
)


@pytest.mark.parametrize("source, expected", [(HoursSource.SOLD, Decimal("133.33")),
                                              (HoursSource.CURRENT, Decimal("166.67"))])
def test_the_fixed_fee_rate_is_the_fee_over_the_hours_source_to_the_cent(source, expected):
    offering = Offering(billing_model="fixed_bid", fixed_fee=Decimal("10000"), sold_hours=Decimal("75"),
                                     planned_hours=Decimal("60"))
    assert fixed_fee_rate(offering, source) == expected  # 133.333… and 166.666…, half-up to the cent
    retainer = Offering(billing_model="retainer", fixed_fee=Decimal("6000"), sold_hours=Decimal("40"),
                                     planned_hours=Decimal("40"))
    assert fixed_fee_rate(retainer, source) == Decimal("150.00")


def test_no_fixed_fee_rate_without_a_fee_or_without_hours_in_the_source():
    def offering(**values):
        return Offering(**{"billing_model": "fixed_bid", "fixed_fee": Decimal("8000"),
                                        "sold_hours": Decimal("40"), "planned_hours": Decimal("40"), **values})

    assert fixed_fee_rate(offering(fixed_fee=None), HoursSource.SOLD) is None
    assert fixed_fee_rate(offering(fixed_fee=Decimal("0")), HoursSource.SOLD) is None
    # Nothing sold yet: the planned hours do not stand in (they are the other source's).
    assert fixed_fee_rate(offering(sold_hours=Decimal("0")), HoursSource.SOLD) is None
    assert fixed_fee_rate(offering(planned_hours=Decimal("0")), HoursSource.CURRENT) is None
    assert fixed_fee_rate(offering(billing_model="time_and_materials"), HoursSource.SOLD) is None
    assert source_hours(offering(planned_hours=Decimal("12.5")), HoursSource.CURRENT) == Decimal("12.5")


def test_money_rounds_half_up_to_the_cent():
    assert to_cents(Decimal("0.005")) == Decimal("0.01") and to_cents(Decimal("2.675")) == Decimal("2.68")


def test_a_rate_applies_from_its_date_until_the_next():
    book = RateBook([(1, date(2026, 3, 1), Decimal("60")), (1, date(2026, 1, 1), Decimal("50")),
                     (2, date(2026, 2, 1), Decimal("70"))])
    assert book.on(1, date(2025, 12, 31)) is None
    assert (book.on(1, date(2026, 1, 1)), book.on(1, date(2026, 2, 28)), book.on(1, date(2026, 3, 1))) == (
        Decimal("50"), Decimal("50"), Decimal("60"))
    assert book.on(2, date(2026, 2, 1)) == Decimal("70") and book.on(3, date(2026, 2, 1)) is None


@pytest.mark.parametrize("source, rate", [(HoursSource.SOLD, Decimal("133.33")),
                                          (HoursSource.CURRENT, Decimal("166.67"))])
def test_actuals_forecasts_and_the_tools_use_the_same_fixed_fee_rate(session, source, rate):
    settings = get_settings(session)
    settings.timesheet_hours_source = source
    project = ProjectFactory(stage=stage("In Progress"))
    offering = OfferingFactory(project=project, billing_model="fixed_bid", fixed_fee=Decimal("10000"),
                               sold_hours=Decimal("75"), planned_hours=Decimal("60"))
    person = ResourceFactory()
    person.rates.append(ResourceRate(rate_type=RateType.SELL, amount=Decimal("999"), effective_from=date(2020, 1, 1)))
    assignment = AssignmentFactory(offering=offering, resource=person, bill_rate=Decimal("999"))
    TimeEntryFactory(offering=offering, resource=person, hours=Decimal("3"), work_date=date(2026, 3, 2))
    BookingFactory(project=project, offering=offering, resource=person, on=date(2026, 3, 2), hours=Decimal("3"))
    session.flush()

    assert offering_actuals(session, [offering.id])[offering.id].revenue == rate * 3
    _, rows, _ = forecasts.forecast(session, UserFactory(role="admin"), date(2026, 3, 1), 1)
    assert next(r for r in rows if r.project is project).values[0] == rate * 3
    assert rules.person_rate(assignment, settings) == rate
