"""Finance reference data (cost categories, fiscal periods and their locks) and the batch runs."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from portal.audit import AuditEvent
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.finance import batches, receivers
from portal.finance import services as finance
from portal.finance.models import FiscalPeriod
from portal.finance.posting import post_timesheet
from portal.runs.models import SyncRun
from portal.timesheets.models import PostingStatus
from tests.factories import OfferingFactory, ResourceFactory, UserFactory
from tests.finance.support import MONDAY, actuals, timesheet


def _audit(session, action):
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_fiscal_periods_may_not_overlap(session):
    admin = UserFactory(role="admin")
    finance.create_fiscal_period(session, admin, "2026-03", date(2026, 3, 1), date(2026, 3, 31))
    with pytest.raises(Conflict, match="may not overlap: 2026-03"):
        finance.create_fiscal_period(session, admin, "Q1 tail", date(2026, 3, 31), date(2026, 4, 15))
    with pytest.raises(InvalidInput):
        finance.create_fiscal_period(session, admin, "Backwards", date(2026, 5, 2), date(2026, 5, 1))
    finance.create_fiscal_period(session, admin, "2026-04", date(2026, 4, 1), date(2026, 4, 30))
    assert [p.name for p in finance.list_fiscal_periods(session)] == ["2026-03", "2026-04"]
    assert len(_audit(session, "fiscal_period.created")) == 2


@pytest.mark.postgres
def test_postgres_refuses_overlapping_periods_even_past_the_service(session):
    session.add(FiscalPeriod(name="A", start_date=date(2026, 3, 1), end_date=date(2026, 3, 31)))
    session.flush()
    with pytest.raises(IntegrityError, match="ex_fiscal_periods_no_overlap"), session.begin_nested():
        session.execute(text("INSERT INTO fiscal_periods (name, start_date, end_date, locked, created_at, updated_at) "
                             "VALUES ('B', '2026-03-31', '2026-04-30', false, now(), now())"))


def test_lock_and_unlock_are_audited_and_admins_only(session, months):
    admin, pm = UserFactory(role="admin"), UserFactory(role="pm", permissions=["maintain_projects"])
    period = months["2026-03"]
    with pytest.raises(NotAllowed):
        finance.set_period_lock(session, pm, period.id, True)
    finance.set_period_lock(session, admin, period.id, True)
    assert period.locked and period.locked_by_id == admin.id
    finance.set_period_lock(session, admin, period.id, False)
    assert not period.locked
    (locked,), (unlocked,) = _audit(session, "fiscal_period.locked"), _audit(session, "fiscal_period.unlocked")
    assert (locked.actor_id, locked.after, unlocked.after) == (admin.id, {"locked": True}, {"locked": False})
    (run,) = session.scalars(select(SyncRun).where(SyncRun.kind == batches.PERIOD_UNLOCKED)).all()
    assert run.params == {"period_id": period.id}


def test_cost_categories_are_created_renamed_and_deactivated_with_an_audit_trail(session):
    admin = UserFactory(role="admin")
    category = finance.create_cost_category(session, admin, "Travel", "TRV")
    with pytest.raises(Conflict):
        finance.create_cost_category(session, admin, "Travel")
    finance.update_cost_category(session, admin, category.id, name="Travel and lodging", code="TRV", active=False)
    assert [c.name for c in finance.list_cost_categories(session)] == []
    (changed,) = _audit(session, "cost_category.updated")
    assert changed.before == {"name": "Travel", "active": True}
    with pytest.raises(NotAllowed):
        finance.create_cost_category(session, UserFactory(role="staff"), "Nope")


def test_post_now_posts_timesheets_approved_while_the_sync_was_off(session, org, run_jobs):
    org.finance_sync_enabled = False
    sheets = [timesheet(session, ResourceFactory(rates={"cost": "50"}), MONDAY, [(OfferingFactory(), MONDAY, 8)])
              for _ in range(3)]
    for sheet in sheets:
        post_timesheet(session, sheet.id)
    admin = UserFactory(role="admin")
    with pytest.raises(Conflict, match="Sync is off"):
        batches.start_post_held(session, admin)
    assert batches.held_count(session) == 3

    org.finance_sync_enabled = True
    run = batches.start_post_held(session, admin)
    session.commit()
    run_jobs()
    session.refresh(run)
    assert run.status == "succeeded" and run.progress_done == run.progress_total == 3
    assert run.counts == {"timesheet_transactions_created": 3, "timesheet_transactions_deleted": 0}
    assert len(actuals(session)) == 3 and batches.held_count(session) == 0


def test_a_lost_posting_job_is_asked_for_again(session, org):
    sheet = timesheet(session, ResourceFactory(rates={"cost": "50"}), MONDAY, [(OfferingFactory(), MONDAY, 8)])
    sheet.posting_status = PostingStatus.PENDING
    sheet.posting_requested_at = sheet.created_at - timedelta(hours=1)
    session.flush()
    assert receivers.requeue_stale_postings(session) == [sheet.id]
    assert receivers.requeue_stale_postings(session) == []  # asked again just now: wait before the next try
    assert sheet.posting_status == PostingStatus.PENDING


def test_actuals_csv_lists_the_filtered_transactions_safely(session, org, months):
    from portal.finance import reports

    resource = ResourceFactory(name="=cmd|' /C calc'!A0", rates={"cost": "50"})
    offering = OfferingFactory()
    post_timesheet(session, timesheet(session, resource, MONDAY, [(offering, MONDAY, 8)]).id)
    post_timesheet(session, timesheet(session, ResourceFactory(rates={"cost": "10"}), date(2026, 4, 6),
                                      [(OfferingFactory(), date(2026, 4, 6), 1)]).id)
    text_ = "".join(reports.transactions_csv(session, reports.LedgerFilters(period_id=months["2026-03"].id)))
    header, row, end = text_.split("\r\n")
    assert header.startswith("date,project,item,cost_category,kind,hours,amount,fiscal_period")
    assert row.startswith(f"2026-03-08,{offering.project.name},'=cmd") and ",actual,8.00,400.00,2026-03," in row
    assert end == ""
    assert reports.totals(session, reports.LedgerFilters()) == (2, Decimal("9"), Decimal("410.00"))


def test_the_ledger_pages_newest_first_by_cursor(session, org):
    from portal.finance import reports

    offering = OfferingFactory()
    for week in range(5):
        start = MONDAY + timedelta(weeks=week)
        post_timesheet(session, timesheet(session, ResourceFactory(rates={"cost": "1"}), start,
                                          [(offering, start, 1)]).id)
    seen, cursor = [], None
    while True:
        rows, cursor = reports.transactions(session, reports.LedgerFilters(), after=cursor, limit=2)
        seen.append([t.date for t in rows])
        if cursor is None:
            break
    assert [len(p) for p in seen] == [2, 2, 1]
    dates = [d for p in seen for d in p]
    assert dates == sorted(dates, reverse=True) and len(set(dates)) == 5
    with pytest.raises(InvalidInput, match="page link is broken"):
        reports.transactions(session, reports.LedgerFilters(), after="yesterday")
