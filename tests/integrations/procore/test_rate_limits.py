"""Procore's rate limits as the real service reports them (issue 13 items 9 and 12): two windows (an hour and
10 seconds) read from X-Rate-Limit-* headers, never assumed; 429s without Retry-After whose X-Rate-Limit-Reset
may be an hour away; and one "wait until T" shared by every job of the connection."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.integrations.http import RateLimited
from portal.integrations.procore.connector import ProcoreConnector, rate_limit_pause
from portal.integrations.registry import connector_for
from portal.runs.models import SyncMessage
from portal.timesheets import entries
from tests.factories import ResourceFactory


def _api_calls(sandbox) -> int:
    return len(sandbox.state.requests)


def test_the_spike_window_is_read_from_the_headers_and_its_429_waits_for_its_reset(session, sandbox, procore):
    sandbox.state.spike_limit = 3
    sandbox.state.calls.clear()
    connector = connector_for(procore)
    connector.list_projects()
    assert connector.api.rate_limit["limit"] == 3 and connector.api.rate_limit["remaining"] == 2
    connector.list_projects()
    connector.list_projects()
    before = _api_calls(sandbox)
    with pytest.raises(RateLimited) as refused:  # the reset is seconds away, past the tests' 2-second bound
        connector.list_projects()
    assert _api_calls(sandbox) == before + 1  # asked once, then waited for nothing more
    reset = datetime.fromtimestamp(connector.api.rate_limit["reset"], UTC)
    assert abs((refused.value.resets_at - reset).total_seconds()) <= 1  # X-Rate-Limit-Reset, not a guess
    assert refused.value.resets_at < datetime.now(UTC) + timedelta(seconds=11)


def test_a_429_without_retry_after_waits_until_x_rate_limit_reset(app, monkeypatch, session, sandbox, procore):
    # The reset is up to 2 s away and the retry adds up to a quarter second of jitter: the tests' 2-s bound on
    # waiting (conftest) refused it whenever the second had just begun (once in CI).
    monkeypatch.setitem(app.config, "CONNECTOR_MAX_WAIT", 5)
    waits: list[float] = []
    connector = ProcoreConnector(procore, sleep=waits.append)
    sandbox.fault(429, reset_in=2, path="/rest/v1.0/projects")
    assert connector.list_projects()
    assert len(waits) == 1 and 1 <= waits[0] <= 2.5


def test_an_hourly_limit_is_not_assumed_and_its_far_reset_is_kept(session, sandbox, procore):
    sandbox.state.hourly_limit = 4
    sandbox.state.calls.clear()
    connector = connector_for(procore)
    connector.list_projects()
    assert connector.api.rate_limit["limit"] == 4  # what Procore says, whatever the documentation once said
    for _ in range(3):
        connector.list_projects()
    with pytest.raises(RateLimited) as refused:
        connector.list_projects()
    assert refused.value.resets_at > datetime.now(UTC) + timedelta(minutes=59)
    # kept for every worker of the connection until then
    assert abs((rate_limit_pause(procore.id).until() - refused.value.resets_at).total_seconds()) < 1


def test_after_a_429_with_a_far_reset_other_jobs_wait_without_asking(session, sandbox, linked, run_jobs, client,
                                                                     login_as):
    dana = ResourceFactory(name="Dana Developer", email="dana@demo.test")
    session.commit()
    sandbox.fault(429, reset_in=3600, path="/rest/v1.0/companies/")
    first = entries.add_entry(session, "test", resource_id=dana.id, offering_id=linked.id,
                              work_date=date(2026, 3, 3), hours="6")
    session.commit()
    run_jobs()
    (message,) = session.scalars(select(SyncMessage).where(SyncMessage.local_id == first.id))
    assert message.status == "pending" and "rate limit" in message.reason
    resets = datetime.fromtimestamp(time.time() + 3600, UTC)
    assert abs((message.next_attempt_at - resets).total_seconds()) < 5  # deferred until the reset, not a minute

    before = _api_calls(sandbox)
    card = sandbox.card()  # a webhook arrives meanwhile, and another entry is saved
    sandbox.deliver()
    entries.add_entry(session, "test", resource_id=dana.id, offering_id=linked.id, work_date=date(2026, 3, 4),
                      hours="2")
    session.commit()
    run_jobs()
    assert _api_calls(sandbox) == before  # neither job asked Procore
    waiting = list(session.scalars(select(SyncMessage).where(SyncMessage.status == "pending")))
    assert {m.external_id for m in waiting if m.direction == "inbound"} == {str(card["id"])}
    assert all(m.next_attempt_at is not None and m.next_attempt_at > datetime.now(UTC) + timedelta(minutes=59)
               for m in waiting)

    login_as("admin", permissions=["system_settings"])
    page = client.get("/settings/integrations/procore")
    until = rate_limit_pause(message.connection_id).until()
    assert "Procore asked us to wait until" in page.text and f"{until:%H:%M}" in page.text


def test_a_catch_up_meeting_a_far_reset_waits_for_it_instead_of_failing(session, sandbox, procore, run_jobs):
    from portal.integrations.procore import connection

    sandbox.fault(429, reset_in=3600, path="/rest/v1.0/webhooks/hooks")
    run, _ = connection.start_catch_up(session)
    session.commit()
    run_jobs()
    session.refresh(run)
    assert run.status == "queued" and run.error in (None, "")  # paused, still the active check (no alert)
    assert "Procore asked us to wait until" in run.status_text
    assert run.resume_at > datetime.now(UTC) + timedelta(minutes=59)
    again, created = connection.start_catch_up(session)
    assert not created and again.id == run.id  # the hourly cron joins the waiting check
