"""A create is never sent twice (issue 13 item 11), against the Procore sandbox: a time card, a webhook hook
and its triggers whose answers are lost after Procore made them exist once (looked up before a new create)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal.integrations.procore import connection as procore_connection
from portal.runs.models import SyncMessage
from portal.timesheets import entries
from tests.factories import ResourceFactory
from tests.integrations.procore.conftest import connect


def test_a_time_card_whose_answer_is_lost_exists_once(session, sandbox, linked, run_jobs):
    dana = ResourceFactory(name="Dana Developer", email="dana@demo.test")
    session.commit()
    sandbox.fault(200, path="/rest/v1.0/companies/", method="POST", lose_answer=True)
    entry = entries.add_entry(session, "test", resource_id=dana.id, offering_id=linked.id, work_date=date(2026, 3, 3),
                              hours="6", description="Site survey")
    session.commit()
    run_jobs()
    (card,) = sandbox.live_cards()
    posts = [r for r in sandbox.state.requests if r["method"] == "POST" and r["path"].endswith("/timecard_entries")]
    assert len(posts) == 1  # found by its origin, not created again
    session.refresh(entry)
    assert entry.external_id == str(card["id"])
    (message,) = session.scalars(select(SyncMessage).where(SyncMessage.direction == "outbound"))
    assert message.status == "processed" and message.reason.startswith(f"Created Procore time card {card['id']}")


def test_a_webhook_hook_and_trigger_whose_answers_are_lost_exist_once(session, sandbox, portal_url, run_jobs):
    sandbox.fault(200, path="/rest/v1.0/webhooks/hooks", method="POST", lose_answer=True, count=2)
    found = connect(session, run_jobs)
    assert found.is_connected, found.last_error
    (hook,) = sandbox.state.hooks.values()
    assert sorted(t["event_type"] for t in sandbox.state.triggers.values()) == ["CREATE", "DELETE", "UPDATE"]
    assert procore_connection.get_connection(session).settings["hook_id"] == str(hook["id"])


