"""Property test over random sequences of approve, recall, hold, reopen, close and the rule for periods on
hold (issues 6 and 16).

After every step (with the posting work done, as the jobs would):
- no transaction inside a locked period (on hold or closed) was added, changed or deleted since the lock;
- for every open period (and outside all periods) the money belonging to it, wherever it is posted (late
  postings name the locked period they belong to), equals the approved hours × rate there;
- for every timesheet, posted money plus the recorded unposted portions equals what it should have
  posted (approved) or nothing (otherwise): locks hold money back, they never lose track of it;
- money is held back (unposted) only for periods on hold under the "hold" rule; a late posting belongs to
  a closed period, or to one on hold under the "post late" rule, and is dated on the first open day after
  it (unless that day has been locked since);
- no two items for one project, resource and cost category, and no item without transactions.

Hours are quarter hours and rates whole numbers, so every amount is exact in cents and the expected
ledger is computed here independently of the posting code.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from portal.errors import Conflict
from portal.finance import batches
from portal.finance import services as finance
from portal.finance.models import FinancialItem, FinancialTransaction, FiscalPeriod, LedgerTotal, UnpostedPortion
from portal.finance.posting import post_timesheet
from portal.org.services import get_settings
from portal.projects.models import ResourceRate
from portal.runs.models import SyncRun
from portal.timesheets import workflow
from portal.timesheets.models import TimesheetStatus
from tests.factories import FiscalPeriodFactory, OfferingFactory, ProjectFactory, ResourceFactory
from tests.finance.support import timesheet

ACTOR = "property test"
# Periods leave a gap before 1 Feb, and cut weeks mid-way: 1–28 Feb, 1–4 Mar, 5–31 Mar.
PERIODS = [("A", date(2026, 2, 1), date(2026, 2, 28)), ("B", date(2026, 3, 1), date(2026, 3, 4)),
           ("C", date(2026, 3, 5), date(2026, 3, 31))]
WEEKS = [date(2026, 1, 26), date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9)]
RAISE = date(2026, 3, 4)  # the second person's rate goes from 40 to 60

step = st.one_of(
    st.tuples(st.just("approve"), st.integers(0, len(WEEKS) - 1)),
    st.tuples(st.just("recall"), st.integers(0, len(WEEKS) - 1), st.sampled_from([None, "draft", "submitted"])),
    st.tuples(st.just("lock"), st.integers(0, len(PERIODS) - 1)),
    st.tuples(st.just("unlock"), st.integers(0, len(PERIODS) - 1)),
    st.tuples(st.just("close"), st.integers(0, len(PERIODS) - 1)),
    st.tuples(st.just("rule"), st.sampled_from(["hold", "next_open"])),
)
hours = st.sampled_from([Decimal("0.25"), Decimal("1"), Decimal("2.5"), Decimal("7.75"), Decimal("8")])


def _world(session, week_hours):
    periods = [FiscalPeriodFactory(name=n, start_date=s, end_date=e) for n, s, e in PERIODS]
    alpha = OfferingFactory(project=ProjectFactory(name="Alpha"))
    beta = OfferingFactory(project=ProjectFactory(name="Beta"))
    beta_support = OfferingFactory(project=beta.project)
    ann = ResourceFactory(name="Ann", rates={"cost": "50"})
    bob = ResourceFactory(name="Bob", rates={"cost": "40"})
    session.add(ResourceRate(resource=bob, rate_type="cost", amount=Decimal("60"), effective_from=RAISE))
    offerings = [alpha, beta, beta_support]
    sheets = []
    for index, start in enumerate(WEEKS):
        person = (ann, bob)[index % 2]
        entries = [(offerings[(index + day) % 3], start + timedelta(days=day), h)
                   for day, h in enumerate(week_hours[index])]
        sheets.append(timesheet(session, person, start, entries, status="submitted"))
    return periods, sheets


def _rate(sheet, day):
    if sheet.resource.name == "Ann":
        return Decimal("50")
    return Decimal("60") if day >= RAISE else Decimal("40")


def _period_of(periods, day):
    return next((p.id for p in periods if p.start_date <= day <= p.end_date), None)


def _expected(sheets, periods):
    """Approved money by period id (None: outside every period), and each timesheet's total."""
    by_period, by_sheet = defaultdict(Decimal), defaultdict(Decimal)
    for sheet in sheets:
        if sheet.status != TimesheetStatus.APPROVED:
            continue
        for entry in sheet.entries:
            amount = entry.hours * _rate(sheet, entry.work_date)
            by_period[_period_of(periods, entry.work_date)] += amount
            by_sheet[sheet.id] += amount
    return by_period, by_sheet


def _settle(session, sheet):
    """What the posting job does after a transition."""
    post_timesheet(session, sheet.id, ACTOR)


def _settle_run(session, run):
    """What the finance run a state or rule change starts does."""
    for target_kind, ident in batches.list_targets(session, run):
        batches.bring_up_to_date(session, target_kind, ident)


def _apply(session, op, periods, sheets):
    kind = op[0]
    if kind == "approve":
        sheet = sheets[op[1]]
        if sheet.status == TimesheetStatus.APPROVED:
            return
        for action in {"recalled": ["resubmit"], "draft": ["submit"], "rejected": ["submit"]}.get(sheet.status, []):
            workflow.transition(session, ACTOR, sheet.id, action, sheet.version)
        workflow.transition(session, ACTOR, sheet.id, "approve", sheet.version)
        _settle(session, sheet)
    elif kind == "recall":
        sheet = sheets[op[1]]
        if sheet.status == TimesheetStatus.APPROVED:
            workflow.recall(session, ACTOR, sheet.id, sheet.version, "property test", then=op[2])
            _settle(session, sheet)
    elif kind == "rule":
        if finance.set_locked_period_rule(session, ACTOR, op[1]):
            _settle_run(session, session.scalars(select(SyncRun).where(SyncRun.kind == batches.RULE_CHANGED)
                                                 .order_by(SyncRun.id.desc())).first())
            _finish_runs(session)
    else:
        period = periods[op[1]]
        if period.closed:
            with pytest.raises(Conflict):  # nobody reopens or changes a closed period
                finance.set_period_lock(session, ACTOR, period.id, kind == "lock")
            return
        if kind == "lock":
            finance.set_period_lock(session, ACTOR, period.id, True)
        elif kind == "close":
            finance.close_period(session, ACTOR, period.id, period.name)
            _settle_run(session, batches.latest_period_run(session, period.id))
        elif period.locked:
            finance.set_period_lock(session, ACTOR, period.id, False)
            _settle_run(session, batches.latest_period_run(session, period.id))
        _finish_runs(session)


def _finish_runs(session):
    """Runs end once done, so a later change starts its own (a running one would be joined)."""
    session.execute(update(SyncRun).where(SyncRun.status.in_(("queued", "running"))).values(status="succeeded"))


def _transactions(session):
    return list(session.scalars(select(FinancialTransaction).where(FinancialTransaction.kind == "actual")))


def _first_open_day(periods, day):
    while (period := next((p for p in periods if p.start_date <= day <= p.end_date), None)) and period.locked:
        day = period.end_date + timedelta(days=1)
    return day


def _check(session, periods, sheets, frozen):
    txns = _transactions(session)
    rule = get_settings(session).locked_period_actuals
    # Locked periods: exactly the transactions they had when they were locked.
    for period in periods:
        inside = {(t.id, t.posting_key, t.date, t.hours, t.amount, t.item_id) for t in txns
                  if period.start_date <= t.date <= period.end_date}
        if period.locked:
            assert inside == frozen[period.id], f"{period.name} changed while {period.state}"
        else:
            frozen[period.id] = inside
    # Open periods and the gap: the money belonging there, wherever posted, is the approved hours × rate.
    expected, per_sheet = _expected(sheets, periods)
    belonging = defaultdict(Decimal)
    for t in txns:
        belonging[t.belongs_to_period_id or _period_of(periods, t.date)] += t.amount
    for period_id in [None, *(p.id for p in periods if not p.locked)]:
        assert belonging[period_id] == expected[period_id], f"open period {period_id}"
    # Late postings not locked in since: for a closed period, or one on hold under the "post late" rule, dated on
    # the first open day after it.
    by_id = {p.id: p for p in periods}
    for t in txns:
        if t.belongs_to_period_id is None:
            continue
        home = by_id[t.belongs_to_period_id]
        if not any(p.locked and p.start_date <= t.date <= p.end_date for p in periods):  # still movable
            assert home.locked, f"late posting for the open period {home.name}"
            assert home.closed or rule == "next_open", f"late posting for {home.name} under the hold rule"
            assert t.date == _first_open_day(periods, home.end_date + timedelta(days=1))
    # Held back only for periods on hold under the "hold" rule.
    for portion in session.scalars(select(UnpostedPortion)):
        period = by_id[portion.fiscal_period_id]
        assert period.state == "on_hold" and rule == "hold", f"held back for {period.name} ({period.state}, {rule})"
    # Every timesheet: posted + unposted == what it should have posted.
    posted = defaultdict(Decimal)
    for t in txns:
        posted[t.timesheet_id] += t.amount
    unposted = dict(session.execute(select(UnpostedPortion.timesheet_id, func.sum(UnpostedPortion.amount))
                                    .group_by(UnpostedPortion.timesheet_id)).all())
    for sheet in sheets:
        assert posted[sheet.id] + Decimal(unposted.get(sheet.id, 0)) == per_sheet[sheet.id], sheet.status
    # Items: one per project, resource and cost category; none left empty.
    duplicates = session.execute(
        select(FinancialItem.project_id, FinancialItem.resource_id, FinancialItem.cost_category_id)
        .group_by(FinancialItem.project_id, FinancialItem.resource_id, FinancialItem.cost_category_id)
        .having(func.count() > 1)).all()
    empty = session.scalars(select(FinancialItem.id).where(
        ~select(FinancialTransaction.id).where(FinancialTransaction.item_id == FinancialItem.id).exists())).all()
    assert duplicates == [] and empty == []
    # The totals kept per kind and fiscal period (Finance → Actuals) match the transactions.
    kept = {(k, p): (c, h, a) for k, p, c, h, a in session.execute(select(
        LedgerTotal.kind, LedgerTotal.period_key, LedgerTotal.count, LedgerTotal.hours, LedgerTotal.amount))
        if c or h or a}
    summed = {(k, p or 0): (c, h, a) for k, p, c, h, a in session.execute(select(
        FinancialTransaction.kind, FinancialTransaction.fiscal_period_id, func.count(),
        func.sum(FinancialTransaction.hours), func.sum(FinancialTransaction.amount))
        .group_by(FinancialTransaction.kind, FinancialTransaction.fiscal_period_id))}
    assert kept == summed


EIGHT_HOURS = [[Decimal("8")] * 5] * len(WEEKS)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# The stories the issue names, always run, whatever the random draw: a recall after a lock, a half-locked
# split, re-approval while locked, and an unlock that posts what was held back.
@example(steps=[("approve", 1), ("lock", 0), ("recall", 1, None), ("unlock", 0)], week_hours=EIGHT_HOURS)
@example(steps=[("approve", 2), ("lock", 1), ("recall", 2, "submitted"), ("approve", 2), ("unlock", 1)],
         week_hours=EIGHT_HOURS)
@example(steps=[("lock", 2), ("approve", 2), ("approve", 3), ("unlock", 2), ("recall", 3, "draft")],
         week_hours=EIGHT_HOURS)
# Issue 16: a held portion posts late when its period closes; a recall after a close posts the reversal late;
# under the "post late" rule a reopened period takes its money back home; a late posting's own period locks.
@example(steps=[("lock", 0), ("approve", 1), ("close", 0), ("recall", 1, "draft")], week_hours=EIGHT_HOURS)
@example(steps=[("rule", "next_open"), ("lock", 1), ("approve", 2), ("unlock", 1), ("lock", 1), ("lock", 2),
                ("approve", 3), ("recall", 2, "submitted"), ("close", 1), ("rule", "hold"), ("unlock", 2)],
         week_hours=EIGHT_HOURS)
@example(steps=[("approve", 1), ("lock", 0), ("rule", "next_open"), ("recall", 1, None), ("lock", 1),
                ("lock", 2), ("unlock", 0), ("approve", 1), ("close", 0)], week_hours=EIGHT_HOURS)
# Found by the random draw in CI (5 Dec): a late posting of a closed period that skipped a period on hold moves
# to that period's first day when it reopens.
@example(steps=[("lock", 1), ("close", 0), ("approve", 1), ("unlock", 1)], week_hours=[[Decimal("0.25")]] * 4)
@given(steps=st.lists(step, min_size=1, max_size=16),
       week_hours=st.lists(st.lists(hours, min_size=1, max_size=7), min_size=len(WEEKS), max_size=len(WEEKS)))
def test_random_approvals_recalls_and_locks_keep_the_ledger_right(session, org, steps, week_hours):
    example = session.begin_nested()  # each example starts from the same empty ledger
    try:
        periods, sheets = _world(session, week_hours)
        frozen: dict[int, set] = {}
        _check(session, periods, sheets, frozen)
        for op in steps:
            _apply(session, op, periods, sheets)
            session.flush()
            _check(session, periods, sheets, frozen)
    finally:
        example.rollback()
        session.expire_all()
    assert session.scalar(select(func.count()).select_from(FiscalPeriod)) == 0
