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


def test_a_burst_worker_stops_without_waiting_out_the_command_poll(app):
    """rq's command listener polls every 60 s and redis-py 8 joins it on stop; ours polls every second, so
    stopping (a burst run, a worker at shutdown) never waits a minute."""
    from portal import queue

    connection = queue.redis_connection(app)
    worker = queue.PortalSimpleWorker([queue.get_queue(queue.MAIL, app)], connection=connection)
    worker.work(burst=True, logging_level="WARNING")
    assert worker.pubsub_thread is not None and worker.pubsub_thread.sleep_time <= 1
    assert not worker.pubsub_thread.is_alive()
