"""Procore's RQ entry points (the `job` wrapper of portal.jobs: an app context, a session, errors re-raised)."""

from __future__ import annotations

from portal.extensions import db
from portal.integrations.procore import alerts, catch_up, connection, receiving, sending
from portal.jobs import job


@job
def connect(run_id: int) -> None:
    connection.run_connect(db.session, run_id)


@job
def disconnect(run_id: int) -> None:
    connection.run_disconnect(db.session, run_id)


@job
def receive(message_id: int) -> None:
    receiving.process_inbound(db.session, message_id)


@job
def send(message_id: int) -> None:
    sending.process_outbound(db.session, message_id)


@job
def run_catch_up(run_id: int) -> None:
    catch_up.run_catch_up(db.session, run_id)


@job
def catch_up_all() -> None:
    """Hourly: the catch-up poll repairs whatever a webhook delivery missed."""
    connection.start_catch_up(db.session)
    db.session.commit()


@job
def pump() -> list[int]:
    """Every five minutes: re-enqueue messages that are due again, then send batched alerts."""
    due = catch_up.pump(db.session)
    db.session.commit()
    alerts.send_alerts(db.session)
    db.session.commit()
    return due
