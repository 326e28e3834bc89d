"""Concurrent approvals of one timesheet post once (PostgreSQL: real row locks, two connections)."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal import jobs
from portal.audit import AuditEvent
from portal.auth.models import User
from portal.errors import Conflict
from portal.extensions import db
from portal.finance.models import FinancialItem, FinancialTransaction
from portal.org.services import get_settings
from portal.timesheets import workflow
from tests.factories import CostCategoryFactory, OfferingFactory, ResourceFactory, UserFactory
from tests.finance.support import CROSSING, timesheet

pytestmark = [pytest.mark.postgres, pytest.mark.committed]


def _together(count: int, work) -> list:
    """Run `work(index)` in `count` threads released at the same moment; their results (or errors)."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as error:  # collected and asserted on by the test
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def _finance_on(session):
    settings = get_settings(session)
    settings.finance_sync_enabled = True
    settings.default_cost_category_id = CostCategoryFactory().id
    return ResourceFactory(rates={"cost": "50"}), OfferingFactory()


def test_concurrent_approvals_of_one_timesheet_post_once(app, committed):
    with committed() as session:
        resource, offering = _finance_on(session)
        sheet = timesheet(session, resource, CROSSING, [(offering, CROSSING, 8), (offering, CROSSING, 2)],
                          status="submitted")
        approvers = [UserFactory(role="approver").id, UserFactory(role="admin").id]
        sheet_id, version = sheet.id, sheet.version

    def approve(index: int) -> str:
        with app.app_context():
            try:
                workflow.transition(db.session, db.session.get(User, approvers[index]), sheet_id, "approve", version)
                db.session.commit()
                return "approved"
            except Conflict:
                db.session.rollback()
                return "refused"
            finally:
                db.session.remove()

    assert sorted(_together(2, approve)) == ["approved", "refused"]

    # The posting job delivered twice at once (a retry racing the first run): the row lock serialises them.
    outcomes = _together(3, lambda _: jobs.post_timesheet_actuals(sheet_id))
    assert sorted(o["created"] for o in outcomes) == [0, 0, 1], outcomes

    with app.app_context():
        session = db.session
        (txn,) = session.scalars(select(FinancialTransaction)).all()
        assert (txn.hours, txn.amount) == (Decimal("10"), Decimal("500.00"))
        assert session.scalar(select(func.count()).select_from(FinancialItem)) == 1
        posted = session.scalars(select(AuditEvent.action).where(AuditEvent.subject_type == "timesheets")).all()
        assert sorted(posted) == ["timesheet.actuals_posted", "timesheet.approved"]
        db.session.remove()


def test_concurrent_first_postings_of_one_person_share_one_item(app, committed):
    """Two timesheets of one person on one project post at once: the item's unique key keeps it single."""
    with committed() as session:
        resource, offering = _finance_on(session)
        weeks = [CROSSING + timedelta(weeks=w) for w in range(4)]
        ids = [timesheet(session, resource, start, [(offering, start, 8)]).id for start in weeks]

    outcomes = _together(len(ids), lambda index: jobs.post_timesheet_actuals(ids[index]))
    assert all(isinstance(o, dict) and o["created"] == 1 for o in outcomes), outcomes
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(FinancialItem)) == 1
        assert db.session.scalar(select(func.count()).select_from(FinancialTransaction)) == 4
        db.session.remove()
