"""People hear about decisions on their timesheets (issue 15 item 22): one email per approval, rejection (with
the reason) or recall, sent by the mail job over SMTP, audited, per the person's setting; and a home-page line."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.audit import AuditEvent
from portal.mail import OutboundEmail
from portal.timesheets import workflow
from tests.factories import OfferingFactory, ResourceFactory, UserFactory
from tests.finance.support import MONDAY, timesheet


@pytest.fixture
def staff(session):
    user = UserFactory(role="staff", name="Sky Staff", email="sky@example.test")
    return user, ResourceFactory(user=user, name="Sky Staff")


@pytest.fixture
def approver(session):
    return UserFactory(role="approver", name="Avery Approver")


def _submitted(session, resource):
    return timesheet(session, resource, MONDAY, [(OfferingFactory(), MONDAY, 7.5)], status="submitted")


def _received(mailbox, count):
    messages = mailbox.wait_for(count)
    assert len(messages) == count, [m["Subject"] for _, m in messages]
    return messages


def test_an_approval_is_emailed_over_smtp_and_audited(session, run_jobs, mailbox, staff, approver):
    user, resource = staff
    sheet = _submitted(session, resource)
    workflow.transition(session, approver, sheet.id, "approve", sheet.version)
    session.commit()
    run_jobs()
    ((envelope, message),) = _received(mailbox, 1)
    assert envelope.rcpt_tos == ["sky@example.test"]
    assert message["Subject"] == "Your timesheet for the week of 02 Mar 2026 was approved"
    body = message.get_content()
    assert "Avery Approver approved your timesheet for the week of Mon 02 Mar – Sun 08 Mar 2026 (7.5 h)." in body
    assert f"/timesheets/{sheet.id}" in body and "untick" in body
    audit = session.scalar(select(AuditEvent).where(AuditEvent.action == "timesheet.decision_emailed"))
    assert audit.after == {"to": "sky@example.test", "decision": "approved"}
    assert audit.summary == "Emailed Sky Staff that the timesheet of the week of 02 Mar 2026 was approved"


def test_a_rejection_says_why_by_email_and_on_the_home_page(session, client, run_jobs, mailbox, staff, approver):
    user, resource = staff
    sheet = _submitted(session, resource)
    workflow.transition(session, approver, sheet.id, "reject", sheet.version, reason="Tuesday is missing")
    session.commit()
    run_jobs()
    ((_, message),) = _received(mailbox, 1)
    body = message.get_content()
    assert message["Subject"].endswith("was rejected") and "Reason: Tuesday is missing" in body
    assert "submit the week again: http://127.0.0.1:5000/time?week=2026-03-02" in body
    client.login(user)
    home = client.get("/").get_data(as_text=True)
    assert ("Your timesheet for the week of 02 Mar was rejected by Avery Approver: Tuesday is missing. "
            "Fix it and submit again.") in home
    assert "sent back to you" not in home  # the decision's own line says it


def test_a_recall_sent_on_at_once_is_one_email_that_says_where_it_went(session, run_jobs, mailbox, staff,
                                                                       approver):
    user, resource = staff
    sheet = _submitted(session, resource)
    workflow.transition(session, approver, sheet.id, "approve", sheet.version)
    session.commit()
    workflow.recall(session, approver, sheet.id, sheet.version, "Wrong project", then="draft")
    session.commit()
    run_jobs()
    subjects = {message["Subject"]: message.get_content() for _, message in _received(mailbox, 2)}
    body = subjects["Your timesheet for the week of 02 Mar 2026 was recalled"]
    assert "Reason: Wrong project" in body
    assert "The approval is withdrawn; the timesheet is back with you as a draft." in body


def test_no_email_when_the_person_turned_them_off_but_the_home_page_still_says_it(session, client, run_jobs,
                                                                                  mailbox, staff, approver):
    user, resource = staff
    client.login(user)
    assert "Email me when my timesheet is approved, rejected or recalled" in client.get("/time").get_data(True)
    answer = client.post("/time/decision-emails", data={}, htmx=True)
    assert answer.status_code == 200 and 'id="decision-emails"' in answer.get_data(True)
    session.refresh(user)
    assert user.timesheet_decision_emails is False
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "user.decision_emails_changed")) is not None
    sheet = _submitted(session, resource)
    workflow.transition(session, approver, sheet.id, "approve", sheet.version)
    session.commit()
    run_jobs()
    assert session.scalar(select(OutboundEmail)) is None and mailbox == []
    assert "Your timesheet for the week of 02 Mar was approved by Avery Approver." in client.get("/").get_data(True)
    client.post("/time/decision-emails", data={"decisions": "y"}, htmx=True)
    session.refresh(user)
    assert user.timesheet_decision_emails is True


def test_nobody_is_emailed_about_their_own_step_or_a_syncs(session, run_jobs, staff, approver):
    user, resource = staff
    sheet = _submitted(session, resource)
    workflow.transition(session, user, sheet.id, "withdraw", sheet.version)
    workflow.transition(session, user, sheet.id, "submit", sheet.version)
    workflow.transition(session, approver, sheet.id, "approve", sheet.version)
    session.commit()
    workflow.return_to_submitted(session, "Toggl sync", sheet.id, "Changed in Toggl after approval")
    session.commit()
    assert [email.subject for email in session.scalars(select(OutboundEmail))] == [
        "Your timesheet for the week of 02 Mar 2026 was approved"]
