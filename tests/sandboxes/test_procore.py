"""The Procore sandbox's unkind behaviours (procore_state.Behaviours), each on by default and switchable:
the spike window in the rate-limit headers with 429s without Retry-After, hourly resets far away, single-use
refresh tokens, duplicate, out-of-order and dropped webhook deliveries, and answers lost after the work."""

from __future__ import annotations

import time

import pytest

from portal.demo import PEOPLE as DEMO_PEOPLE
from portal.integrations.procore import demo
from sandboxes.procore import create_sandbox

ENTRIES = f"/rest/v1.0/companies/{demo.COMPANY_ID}/timecard_entries"
PROJECTS = f"/rest/v1.0/projects?company_id={demo.COMPANY_ID}"


@pytest.fixture
def procore():
    app = create_sandbox(deliver="manual", hourly_limit=600, spike_limit=3)
    app.state.seed(demo.world(DEMO_PEOPLE))
    client = app.test_client()
    client.state = app.state
    return client


def _token(procore, grant: str = "client_credentials", **form: str) -> dict:
    answer = procore.post("/oauth/token", data={"grant_type": grant, "client_id": demo.CLIENT_ID,
                                                "client_secret": demo.CLIENT_SECRET, **form})
    return answer.get_json()


def _headers(procore) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(procore)['access_token']}", "Procore-Company-Id": str(demo.COMPANY_ID)}


def test_behaviours_are_on_by_default_and_switchable(procore):
    held = procore.get("/_sandbox/behaviours").get_json()
    assert all(held[key] is True for key in ("single_use_refresh", "spike_window", "duplicate_deliveries",
                                             "out_of_order"))
    changed = procore.post("/_sandbox/behaviours", json={"duplicate_deliveries": False, "lose_every": 2})
    assert changed.get_json()["duplicate_deliveries"] is False and changed.get_json()["lose_every"] == 2
    assert procore.post("/_sandbox/behaviours", json={"kinder": True}).status_code == 400


def test_the_spike_window_is_reported_when_closest_and_its_429_names_no_retry_after(procore):
    headers = _headers(procore)
    remaining = []
    for _ in range(3):
        answer = procore.get(PROJECTS, headers=headers)
        assert answer.headers["X-Rate-Limit-Limit"] == "3"  # the 10-second window: closer to exhaustion
        remaining.append(answer.headers["X-Rate-Limit-Remaining"])
    assert remaining == ["2", "1", "0"]
    refused = procore.get(PROJECTS, headers=headers)
    assert refused.status_code == 429 and "Retry-After" not in refused.headers
    assert time.time() < int(refused.headers["X-Rate-Limit-Reset"]) <= time.time() + 11

    procore.post("/_sandbox/behaviours", json={"spike_window": False})  # the kinder sandbox of old
    kinder = procore.get(PROJECTS, headers=headers)
    assert kinder.status_code == 200 and kinder.headers["X-Rate-Limit-Limit"] == "600"


def test_an_exhausted_hour_resets_an_hour_after_its_first_request(procore):
    procore.state.hourly_limit, procore.state.spike_limit = 2, 100
    headers = _headers(procore)
    first = procore.get(PROJECTS, headers=headers)
    procore.get(PROJECTS, headers=headers)
    refused = procore.get(PROJECTS, headers=headers)
    assert refused.status_code == 429 and "Retry-After" not in refused.headers
    assert int(refused.headers["X-Rate-Limit-Reset"]) >= int(first.headers["X-Rate-Limit-Reset"]) > time.time() + 3500


def test_refresh_tokens_work_once_unless_switched_off(procore):
    code = procore.state.issue_code(demo.CLIENT_ID, "urn:ietf:wg:oauth:2.0:oob")
    pair = _token(procore, "authorization_code", code=code, redirect_uri="urn:ietf:wg:oauth:2.0:oob")
    assert _token(procore, "refresh_token", refresh_token=pair["refresh_token"])["access_token"]
    assert _token(procore, "refresh_token", refresh_token=pair["refresh_token"]) == {
        "error": "invalid_grant", "error_description": "The refresh token is invalid"}
    procore.post("/_sandbox/behaviours", json={"single_use_refresh": False})
    again = _token(procore, "authorization_code", code=procore.state.issue_code(
        demo.CLIENT_ID, "urn:ietf:wg:oauth:2.0:oob"), redirect_uri="urn:ietf:wg:oauth:2.0:oob")
    for _ in range(2):
        assert "access_token" in _token(procore, "refresh_token", refresh_token=again["refresh_token"])


def test_every_nth_create_is_carried_out_and_its_answer_lost(procore):
    procore.state.spike_limit = 100
    procore.post("/_sandbox/behaviours", json={"lose_every": 2})
    headers = _headers(procore)
    body = {"project_id": demo.PROJECT_IDS["riverside"], "timecard_entry": {"date": "2026-03-03", "hours": "2"}}
    answers = [procore.post(ENTRIES, headers=headers, json=body).status_code for _ in range(4)]
    assert answers == [201, 504, 201, 504]
    assert len([e for e in procore.state.entries.values() if e["deleted_at"] is None]) == 4  # all four made


def _hooked(state) -> dict:
    hook = state.add("hooks", api_version="v2", namespace="test", destination_url="http://127.0.0.1:9/hook",
                     destination_headers={}, owned_by_company_id=demo.COMPANY_ID, owned_by_project_id=None,
                     owned_by_user_id=None, queue=[], failing_since=None)
    for event_type in ("CREATE", "UPDATE", "DELETE"):
        state.add("triggers", webhook_hook_id=hook["id"], resource_name="Timecard Entries", event_type=event_type)
    return hook


def _card(state, **fields) -> dict:
    return state.write_entry(demo.COMPANY_ID, demo.PROJECT_IDS["riverside"],
                             {"date": "2026-03-03", "hours": "2", **fields}, user_id=None)


def test_deliveries_come_twice_and_newest_first(procore):
    state = procore.state
    hook = _hooked(state)
    card = _card(state)
    state.write_entry(demo.COMPANY_ID, card["project_id"], {"hours": "3"}, entry=card)
    events = [state.deliveries[d]["event"] for d in hook["queue"]]
    assert [e["event_type"] for e in events] == ["create", "create", "update", "update"]
    assert events[0] == events[1]  # the same event (same ulid) delivered twice
    _, head = state._due_head()
    assert head["event"]["event_type"] == "update"  # out of order: the newest first

    hook["in_flight"] = False
    procore.post("/_sandbox/behaviours", json={"duplicate_deliveries": False, "out_of_order": False})
    hook["queue"].clear()
    _card(state)
    _card(state)
    assert len(hook["queue"]) == 2
    _, head = state._due_head()
    assert head["id"] == hook["queue"][0]


def test_every_nth_event_can_be_dropped(procore):
    state = procore.state
    hook = _hooked(state)
    procore.post("/_sandbox/behaviours", json={"drop_every": 2})
    _card(state)
    _card(state)
    outcomes = sorted(d["outcome"] for d in state.deliveries.values())
    assert outcomes == ["discarded", "pending", "pending"]  # the second event is never delivered
    assert len(hook["queue"]) == 2
