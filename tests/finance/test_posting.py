"""Seed 003's posting rules, one test per rule, on the posting service itself."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from portal.finance import services as finance
from portal.finance.forecasts import refresh_forecast
from portal.finance.models import FinancialTransaction
from portal.finance.posting import post_timesheet
from portal.projects.models import ResourceRate
from portal.timesheets.models import PostingStatus
from tests.factories import (
    BookingFactory,
    CostCategoryFactory,
    FiscalPeriodFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
)
from tests.finance.support import CROSSING, MONDAY, actuals, items, ledger_state, timesheet, unposted


def _set_status(session, sheet, status):
    sheet.status = status
    session.flush()


def test_amount_is_hours_times_the_rate_of_the_chosen_type_effective_on_the_work_date(session, org):
    resource = ResourceFactory(rates={"cost": "50", "sell": "120"})
    # A raise from Wednesday: Monday and Tuesday keep the old rate.
    session.add(ResourceRate(resource=resource, rate_type="cost", amount=Decimal("60"),
                             effective_from=MONDAY + timedelta(days=2)))
    offering = OfferingFactory()
    sheet = timesheet(session, resource, MONDAY, [(offering, MONDAY, 8), (offering, MONDAY + timedelta(days=3), "7.5")])
    post_timesheet(session, sheet.id)
    (txn,) = actuals(session)
    assert txn.hours == Decimal("15.5") and txn.amount == Decimal("850.00")  # 8 × 50 + 7.5 × 60

    org.finance_rate_type = "sell"
    post_timesheet(session, sheet.id)
    (txn,) = actuals(session)
    assert txn.amount == Decimal("1860.00")  # 15.5 × 120


def test_resource_without_a_rate_is_skipped_without_an_error(session, org):
    resource = ResourceFactory(name="Rateless")  # no cost rate
    sheet = timesheet(session, resource, MONDAY, [(OfferingFactory(), MONDAY, 8)])
    outcome = post_timesheet(session, sheet.id)
    assert outcome.created == 0 and actuals(session) == [] and items(session) == []
    assert sheet.posting_status == PostingStatus.POSTED
    assert sheet.posting_note == ("8 h not posted: Rateless has no cost rate effective on 02 Mar. Add the rate and "
                                  "post again.")


def test_a_period_that_computes_to_zero_creates_no_transaction_and_says_so(session, org):
    resource = ResourceFactory(name="Pro Bono", rates={"cost": "0"})
    sheet = timesheet(session, resource, MONDAY, [(OfferingFactory(), MONDAY, "7.5")])
    post_timesheet(session, sheet.id)
    assert actuals(session) == [] and items(session) == []
    assert sheet.posting_note == "7.5 h not posted: at Pro Bono's cost rate of 0 they come to nothing."


def test_cost_category_is_the_projects_then_the_resources_then_the_system_default(session, org):
    project_category, resource_category = CostCategoryFactory(), CostCategoryFactory()
    with_default = OfferingFactory(project=ProjectFactory(default_cost_category_id=project_category.id))
    without = OfferingFactory()
    person = ResourceFactory(rates={"cost": "50"}, default_cost_category_id=resource_category.id)
    plain = ResourceFactory(rates={"cost": "50"})
    for resource in (person, plain):
        post_timesheet(session, timesheet(session, resource, MONDAY,
                                          [(with_default, MONDAY, 1), (without, MONDAY, 1)]).id)
    chosen = {(i.resource_id, i.project_id): i.cost_category_id for i in items(session)}
    assert chosen == {
        (person.id, with_default.project_id): project_category.id,
        (person.id, without.project_id): resource_category.id,
        (plain.id, with_default.project_id): project_category.id,
        (plain.id, without.project_id): org.default_cost_category_id,
    }


def test_no_cost_category_anywhere_is_recorded_as_not_posted(session, org):
    org.default_cost_category_id = None
    sheet = timesheet(session, ResourceFactory(rates={"cost": "50"}), MONDAY, [(OfferingFactory(), MONDAY, 2)])
    post_timesheet(session, sheet.id)
    (portion,) = unposted(session)
    assert actuals(session) == [] and portion.reason == "no_cost_category" and portion.amount == Decimal("100.00")


def test_all_entries_of_one_project_roll_into_one_transaction_with_a_line_per_offering(session, org):
    resource = ResourceFactory(rates={"cost": "50"})
    build = OfferingFactory()
    support = OfferingFactory(project=build.project)
    other = OfferingFactory()
    sheet = timesheet(session, resource, MONDAY, [
        (build, MONDAY, 4), (build, MONDAY + timedelta(days=1), 4), (support, MONDAY, 2), (other, MONDAY, 1)])
    post_timesheet(session, sheet.id)
    by_project = {t.item.project_id: t for t in actuals(session)}
    assert set(by_project) == {build.project_id, other.project_id}
    txn = by_project[build.project_id]
    assert txn.hours == 10 and txn.amount == Decimal("500.00")
    assert {(line.offering_id, line.hours, line.amount) for line in txn.lines} == {
        (build.id, Decimal("8"), Decimal("400.00")), (support.id, Decimal("2"), Decimal("100.00"))}


def test_first_posting_creates_an_item_named_after_the_resource_and_later_ones_reuse_it(session, org):
    resource = ResourceFactory(name="Dana Developer", rates={"cost": "50"})
    offering = OfferingFactory()
    for week in range(3):
        start = MONDAY + timedelta(weeks=week)
        post_timesheet(session, timesheet(session, resource, start, [(offering, start, 8)]).id)
    (item,) = items(session)
    assert item.name == "Dana Developer" and item.cost_category_id == org.default_cost_category_id
    assert len(actuals(session, item_id=item.id)) == 3

    # Another effective cost category is another item.
    offering.project.default_cost_category_id = CostCategoryFactory().id
    start = MONDAY + timedelta(weeks=3)
    post_timesheet(session, timesheet(session, resource, start, [(offering, start, 8)]).id)
    assert len(items(session)) == 2


def test_forecast_and_actuals_of_one_resource_and_category_share_one_item_whatever_the_order(session, org):
    resource = ResourceFactory(rates={"cost": "50"})
    first_forecast, first_actual = OfferingFactory(), OfferingFactory()
    for offering in (first_forecast, first_actual):
        BookingFactory(project=offering.project, offering=offering, resource=resource, on=MONDAY, hours=Decimal("8"))
    session.flush()

    refresh_forecast(session, first_forecast.project_id)
    post_timesheet(session, timesheet(session, resource, MONDAY, [(first_forecast, MONDAY, 8)]).id)
    post_timesheet(session, timesheet(session, resource, MONDAY + timedelta(weeks=1),
                                      [(first_actual, MONDAY + timedelta(weeks=1), 8)]).id)
    refresh_forecast(session, first_actual.project_id)

    for offering in (first_forecast, first_actual):
        (item,) = items(session, project_id=offering.project_id)
        kinds = session.scalars(select(FinancialTransaction.kind).where(FinancialTransaction.item_id == item.id))
        assert set(kinds) == {"actual", "forecast"}


def test_a_week_crossing_two_fiscal_periods_is_split_and_dated_at_the_period_end_and_the_week_end(
        session, org, months):
    resource = ResourceFactory(rates={"cost": "50"})
    offering = OfferingFactory()
    sheet = timesheet(session, resource, CROSSING, [(offering, CROSSING, 8), (offering, date(2026, 2, 27), 4),
                                                   (offering, date(2026, 3, 1), 2)])
    post_timesheet(session, sheet.id)
    february, march = actuals(session)
    assert (february.date, february.hours, february.fiscal_period.name) == (date(2026, 2, 28), 12, "2026-02")
    assert (march.date, march.hours, march.fiscal_period.name) == (date(2026, 3, 1), 2, "2026-03")
    assert "part 1 of 2" in february.split_note
    assert "falls into fiscal periods (2026-02, 2026-03)" in february.split_note
    assert "part 2 of 2" in march.split_note and "01 Mar – 01 Mar 2026" in march.split_note
    (item,) = items(session)  # both parts on one item


def test_a_week_crossing_periods_whose_time_falls_in_one_is_not_split(session, org, months):
    """Issue 15 item 11: all the hours on 1 March were badged "split, part 2 of 2"."""
    offering, other = OfferingFactory(), OfferingFactory()
    sheet = timesheet(session, ResourceFactory(rates={"cost": "50"}), CROSSING,
                      [(offering, date(2026, 3, 1), 4), (other, CROSSING, 2), (other, date(2026, 3, 1), 1)])
    post_timesheet(session, sheet.id)
    alone, *split = sorted(actuals(session), key=lambda t: (t.item.project_id != offering.project_id, t.date))
    assert (alone.date, alone.hours, alone.split_note) == (date(2026, 3, 1), 4, "")
    assert ["part 1 of 2" in split[0].split_note, "part 2 of 2" in split[1].split_note] == [True, True]


def test_a_week_crossing_any_number_of_fiscal_periods_gets_one_transaction_per_period(session, org):
    # A 4-4-5-style calendar cut into short periods: the week touches three of them.
    cuts = [(date(2026, 3, 2), date(2026, 3, 3)), (date(2026, 3, 4), date(2026, 3, 5)),
            (date(2026, 3, 6), date(2026, 3, 12))]
    for index, (start, end) in enumerate(cuts):
        FiscalPeriodFactory(name=f"W{index}", start_date=start, end_date=end)
    offering = OfferingFactory()
    sheet = timesheet(session, ResourceFactory(rates={"cost": "10"}), MONDAY,
                      [(offering, MONDAY + timedelta(days=d), 1) for d in range(7)])
    post_timesheet(session, sheet.id)
    parts = actuals(session)
    assert [(t.date, t.hours) for t in parts] == [(date(2026, 3, 3), 2), (date(2026, 3, 5), 2), (date(2026, 3, 8), 3)]
    assert ["part 1 of 3" in parts[0].split_note, "part 3 of 3" in parts[2].split_note] == [True, True]
    assert sum(t.amount for t in parts) == Decimal("70.00")


def test_a_portion_in_a_locked_period_is_not_posted_but_recorded(session, org, months):
    finance.set_period_lock(session, "test", months["2026-02"].id, True)
    offering = OfferingFactory()
    sheet = timesheet(session, ResourceFactory(rates={"cost": "50"}), CROSSING,
                      [(offering, CROSSING, 8), (offering, date(2026, 3, 1), 2)])
    post_timesheet(session, sheet.id)
    (posted,) = actuals(session)
    assert posted.date == date(2026, 3, 1) and posted.amount == Decimal("100.00")
    (portion,) = unposted(session)
    assert (portion.reason, portion.hours, portion.amount, portion.fiscal_period.name) == (
        "period_locked", Decimal("8"), Decimal("400.00"), "2026-02")
    assert portion.label == "Not posted: period locked"


def test_unlocking_posts_what_the_lock_held_back(session, org, months, run_jobs):
    finance.set_period_lock(session, "test", months["2026-02"].id, True)
    offering = OfferingFactory()
    sheet = timesheet(session, ResourceFactory(rates={"cost": "50"}), CROSSING,
                      [(offering, CROSSING, 8), (offering, date(2026, 3, 1), 2)])
    post_timesheet(session, sheet.id)
    finance.set_period_lock(session, "test", months["2026-02"].id, False)
    session.commit()
    run_jobs()
    assert [t.fiscal_period.name for t in actuals(session)] == ["2026-02", "2026-03"]
    assert unposted(session) == []


def test_recall_deletes_the_transactions_and_the_items_left_empty(session, org):
    resource = ResourceFactory(rates={"cost": "50"})
    kept, emptied = OfferingFactory(), OfferingFactory()
    BookingFactory(project=kept.project, resource=resource, on=MONDAY + timedelta(weeks=4))
    session.flush()
    refresh_forecast(session, kept.project_id)  # this item also holds a forecast
    sheet = timesheet(session, resource, MONDAY, [(kept, MONDAY, 8), (emptied, MONDAY, 8)])
    post_timesheet(session, sheet.id)
    assert len(actuals(session)) == 2 and len(items(session)) == 2

    _set_status(session, sheet, "recalled")
    outcome = post_timesheet(session, sheet.id)
    assert outcome.deleted == 2 and actuals(session) == []
    (survivor,) = items(session)
    assert survivor.project_id == kept.project_id
    assert sheet.posting_status == PostingStatus.NONE


def test_recall_leaves_transactions_in_a_period_locked_since_posting(session, org, months):
    offering = OfferingFactory()
    sheet = timesheet(session, ResourceFactory(rates={"cost": "50"}), MONDAY, [(offering, MONDAY, 8)])
    post_timesheet(session, sheet.id)
    (txn,) = actuals(session)
    finance.set_period_lock(session, "test", months["2026-03"].id, True)
    _set_status(session, sheet, "recalled")
    post_timesheet(session, sheet.id)
    (still,) = actuals(session)
    assert (still.id, still.amount) == (txn.id, Decimal("400.00"))
    (portion,) = unposted(session)  # finance is told the ledger holds money of a recalled timesheet
    assert portion.amount == Decimal("-400.00") and "no longer approved" in portion.detail
    assert len(items(session)) == 1


def test_recall_of_a_half_locked_split_deletes_only_the_open_side(session, org, months):
    offering = OfferingFactory()
    sheet = timesheet(session, ResourceFactory(rates={"cost": "50"}), CROSSING,
                      [(offering, CROSSING, 8), (offering, date(2026, 3, 1), 2)])
    post_timesheet(session, sheet.id)
    february, _ = actuals(session)
    finance.set_period_lock(session, "test", months["2026-02"].id, True)
    _set_status(session, sheet, "recalled")
    post_timesheet(session, sheet.id)
    (left,) = actuals(session)
    assert left.id == february.id


def test_approve_recall_approve_leaves_exactly_the_ledger_of_one_approval(session, org, months):
    resource = ResourceFactory(rates={"cost": "55"})
    offering = OfferingFactory()
    BookingFactory(project=offering.project, offering=offering, resource=resource, on=CROSSING)
    session.flush()
    refresh_forecast(session, offering.project_id)
    sheet = timesheet(session, resource, CROSSING, [(offering, CROSSING, "7.25"), (offering, date(2026, 3, 1), 3)])
    post_timesheet(session, sheet.id)
    once = ledger_state(session)
    assert len(once) == 3  # two actual parts and a forecast

    for status in ("recalled", "submitted", "approved"):
        _set_status(session, sheet, status)
        post_timesheet(session, sheet.id)
    assert ledger_state(session) == once
    assert post_timesheet(session, sheet.id).changed is False  # and posting again is a no-op


def test_time_outside_every_fiscal_period_posts_without_a_period(session, org):
    sheet = timesheet(session, ResourceFactory(rates={"cost": "50"}), MONDAY, [(OfferingFactory(), MONDAY, 8)])
    post_timesheet(session, sheet.id)
    (txn,) = actuals(session)
    assert txn.fiscal_period_id is None and txn.date == MONDAY + timedelta(days=6) and txn.split_note == ""
    # A period created later files it.
    period = finance.create_fiscal_period(session, "test", "2026-03", date(2026, 3, 1), date(2026, 3, 31))
    session.refresh(txn)
    assert txn.fiscal_period_id == period.id


def test_with_finance_sync_off_nothing_is_posted_and_the_timesheet_is_held(session, org):
    org.finance_sync_enabled = False
    sheet = timesheet(session, ResourceFactory(rates={"cost": "50"}), MONDAY, [(OfferingFactory(), MONDAY, 8)])
    post_timesheet(session, sheet.id)
    assert actuals(session) == [] and sheet.posting_status == PostingStatus.HELD
