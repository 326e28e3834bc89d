"""Helpers for the timesheet and finance tests: timesheets built directly (the posting rules are tested
on their own), and the ledger read back. The `org` and `months` fixtures are in tests/conftest.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from portal.finance.models import FinancialItem, FinancialTransaction, UnpostedPortion
from tests.factories import TimeEntryFactory, TimesheetFactory

MONDAY = date(2026, 3, 2)  # a week wholly inside March 2026
CROSSING = date(2026, 2, 23)  # Mon 23 Feb – Sun 1 Mar: crosses February and March


def timesheet(session, resource, start: date, entries, status: str = "approved"):
    """A week of `resource` from `start` with entries [(offering, day, hours)], in `status`."""
    sheet = TimesheetFactory(resource=resource, period_start=start, status=status)
    for offering, day, hours in entries:
        TimeEntryFactory(resource=resource, offering=offering, work_date=day, hours=Decimal(str(hours)),
                         timesheet=sheet)
    session.flush()
    session.refresh(sheet)
    return sheet


def actuals(session, **where):
    query = select(FinancialTransaction).where(FinancialTransaction.kind == "actual").order_by(
        FinancialTransaction.date, FinancialTransaction.id)
    for key, value in where.items():
        query = query.where(getattr(FinancialTransaction, key) == value)
    return list(session.scalars(query))


def items(session, **where):
    query = select(FinancialItem).order_by(FinancialItem.id)
    for key, value in where.items():
        query = query.where(getattr(FinancialItem, key) == value)
    return list(session.scalars(query))


def unposted(session):
    return list(session.scalars(select(UnpostedPortion).order_by(UnpostedPortion.start_date)))


def ledger_state(session) -> set[tuple]:
    """The ledger by content (no ids, no instants): what "the same ledger" means."""
    rows = session.execute(
        select(FinancialTransaction, FinancialItem).join(FinancialItem)
    ).all()
    return {(t.posting_key, t.kind, i.project_id, i.resource_id, i.cost_category_id, i.name, t.date, t.hours,
             t.amount, t.fiscal_period_id, t.split_note,
             frozenset((line.offering_id, line.hours, line.amount) for line in t.lines)) for t, i in rows}
