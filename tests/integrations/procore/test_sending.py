"""Portal → Procore through the outbox, and two-way replication without echoes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.integrations.procore import connection, messages
from portal.planning.tasks import save_task
from portal.projects.items import ensure_project_item
from portal.runs.models import SyncMessage
from portal.timesheets import entries
from portal.timesheets.models import TimeEntry
from tests.factories import OfferingFactory, ResourceFactory
from tests.integrations.procore.conftest import PEOPLE, RIVERSIDE, hook_path, pump_when_due


@pytest.fixture
def dana(session, linked):
    person = ResourceFactory(name="Dana Developer", email="dana@demo.test")
    session.commit()
    return person


def _add(session, resource, offering, hours="6", day=date(2026, 3, 3), **values) -> TimeEntry:
    entry = entries.add_entry(session, "test", resource_id=resource.id, offering_id=offering.id, work_date=day,
                              hours=hours, description="Site survey", **values)
    session.commit()
    return entry


def _outbound(session) -> list[SyncMessage]:
    return _messages(session, "outbound")


def _inbound(session) -> list[SyncMessage]:
    return _messages(session, "inbound")


def _messages(session, direction: str) -> list[SyncMessage]:
    return list(session.scalars(select(SyncMessage).where(SyncMessage.direction == direction).order_by(SyncMessage.id)))


def test_created_updated_and_deleted_entries_reach_procore(session, sandbox, linked, dana, run_jobs):
    entry = _add(session, dana, linked)
    (message,) = _outbound(session)
    assert (message.action, message.status, message.local_id) == ("create", "pending", entry.id)
    run_jobs()
    (card,) = sandbox.live_cards()
    assert (card["project_id"], card["party_id"], card["hours"], card["description"]) == (
        RIVERSIDE, PEOPLE["dana"], Decimal("6"), "Site survey")
    assert card["origin_id"] == entry.id
    assert card["origin_data"] == f"{connection.namespace()}:time_entry:{entry.id}"
    session.refresh(entry)
    assert entry.external_id == str(card["id"]) and entry.source == "native"

    entries.update_entry(session, "test", entry.id, work_date=date(2026, 3, 4), hours="7.25", description="Survey",
                         billable=False)
    session.commit()
    run_jobs()
    (card,) = sandbox.live_cards()
    assert (card["date"], card["hours"], card["billable"]) == (date(2026, 3, 4), Decimal("7.25"), False)

    entries.delete_entry(session, "test", entry.id)
    session.commit()
    run_jobs()
    assert sandbox.live_cards() == []
    assert [m.status for m in _outbound(session)] == ["processed"] * 3
    assert _outbound(session)[-1].reason.startswith("Deleted Procore time card")


def test_task_and_project_item_are_sent_as_time_type_and_cost_code(session, sandbox, linked, dana, run_jobs):
    entry = _add(session, dana, linked)
    entry.task = save_task(session, "test", linked.project_id, name="Overtime")
    entry.project_item = ensure_project_item(session, "test", linked.project_id, "06-200", "Finish Carpentry")
    entries.update_entry(session, "test", entry.id, work_date=entry.work_date, hours="5", description="x",
                         billable=True)
    session.commit()
    run_jobs()
    (card,) = sandbox.live_cards()
    assert card["timecard_time_type_id"] == 7000000000002 and card["cost_code_id"] == RIVERSIDE * 10 + 2


def test_entries_of_unlinked_offerings_or_with_sending_off_are_not_sent(session, sandbox, linked, dana, run_jobs):
    _add(session, dana, OfferingFactory())
    connection.update_preferences(session, "test", send=False)
    session.commit()
    _add(session, dana, linked, day=date(2026, 3, 5))
    run_jobs()
    assert _outbound(session) == [] and sandbox.live_cards() == []


def test_two_way_without_echo(session, sandbox, linked, dana, run_jobs, client):
    entry = _add(session, dana, linked)
    run_jobs()
    (card,) = sandbox.live_cards()
    sandbox.deliver()  # Procore tells us about the card we just created
    run_jobs()
    (echo,) = _inbound(session)
    assert echo.status == "processed" and "Our own change" in echo.reason
    assert session.scalar(select(TimeEntry.id).where(TimeEntry.source == "procore")) is None

    # without Procore's application id the echo is still recognised: by the card's origin_data, even
    # when the delivery is processed before the sender has stored the card's id on the entry
    stored = entry.external_id
    entry.external_id = None
    session.commit()
    hook = next(iter(sandbox.state.hooks.values()))
    bare = {**echo.payload, "ulid": "01-no-application", "metadata": {"source_application_id": None}}
    client.post(hook_path(session), json=bare, csrf=False,
                headers={"Authorization": hook["destination_headers"]["Authorization"]})
    run_jobs()
    assert "not imported again" in _inbound(session)[-1].reason
    entry.external_id = stored
    session.commit()

    sandbox.state.advance(5)
    sandbox.change(card["id"], hours="9", description="Changed in Procore")  # a person edits it in Procore
    sandbox.deliver()
    run_jobs()
    session.refresh(entry)
    assert (entry.hours, entry.description, entry.source) == (Decimal("9"), "Changed in Procore", "native")
    assert len(_outbound(session)) == 1  # Procore's change was not sent back
    assert len(sandbox.live_cards()) == 1 and len(list(session.scalars(select(TimeEntry)))) == 1


def test_a_card_from_procore_is_not_sent_back(session, sandbox, linked, run_jobs):
    sandbox.card()
    sandbox.deliver()
    run_jobs()
    assert session.scalar(select(TimeEntry.source)) == "procore"
    assert _outbound(session) == [] and len(sandbox.live_cards()) == 1


def test_a_delete_in_procore_removes_the_portal_entry_it_came_from(session, sandbox, linked, dana, run_jobs):
    _add(session, dana, linked)
    run_jobs()
    sandbox.deliver()
    run_jobs()
    (card,) = sandbox.live_cards()
    sandbox.delete(card["id"])
    sandbox.deliver()
    run_jobs()
    assert list(session.scalars(select(TimeEntry))) == []
    assert len(_outbound(session)) == 1  # the delete came from Procore; nothing is sent back


def test_an_unknown_person_fails_with_the_reason_and_retry_sends_it(session, sandbox, linked, run_jobs):
    lee = ResourceFactory(name="Lee Designer", email="lee@demo.test")
    session.commit()
    _add(session, lee, linked)
    run_jobs()
    (message,) = _outbound(session)
    assert message.status == "failed" and "Lee Designer (lee@demo.test) is not in Procore's Directory" in message.reason
    sandbox.state.add("people", company_id=562949953421312, first_name="Lee", last_name="Designer",
                      name="Lee Designer", email="lee@demo.test", is_employee=True)
    messages.retry(session, "test", message.id, message.connection_id)
    session.commit()
    run_jobs()
    session.refresh(message)
    assert message.status == "processed" and len(sandbox.live_cards()) == 1


def test_an_unknown_cost_code_fails_with_the_reason(session, sandbox, linked, dana, run_jobs):
    entry = _add(session, dana, linked)
    run_jobs()
    entry.project_item = ensure_project_item(session, "test", linked.project_id, "99-999", "Not in Procore")
    entries.update_entry(session, "test", entry.id, work_date=entry.work_date, hours="3", description="x",
                         billable=True)
    session.commit()
    run_jobs()
    failed = _outbound(session)[-1]
    assert failed.status == "failed" and "Cost code 99-999 Not in Procore does not exist" in failed.reason


def test_procore_down_defers_the_send_and_the_pump_sends_it_later(session, sandbox, linked, dana, run_jobs):
    sandbox.fault(503, count=20, retry_after=1, path="/rest/v1.0/companies")
    _add(session, dana, linked)
    run_jobs()
    (message,) = _outbound(session)
    assert message.status == "pending" and "Procore is unavailable" in message.reason
    sandbox.state.faults.clear()
    pump_when_due(session, run_jobs, message)
    assert message.status == "processed" and len(sandbox.live_cards()) == 1


def test_an_entry_deleted_before_it_was_sent_never_reaches_procore(session, sandbox, linked, dana, run_jobs):
    entry = _add(session, dana, linked)
    entries.delete_entry(session, "test", entry.id)
    session.commit()
    run_jobs()
    (message,) = _outbound(session)
    assert message.status == "processed" and "before it was sent" in message.reason
    assert sandbox.live_cards() == []


def test_changes_of_one_entry_are_sent_in_order(session, sandbox, linked, dana, run_jobs):
    entry = _add(session, dana, linked)
    first = _outbound(session)[0]
    first.claimed_at = first.created_at  # a worker holds the create
    session.commit()
    entries.delete_entry(session, "test", entry.id)
    session.commit()
    create, delete = (m.id for m in _outbound(session))
    from portal.integrations.procore.jobs import send as procore_send

    procore_send(delete)  # the delete waits for the create
    assert session.get(SyncMessage, delete).reason.startswith("Waiting for an earlier change")
    session.get(SyncMessage, create).claimed_at = None
    session.commit()
    procore_send(create)
    run_jobs()  # the create hands over to the delete
    assert [session.get(SyncMessage, i).status for i in (create, delete)] == ["processed", "processed"]
    assert sandbox.live_cards() == []


def test_a_lost_create_answer_is_not_sent_twice(session, sandbox, linked, dana, run_jobs):
    entry = _add(session, dana, linked)
    run_jobs()
    (message,) = _outbound(session)
    (card,) = sandbox.live_cards()
    # as if the worker died after Procore created the card, before the portal stored its id
    entry.external_id = entry.connection_id = None
    message.status, message.attempts, message.external_id = "pending", 1, None
    session.commit()
    from portal.integrations.procore.jobs import send as procore_send

    procore_send(message.id)
    session.refresh(entry)
    assert len(sandbox.live_cards()) == 1 and entry.external_id == str(card["id"])
