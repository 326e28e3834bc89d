"""Alert emails over a loopback SMTP server, batched so a storm of failures is one email."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from portal.integrations.procore import alerts, connection, jobs
from portal.mail import OutboundEmail
from tests.factories import stage
from tests.integrations.procore.conftest import HARBOUR, hook_path


def test_a_storm_of_failures_is_one_email_listing_them(app, session, sandbox, linked, run_jobs, mailbox):
    linked.project.stage = stage("Closed")
    session.commit()
    for day in range(6):
        sandbox.card(day=date(2026, 3, 2) + timedelta(days=day))
    sandbox.deliver()
    run_jobs()
    jobs.pump()
    run_jobs()
    (envelope, message), = mailbox.wait_for(1)
    assert envelope.rcpt_tos == ["ops@example.test"]
    assert message["Subject"] == "Procore sync: 6 problems need attention"
    body = message.get_content()
    assert body.count("is closed") == 6 and "/settings/integrations/procore" in body

    sandbox.card(day=date(2026, 4, 1))
    sandbox.deliver()
    run_jobs()
    jobs.pump()  # within the batching interval: the new failure waits for the next email
    run_jobs()
    assert len(mailbox.wait_for(2, timeout=0.5)) == 1
    emails = list(session.scalars(select(OutboundEmail)))
    assert len(emails) == 1 and emails[0].category == "sync_alert"


def test_the_next_email_lists_only_what_is_new(app, session, sandbox, linked, run_jobs, mailbox, procore):
    linked.project.stage = stage("Closed")
    session.commit()
    sandbox.card()
    sandbox.deliver()
    run_jobs()
    assert alerts.send_alerts(session) is not None
    connection.save_state(session, procore.id, last_alert_sent_at="2000-01-01T00:00:00+00:00")
    session.commit()
    assert alerts.send_alerts(session) is None  # nothing new since
    connection.update_preferences(session, "test", only_linked=False)
    session.commit()
    sandbox.card(project=HARBOUR, day=date(2026, 3, 9))
    sandbox.deliver()
    run_jobs()
    email = alerts.send_alerts(session)
    assert "Waiting for a project link (1)" in email.body and "is closed" not in email.body


def test_refused_deliveries_are_reported(app, session, sandbox, linked, run_jobs, client):
    client.post(hook_path(session), json={"resource_name": "Timecard Entries", "resource_id": 1}, csrf=False,
                headers={"Authorization": "Bearer wrong"})
    email = alerts.send_alerts(session)
    assert "Refused a webhook delivery" in email.body and "Authorization header" in email.body


def test_no_recipients_no_email(app, session, sandbox, linked, run_jobs):
    connection.update_preferences(session, "test", alert_emails=[])
    linked.project.stage = stage("Closed")
    session.commit()
    sandbox.card()
    sandbox.deliver()
    run_jobs()
    assert alerts.send_alerts(session) is None
    assert session.scalar(select(OutboundEmail)) is None
