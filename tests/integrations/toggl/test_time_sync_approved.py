"""Synced time that changes after approval is held for the approver, never applied silently (issue 5)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.errors import Conflict, NotAllowed
from portal.finance.models import FinancialTransaction
from portal.projects.models import ResourceRate
from portal.timesheets import conflicts, workflow
from portal.timesheets.models import TimesheetConflict
from tests.factories import FiscalPeriodFactory, UserFactory
from tests.integrations.toggl.time_sync_support import days_ago, link, sync, synced


@pytest.fixture
def approved(session, tool, run_jobs, org, admin):
    """Two entries of Ana's, synced, on a timesheet that is approved and posted to finance."""
    linked = link(session, tool, tool.offering(people={"ana@example.test": "150"}, name="Platform build"))
    ana = linked.offering.assignments[0].resource
    ana.rates.append(ResourceRate(rate_type="cost", amount=Decimal("60"), effective_from=date(2020, 1, 1)))
    FiscalPeriodFactory(name="This quarter", start_date=days_ago(60), end_date=days_ago(-30))
    session.flush()
    day = days_ago(14)
    monday = day.toordinal() - day.weekday()
    ids = tool.sandbox.entries(count=2, emails=["ana@example.test"], project_ids=[linked.toggl_project_id],
                               start_date=day.fromordinal(monday + 1).isoformat(), days=2, seconds=3600)
    sync(session, run_jobs, tool.connection)
    entries = synced(session, tool.connection)
    sheet = entries[str(ids[0])].timesheet
    approver = UserFactory(role="approver")
    workflow.transition(session, admin, sheet.id, "submit", None)
    workflow.transition(session, approver, sheet.id, "approve", None)
    session.commit()
    run_jobs()
    return ids, sheet.id, approver


def test_an_edit_of_approved_time_is_held_and_accepting_sends_it_back_for_approval(session, tool, approved, run_jobs):
    (first, _), sheet_id, approver = approved
    assert session.scalar(select(func.count()).select_from(FinancialTransaction)) > 0
    tool.sandbox.edit(first, duration=3 * 3600, emit=False)
    run = sync(session, run_jobs, tool.connection, "nightly")
    assert run.counts["held_for_approval"] == 1 and run.counts["updated"] == 0
    assert synced(session, tool.connection)[str(first)].hours == Decimal("1.00")  # not applied silently
    (held,) = conflicts.for_timesheet(session, sheet_id)
    assert held.status == "open" and held.summary == "Changed in Toggl after approval: 1.00 h → 3.00 h"
    # A second sync keeps one open conflict for the entry, and does not re-read its day, which differs from
    # Toggl on purpose until the approver decides.
    mark = tool.sandbox.mark()
    sync(session, run_jobs, tool.connection, "nightly")
    assert len(conflicts.for_timesheet(session, sheet_id)) == 1
    assert sum("/search/" in r["path"] for r in tool.sandbox.requests(mark)) == 1  # the changes only

    conflicts.accept(session, approver, held.id)
    session.commit()
    run_jobs()  # finance removes the recalled approval's actuals
    entry = synced(session, tool.connection)[str(first)]
    assert entry.hours == Decimal("3.00") and entry.timesheet.status == "submitted"
    assert session.scalar(select(func.count()).select_from(FinancialTransaction)) == 0
    assert session.get(TimesheetConflict, held.id).status == "accepted"


def test_rejecting_keeps_the_approved_time_and_the_same_change_is_not_raised_again(session, tool, approved, run_jobs):
    (first, second), sheet_id, approver = approved
    tool.sandbox.edit(first, duration=3 * 3600, emit=False)
    tool.sandbox.delete(second, emit=False)
    sync(session, run_jobs, tool.connection, "nightly")
    held = {c.action: c for c in conflicts.for_timesheet(session, sheet_id)}
    assert set(held) == {"update", "delete"}
    for conflict in held.values():
        conflicts.reject(session, approver, conflict.id)
    session.commit()
    again = sync(session, run_jobs, tool.connection, "nightly")
    assert again.counts["held_for_approval"] == 0
    entries = synced(session, tool.connection)
    assert entries[str(first)].hours == Decimal("1.00") and str(second) in entries
    assert entries[str(first)].timesheet.status == "approved"
    tool.sandbox.edit(first, description="A later change", emit=False)  # a new change is raised again
    assert sync(session, run_jobs, tool.connection, "nightly").counts["held_for_approval"] == 1


def test_new_time_in_an_approved_week_is_held_too(session, tool, approved, run_jobs):
    (first, _), sheet_id, approver = approved
    entry = tool.sandbox.entry(first)
    extra = tool.sandbox.seed(time_entries=[{"workspace_id": tool.world.workspace_id, "email": "ana@example.test",
                                             "project_id": entry["project_id"], "start": entry["start"],
                                             "duration": 1800, "description": "Late addition"}])["time_entries"][0]
    run = sync(session, run_jobs, tool.connection, "nightly")
    assert run.counts["held_for_approval"] == 1 and str(extra["id"]) not in synced(session, tool.connection)
    (held,) = [c for c in conflicts.for_timesheet(session, sheet_id) if c.status == "open"]
    assert held.action == "create"
    mark = tool.sandbox.mark()  # the next nightly leaves the day of the held creation alone (not re-read)
    assert sync(session, run_jobs, tool.connection, "nightly").status == "succeeded"
    assert sum("/search/" in r["path"] for r in tool.sandbox.requests(mark)) == 1
    conflicts.accept(session, approver, held.id)
    session.commit()
    assert synced(session, tool.connection)[str(extra["id"])].description == "Late addition"


def test_only_someone_who_may_approve_decides(session, tool, approved, run_jobs):
    (first, _), sheet_id, _ = approved
    tool.sandbox.edit(first, duration=7200, emit=False)
    sync(session, run_jobs, tool.connection, "nightly")
    (held,) = conflicts.for_timesheet(session, sheet_id)
    with pytest.raises(NotAllowed):
        conflicts.accept(session, UserFactory(role="staff"), held.id)
    conflicts.reject(session, UserFactory(role="admin"), held.id)
    with pytest.raises(Conflict, match="already rejected"):
        conflicts.accept(session, UserFactory(role="admin"), held.id)
