"""Posting a timesheet costs a fixed few statements, however many entries, projects and fiscal periods it holds
(issue 14: approving and posting 1,000 timesheets within 5× a raw insert of their ledger rows)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from portal.extensions import db
from portal.finance.posting import post_timesheet
from tests.factories import OfferingFactory, ResourceFactory
from tests.finance.support import CROSSING, MONDAY, actuals, timesheet, unposted

# The timesheet locked with its person, settings and rates; its entries, transactions and unposted portions; the
# fiscal periods (share-locked); the items (locked); the transactions; their lines; the ledger totals; the posting
# state; the audit event.
FIRST_POSTING = 9
NEW_ITEMS = 1  # the items a first posting of a person on a project creates, in one statement
# A posting that finds the ledger right: the lock, the contents, the transactions in full, the periods.
NOTHING_TO_DO = 4


def _statements(session, timesheet_id: int) -> int:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_):
        statements.append(statement)

    session.expire_all()  # as a job starts: nothing read yet
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        post_timesheet(session, timesheet_id)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def _week(session, resource, start, offerings, days: int = 5):
    """A week of `resource` with an entry a day on each of `offerings`."""
    return timesheet(session, resource, start, [(offering, start + timedelta(days=day), 2)
                                                for offering in offerings for day in range(days)])


def test_a_posting_costs_the_same_few_statements_whatever_the_timesheet_holds(session, org, months):
    resource = ResourceFactory(rates={"cost": "50"})
    one, four = [OfferingFactory()], [OfferingFactory() for _ in range(4)]
    small = _week(session, resource, MONDAY, one, days=1)
    large = _week(session, resource, CROSSING, four, days=7)  # 28 entries on 4 projects over 2 fiscal periods

    assert _statements(session, small.id) <= FIRST_POSTING + NEW_ITEMS
    assert _statements(session, large.id) <= FIRST_POSTING + NEW_ITEMS
    assert len(actuals(session, timesheet_id=large.id)) == 8  # each project split at the period boundary

    # The same person on the same projects next week: the items exist.
    again = _week(session, resource, MONDAY + timedelta(weeks=1), four, days=7)
    assert _statements(session, again.id) <= FIRST_POSTING

    # Posting again finds the ledger right and writes nothing.
    assert _statements(session, large.id) <= NOTHING_TO_DO
    assert len(actuals(session, timesheet_id=large.id)) == 8 and unposted(session) == []
