"""Offering actuals from time entries: hours, cost at the rate of the day, revenue at the right rate."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from portal.projects.models import RateType, ResourceRate
from portal.timesheets.actuals import Actuals, offering_actuals
from tests.factories import AssignmentFactory, OfferingFactory, ResourceFactory, TimeEntryFactory


def rates(resource, kind, *changes):
    for day, amount in changes:
        resource.rates.append(ResourceRate(rate_type=RateType(kind), amount=Decimal(amount), effective_from=day))


def test_cost_uses_the_cost_rate_effective_on_each_work_date(session):
    person = ResourceFactory()
    rates(person, "cost", (date(2026, 1, 1), "50"), (date(2026, 3, 1), "60"))
    offering = OfferingFactory()
    AssignmentFactory(offering=offering, resource=person, bill_rate=Decimal("100"))
    TimeEntryFactory(offering=offering, resource=person, work_date=date(2026, 2, 27), hours=Decimal("2"))
    TimeEntryFactory(offering=offering, resource=person, work_date=date(2026, 3, 1), hours=Decimal("3"))
    session.flush()
    actuals = offering_actuals(session, [offering.id])[offering.id]
    assert actuals == Actuals(hours=Decimal("5"), billable_hours=Decimal("5"), cost=Decimal("280.00"),
                              revenue=Decimal("500.00"), unpriced_hours=Decimal("0"))


def test_hours_without_a_cost_rate_are_counted_apart(session):
    person = ResourceFactory()
    rates(person, "cost", (date(2026, 3, 1), "50"))
    offering = OfferingFactory()
    TimeEntryFactory(offering=offering, resource=person, work_date=date(2026, 2, 1), hours=Decimal("4"))
    session.flush()
    actuals = offering_actuals(session, [offering.id])[offering.id]
    assert (actuals.cost, actuals.unpriced_hours) == (Decimal("0"), Decimal("4"))


def test_revenue_prefers_the_entrys_rate_then_the_assignments_then_the_sell_rate(session):
    assigned, unassigned = ResourceFactory(), ResourceFactory()
    rates(unassigned, "sell", (date(2020, 1, 1), "90"))
    offering = OfferingFactory()
    AssignmentFactory(offering=offering, resource=assigned, bill_rate=Decimal("120"))
    TimeEntryFactory(offering=offering, resource=assigned, hours=Decimal("1"), bill_rate=Decimal("100"))
    TimeEntryFactory(offering=offering, resource=assigned, hours=Decimal("1"), work_date=date(2026, 3, 4))
    TimeEntryFactory(offering=offering, resource=unassigned, hours=Decimal("1"))
    TimeEntryFactory(offering=offering, resource=assigned, hours=Decimal("5"), billable=False,
                     work_date=date(2026, 3, 5))
    session.flush()
    actuals = offering_actuals(session, [offering.id])[offering.id]
    assert actuals.revenue == Decimal("310.00")
    assert (actuals.hours, actuals.billable_hours) == (Decimal("8"), Decimal("3"))


def test_fixed_bids_earn_their_effective_rate_and_internal_work_earns_nothing(session):
    person = ResourceFactory()
    fixed = OfferingFactory(billing_model="fixed_bid", fixed_fee=Decimal("10000"), sold_hours=Decimal("80"))
    internal = OfferingFactory(billing_model="internal")
    AssignmentFactory(offering=fixed, resource=person, bill_rate=Decimal("999"))
    TimeEntryFactory(offering=fixed, resource=person, hours=Decimal("8"))
    TimeEntryFactory(offering=internal, resource=person, hours=Decimal("8"))
    session.flush()
    result = offering_actuals(session, [fixed.id, internal.id])
    assert result[fixed.id].revenue == Decimal("1000.00"), "10,000 over 80 sold hours = 125 per hour"
    assert result[internal.id].revenue == Decimal("0.00")


def test_every_offering_asked_for_gets_an_answer(session):
    empty = OfferingFactory()
    session.flush()
    assert offering_actuals(session, [empty.id]) == {empty.id: Actuals()}
    assert offering_actuals(session, []) == {}
