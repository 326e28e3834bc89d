"""Timesheet states, who may move them, stale forms, and what an approval sets off in finance."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from portal.audit import AuditEvent
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.finance.models import FinancialTransaction
from portal.timesheets import entries, workflow
from portal.timesheets.models import PostingStatus, Timesheet
from tests.factories import OfferingFactory, ProjectFactory, ResourceFactory, UserFactory
from tests.finance.support import MONDAY, timesheet


@pytest.fixture
def staff(session):
    user = UserFactory(role="staff")
    resource = ResourceFactory(user=user, rates={"cost": "50"})
    return user, resource


@pytest.fixture
def approver(session):
    return UserFactory(role="approver")


def _submitted(session, resource, *offerings, start=MONDAY):
    return timesheet(session, resource, start, [(o, start, 8) for o in offerings or (OfferingFactory(),)],
                     status="submitted")


def _actions(session, sheet_id):
    return [e.action for e in session.scalars(select(AuditEvent).where(
        AuditEvent.subject_type == "timesheets", AuditEvent.subject_id == sheet_id).order_by(AuditEvent.id))]


def test_a_person_submits_their_week_and_may_withdraw_it(session, staff):
    user, resource = staff
    sheet = timesheet(session, resource, MONDAY, [(OfferingFactory(), MONDAY, 8)], status="draft")
    workflow.transition(session, user, sheet.id, "submit", sheet.version)
    assert sheet.status == "submitted" and sheet.submitted_at is not None
    with pytest.raises(Conflict):  # frozen while it waits
        entries.add_entry(session, user, resource_id=resource.id, offering_id=sheet.entries[0].offering_id,
                          work_date=MONDAY, hours="1")
    workflow.transition(session, user, sheet.id, "withdraw", sheet.version)
    assert sheet.status == "draft"
    assert _actions(session, sheet.id) == ["timesheet.submitted", "timesheet.withdrawn"]


def test_an_empty_week_cannot_be_submitted(session, staff):
    user, resource = staff
    sheet = timesheet(session, resource, MONDAY, [], status="draft")
    with pytest.raises(InvalidInput, match="no time"):
        workflow.transition(session, user, sheet.id, "submit", sheet.version)


def test_nobody_else_submits_my_week(session, staff):
    _, resource = staff
    sheet = timesheet(session, resource, MONDAY, [(OfferingFactory(), MONDAY, 8)], status="draft")
    with pytest.raises(NotAllowed):
        workflow.transition(session, UserFactory(role="pm"), sheet.id, "submit", sheet.version)


def test_approvers_and_admins_approve_anyone_pms_only_their_projects(session, staff, org):
    _, resource = staff
    pm = UserFactory(role="pm")
    mine, theirs = OfferingFactory(project=ProjectFactory(pm_id=pm.id)), OfferingFactory()
    only_mine = _submitted(session, resource, mine)
    mixed = _submitted(session, resource, mine, theirs, start=MONDAY + timedelta(weeks=1))
    assert workflow.may(session, pm, only_mine, "approve")
    assert not workflow.may(session, pm, mixed, "approve")  # time on a project the PM does not run
    with pytest.raises(NotAllowed):
        workflow.transition(session, pm, mixed.id, "approve", mixed.version)
    for user in (UserFactory(role="approver"), UserFactory(role="admin")):
        assert workflow.may(session, user, mixed, "approve")
    assert not workflow.may(session, UserFactory(role="staff"), only_mine, "approve")


def test_nobody_approves_their_own_timesheet(session, approver):
    resource = ResourceFactory(user=approver)
    sheet = _submitted(session, resource)
    with pytest.raises(NotAllowed):
        workflow.transition(session, approver, sheet.id, "approve", sheet.version)


def test_approving_a_timesheet_that_changed_meanwhile_is_refused_as_stale(session, staff, approver, org, run_jobs):
    user, resource = staff
    sheet = timesheet(session, resource, MONDAY, [(OfferingFactory(), MONDAY, 8)], status="rejected")
    opened_version = sheet.version
    entries.add_entry(session, user, resource_id=resource.id, offering_id=sheet.entries[0].offering_id,
                      work_date=MONDAY + timedelta(days=1), hours="2")  # the person changes it
    workflow.transition(session, user, sheet.id, "submit", sheet.version)
    with pytest.raises(Conflict, match="changed since you opened it"):
        workflow.transition(session, approver, sheet.id, "approve", opened_version)
    assert sheet.status == "submitted"
    session.commit()
    run_jobs()
    assert session.scalars(select(FinancialTransaction)).all() == []  # nothing half-posted


def test_reject_and_recall_need_a_reason(session, staff, approver, org):
    _, resource = staff
    sheet = _submitted(session, resource)
    with pytest.raises(InvalidInput) as error:
        workflow.transition(session, approver, sheet.id, "reject", sheet.version, "  ")
    assert error.value.fields == {"reason": "Enter a reason."}
    workflow.transition(session, approver, sheet.id, "reject", sheet.version, "Tuesday is missing")
    assert (sheet.status, sheet.reason, sheet.decided_by_id) == ("rejected", "Tuesday is missing", approver.id)


def test_approval_posts_actuals_by_a_job_and_recall_removes_them(session, staff, approver, org, run_jobs):
    _, resource = staff
    sheet = _submitted(session, resource)
    workflow.transition(session, approver, sheet.id, "approve", sheet.version)
    assert sheet.posting_status == PostingStatus.PENDING
    session.commit()
    run_jobs()
    session.refresh(sheet)
    assert sheet.posting_status == PostingStatus.POSTED
    assert [t.amount for t in session.scalars(select(FinancialTransaction))] == [Decimal("400.00")]

    workflow.recall(session, approver, sheet.id, sheet.version, "Wrong project", then="draft")
    session.commit()
    run_jobs()
    session.refresh(sheet)
    assert sheet.status == "draft" and sheet.reason == "Wrong project"
    assert session.scalars(select(FinancialTransaction)).all() == []
    assert _actions(session, sheet.id) == ["timesheet.approved", "timesheet.decision_emailed",
                                           "timesheet.actuals_posted", "timesheet.recalled",
                                           "timesheet.decision_emailed", "timesheet.reopened",
                                           "timesheet.actuals_removed"]


def test_a_recalled_timesheet_is_frozen_until_it_goes_back_to_submitted_or_draft(session, staff, approver, org):
    user, resource = staff
    sheet = _submitted(session, resource)
    workflow.transition(session, approver, sheet.id, "approve", sheet.version)
    workflow.recall(session, approver, sheet.id, sheet.version, "Check the hours")
    assert sheet.status == "recalled"
    with pytest.raises(Conflict):
        entries.add_entry(session, user, resource_id=resource.id, offering_id=sheet.entries[0].offering_id,
                          work_date=MONDAY, hours="1")
    workflow.transition(session, user, sheet.id, "resubmit", sheet.version)
    assert sheet.status == "submitted"


def test_approving_with_finance_sync_off_works_and_holds_the_posting(session, staff, approver, org, run_jobs):
    org.finance_sync_enabled = False
    _, resource = staff
    sheet = _submitted(session, resource)
    workflow.transition(session, approver, sheet.id, "approve", sheet.version)
    session.commit()
    run_jobs()
    assert sheet.status == "approved" and sheet.posting_status == PostingStatus.HELD
    assert session.scalars(select(FinancialTransaction)).all() == []


def test_bulk_approval_decides_each_timesheet_on_its_own(session, staff, approver, org):
    _, resource = staff
    fresh = _submitted(session, resource)
    stale = _submitted(session, resource, start=MONDAY + timedelta(weeks=1))
    result = workflow.decide_many(session, approver, "approve",
                                  [(fresh.id, fresh.version), (stale.id, stale.version - 1)])
    assert [s.id for s in result.done] == [fresh.id]
    ((which, why),) = result.refused
    assert "week of 09 Mar 2026" in which and "changed since you opened it" in why
    assert (fresh.status, stale.status) == ("approved", "submitted")


def test_bulk_approval_refuses_only_the_timesheet_someone_else_decided_meanwhile(session, staff, approver, org):
    """Another approver's decision lands between the batch's read and its guarded update of one timesheet:
    that one is refused (nothing of ours was written to it), the others go through."""
    _, resource = staff
    first = _submitted(session, resource)
    taken = _submitted(session, resource, start=MONDAY + timedelta(weeks=1))
    session.flush()
    # Behind the session's back, as another approver's committed decision would look to our update.
    session.execute(update(Timesheet).where(Timesheet.id == taken.id)
                    .values(status="approved", version=Timesheet.version + 1)
                    .execution_options(synchronize_session=False))
    result = workflow.decide_many(session, approver, "approve",
                                  [(first.id, first.version), (taken.id, taken.version)])
    assert [s.id for s in result.done] == [first.id]
    ((which, why),) = result.refused
    assert "week of 09 Mar 2026" in which and ("someone else" in why or "approved now" in why)
    assert first.status == "approved"


def test_bulk_reject_needs_a_reason_and_a_selection(session, approver):
    with pytest.raises(InvalidInput, match="Select at least one"):
        workflow.decide_many(session, approver, "approve", [])
    with pytest.raises(InvalidInput, match="Say why"):
        workflow.decide_many(session, approver, "reject", [(1, 1)], "")


def test_return_to_submitted_puts_an_approved_timesheet_back_before_its_approver(session, staff, approver, org):
    _, resource = staff
    sheet = _submitted(session, resource)
    workflow.transition(session, approver, sheet.id, "approve", sheet.version)
    workflow.return_to_submitted(session, "toggl sync", sheet.id, "Time changed in Toggl after approval")
    assert sheet.status == "submitted" and sheet.reason == "Time changed in Toggl after approval"
    assert _actions(session, sheet.id)[-2:] == ["timesheet.recalled", "timesheet.resubmitted"]
    assert workflow.return_to_submitted(session, "toggl sync", sheet.id, "again").status == "submitted"
