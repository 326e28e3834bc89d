"""Workers racing on PostgreSQL: real commits, one session (and connection) per worker thread."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from portal.auth.models import User
from portal.integrations.procore import connection, jobs
from portal.projects.models import Resource
from portal.runs.models import SyncMessage
from portal.timesheets import entries
from portal.timesheets.models import TimeEntry
from tests.factories import OfferingFactory, ResourceFactory
from tests.integrations.procore.conftest import RIVERSIDE, connect

pytestmark = [pytest.mark.postgres, pytest.mark.committed]


def _race(job, *ids: int) -> None:
    start = threading.Barrier(len(ids))
    errors: list[BaseException] = []

    def work(message_id: int) -> None:
        start.wait()
        try:
            job(message_id)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


@pytest.fixture
def linked_offering(session, sandbox, run_jobs):
    found = connect(session, run_jobs)
    connection.update_preferences(session, "test", send=True)
    offering = OfferingFactory(name="Fit-out works")
    connection.link_project(session, "test", str(RIVERSIDE), offering.id)
    session.commit()
    return found, offering


def test_two_workers_on_deliveries_of_one_new_card_make_one_entry_and_one_person(session, sandbox, linked_offering):
    found, _ = linked_offering
    card = sandbox.card(person="morgan")
    ids = []
    for key in ("first", "second", "third"):
        message = SyncMessage(connection_id=found.id, direction="inbound", entity="time_entry",
                              external_id=str(card["id"]), dedupe_key=f"procore:event:{key}", action="create",
                              payload={"resource_id": card["id"]}, status="pending")
        session.add(message)
        session.flush()
        ids.append(message.id)
    session.commit()
    _race(jobs.receive, *ids)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(TimeEntry)) == 1
    assert session.scalar(select(func.count()).select_from(Resource)) == 1
    assert session.scalar(select(func.count()).select_from(User).where(User.email.like("morgan%"))) == 1
    assert {m.status for m in session.scalars(select(SyncMessage))} == {"processed"}


def test_two_workers_on_one_outbound_message_send_it_once(session, sandbox, linked_offering):
    _, offering = linked_offering
    dana = ResourceFactory(name="Dana Developer", email="dana@demo.test")
    session.flush()
    entries.add_entry(session, "test", resource_id=dana.id, offering_id=offering.id, work_date=date(2026, 3, 3),
                      hours="6")
    session.commit()
    (message_id,) = session.scalars(select(SyncMessage.id).where(SyncMessage.direction == "outbound"))
    _race(jobs.send, message_id, message_id)
    assert len(sandbox.live_cards()) == 1
    session.expire_all()
    assert session.get(SyncMessage, message_id).status == "processed"
