"""Approving many timesheets at once costs a fixed few statements per timesheet (issue 14: approving and posting
1,000 timesheets within 5× a raw insert): what every decision shares (the timesheets, their people and projects,
whom the approver stands in for, the organization's settings) is read once for the batch."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, select

from portal.auth.models import User
from portal.extensions import db
from portal.org.services import get_settings
from portal.timesheets import workflow
from portal.timesheets.models import Timesheet
from tests.factories import OfferingFactory, ResourceFactory, UserFactory
from tests.finance.support import MONDAY, timesheet

# The guarded update; the audit events and posting requests of all the decisions are written together at the end,
# a statement each whatever their number (SQLite: an insert per audit event, as it returns their ids one by one).
PER_APPROVAL = {"postgresql": 1, "sqlite": 2}


def _approve(session, approver_id: int, count: int) -> int:
    offering = OfferingFactory()
    ids = []
    for index in range(count):
        sheet = timesheet(session, ResourceFactory(rates={"cost": "40"}), MONDAY + timedelta(weeks=index % 3),
                          [(offering, MONDAY, 8)], status="submitted")
        ids.append(sheet.id)
    session.commit()
    session.expunge_all()  # as a request starts: nothing read yet
    versions = list(session.execute(select(Timesheet.id, Timesheet.version).where(Timesheet.id.in_(ids))).all())
    statements: list[str] = []

    def count_statement(_conn, _cursor, statement, *_):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count_statement)
    try:
        result = workflow.decide_many(session, session.get(User, approver_id), "approve", versions)
    finally:
        event.remove(db.engine, "before_cursor_execute", count_statement)
    assert len(result.done) == count and not result.refused
    return len(statements)


def test_each_approval_in_a_batch_costs_a_fixed_few_statements(session):
    approver_id = UserFactory(role="approver").id
    get_settings(session).finance_sync_enabled = True  # approving asks for the actuals to be posted
    per_approval = PER_APPROVAL[session.get_bind().dialect.name]
    few, many = _approve(session, approver_id, 3), _approve(session, approver_id, 13)
    assert (many - few) / 10 <= per_approval, f"{few} statements for 3 approvals, {many} for 13"
