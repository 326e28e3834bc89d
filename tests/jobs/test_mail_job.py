"""A real job through real Redis: an email queued in a transaction is sent over SMTP after commit."""

from sqlalchemy import select

from portal import mail
from portal.mail import OutboundEmail


def test_email_is_sent_by_a_job_after_commit(app, session, run_jobs, mailbox):
    with app.test_request_context():
        mail.queue_email(session, ["Pat@Example.test"], "Hello", "test_message", "test", name="Pat")
    session.commit()
    run_jobs()
    (envelope, message), = mailbox.wait_for(1)
    assert envelope.rcpt_tos == ["pat@example.test"]
    assert message["Subject"] == "Hello"
    assert "Hello Pat" in message.get_content()
    email = session.scalar(select(OutboundEmail))
    session.refresh(email)
    assert email.status == "sent" and email.attempts == 1


def test_rolled_back_email_is_never_enqueued(app, session, run_jobs, mailbox):
    with app.test_request_context():
        mail.queue_email(session, ["pat@example.test"], "Hello", "test_message", "test", name="Pat")
    session.rollback()
    run_jobs()
    assert mailbox == []
