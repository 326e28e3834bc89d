"""Procore time that changes after approval is held for the approver, as every tool's is (issue 12, item 2):
one write path (timesheets.conflicts.apply_change), so the timesheet page, the approvals filter, the home page
and the audit log show Procore's held changes as they show Toggl's."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.audit import AuditEvent
from portal.home import services as home
from portal.runs.models import SyncMessage
from portal.timesheets import approvals, conflicts, workflow
from portal.timesheets.models import TimeEntry, TimesheetConflict
from tests.factories import UserFactory


def _deliver(sandbox, run_jobs) -> None:
    attempts = sandbox.deliver()
    assert attempts and all(a["response_status"] == 200 for a in attempts), attempts
    run_jobs()


def _entry(session) -> TimeEntry:
    session.expire_all()
    return session.scalar(select(TimeEntry))


@pytest.fixture
def approved(session, sandbox, linked, run_jobs):
    """A Procore time card of Dana's, imported, on a timesheet that was submitted and approved."""
    card = sandbox.card(hours="4", description="Framing")
    _deliver(sandbox, run_jobs)
    sheet = _entry(session).timesheet
    approver = UserFactory(role="approver")
    workflow.transition(session, "test", sheet.id, "submit", None)
    workflow.transition(session, approver, sheet.id, "approve", None)
    session.commit()
    run_jobs()
    sandbox.state.advance(5)  # Procore's updated_at moves on with each change
    return card, sheet.id, approver


def test_a_change_to_approved_time_is_held_and_accepting_applies_it(session, sandbox, approved, run_jobs):
    card, sheet_id, approver = approved
    sandbox.change(card["id"], hours="5")
    _deliver(sandbox, run_jobs)
    assert _entry(session).hours == Decimal("4.0000"), "approved time is never changed silently"
    message = session.scalars(select(SyncMessage).order_by(SyncMessage.id.desc())).first()
    assert message.status == "processed" and "Held for the approver" in message.reason
    (held,) = conflicts.for_timesheet(session, sheet_id)
    assert (held.status, held.action) == ("open", "update")
    assert held.summary == "Changed in Procore after approval: 4.00 h → 5.00 h"
    # Alike for both tools: the approvals filter, the home page and the audit log see it.
    assert approvals.held_count(session, approver) == 1
    waiting = home.waiting_for(session, approver, None, _entry(session).work_date)
    assert any("held for a decision" in item.text for item in waiting)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "timesheet.conflict_held"))
    assert event.actor_label == "Procore sync" and event.summary == held.summary

    conflicts.accept(session, approver, held.id)
    session.commit()
    entry = _entry(session)
    assert entry.hours == Decimal("5.00") and entry.timesheet.status == "submitted"
    assert session.get(TimesheetConflict, held.id).status == "accepted"


def test_keeping_the_approved_time_is_not_undone_by_the_same_change(session, sandbox, approved, run_jobs):
    card, sheet_id, approver = approved
    sandbox.change(card["id"], hours="6")
    _deliver(sandbox, run_jobs)
    (held,) = conflicts.for_timesheet(session, sheet_id)
    conflicts.reject(session, approver, held.id)
    session.commit()
    connection_id = _entry(session).connection_id
    # The catch-up poll (or a redelivery) brings the same version again: it stays kept, nothing new is held.
    catch = sandbox.state.entries[int(card["id"])]
    sandbox.state.emit("update", catch, None, None)
    _deliver(sandbox, run_jobs)
    assert _entry(session).hours == Decimal("4.0000") and _entry(session).timesheet.status == "approved"
    assert [c.status for c in conflicts.for_timesheet(session, sheet_id)] == ["rejected"]
    sandbox.state.advance(5)
    sandbox.change(card["id"], description="A later change")  # a new change is raised again
    _deliver(sandbox, run_jobs)
    assert conflicts.open_conflict(session, connection_id, str(card["id"])) is not None


def test_a_deletion_of_approved_time_is_held_until_accepted(session, sandbox, approved, run_jobs):
    card, sheet_id, approver = approved
    sandbox.delete(card["id"])
    _deliver(sandbox, run_jobs)
    assert _entry(session) is not None
    (held,) = conflicts.for_timesheet(session, sheet_id)
    assert held.action == "delete" and held.summary.startswith("Changed in Procore after approval: deleted")
    conflicts.accept(session, approver, held.id)
    session.commit()
    assert _entry(session) is None


def test_a_change_to_submitted_time_applies_as_for_every_tool(session, sandbox, linked, run_jobs):
    card = sandbox.card(hours="4")
    _deliver(sandbox, run_jobs)
    sheet = _entry(session).timesheet
    workflow.transition(session, "test", sheet.id, "submit", None)
    session.commit()
    version = _entry(session).timesheet.version
    sandbox.state.advance(5)
    sandbox.change(card["id"], hours="3")
    _deliver(sandbox, run_jobs)
    entry = _entry(session)
    assert entry.hours == Decimal("3.00") and entry.timesheet.status == "submitted"
    assert entry.timesheet.version > version, "an approval form opened before the change is refused as stale"
