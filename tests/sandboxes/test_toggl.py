"""The sandbox's time side as the reference describes it (what the time sync will rely on): time entries
and their edge cases, the detailed report's paging headers, and webhook subscriptions and limits."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.toggl_sandbox import TOKEN, WORKSPACE_ID


@pytest.fixture
def api(toggl):
    toggl.standard(members=["ana@example.test"])
    with httpx.Client(base_url=toggl.url, auth=(TOKEN, "api_token")) as http:
        yield http


def entry(api, **values):
    body = {"workspace_id": WORKSPACE_ID, "created_with": "test", "start": "2026-03-02T09:00:00Z", **values}
    response = api.post(f"/api/v9/workspaces/{WORKSPACE_ID}/time_entries", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_running_entries_and_stopping_twice(api):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    running = entry(api, start=now, duration=-1)
    assert running["stop"] is None and running["duration"] < 0
    assert api.get("/api/v9/me/time_entries/current").json()["id"] == running["id"]
    stop = f"/api/v9/workspaces/{WORKSPACE_ID}/time_entries/{running['id']}/stop"
    assert api.patch(stop).status_code == 200
    again = api.patch(stop)
    assert again.status_code == 409 and again.json() == "Time entry already stopped"
    assert api.get("/api/v9/me/time_entries/current").json() is None


def test_since_includes_deleted_entries_and_refuses_before_or_old_values(api, toggl):
    kept, gone = entry(api, duration=600), entry(api, duration=900)
    api.delete(f"/api/v9/workspaces/{WORKSPACE_ID}/time_entries/{gone['id']}").raise_for_status()
    since = int(time.time()) - 3600
    rows = {e["id"]: e for e in api.get("/api/v9/me/time_entries", params={"since": since}).json()}
    assert rows[gone["id"]]["server_deleted_at"] and rows[kept["id"]]["server_deleted_at"] is None
    both = api.get("/api/v9/me/time_entries", params={"since": since, "before": "2026-04-01"})
    assert both.status_code == 400 and both.json() == "'since' and 'before' can not be present simultaneously"
    old = api.get("/api/v9/me/time_entries", params={"since": int(time.time()) - 100 * 86400})
    assert old.status_code == 400 and old.json() == "Since cannot be older than 3 months"
    dated = api.get("/api/v9/me/time_entries", params={"start_date": "2026-03-01", "end_date": "2026-03-03"}).json()
    assert [e["id"] for e in dated] == [kept["id"]]


def test_report_pages_carry_next_row_headers(api):
    for minute in range(7):
        entry(api, start=f"2026-03-02T09:{minute:02d}:00Z", duration=60)
    path = f"/reports/api/v3/workspace/{WORKSPACE_ID}/search/time_entries"
    first = api.post(path, json={"start_date": "2026-03-01", "end_date": "2026-03-31", "page_size": 5})
    assert len(first.json()) == 5 and first.headers["X-Next-Row-Number"] == "6"
    assert first.headers["X-Next-ID"] == str(first.json()[-1]["time_entries"][0]["id"] + 1)
    second = api.post(path, json={"start_date": "2026-03-01", "end_date": "2026-03-31", "page_size": 5,
                                  "first_row_number": 6})
    assert [r["row_number"] for r in second.json()] == [6, 7] and "X-Next-Row-Number" not in second.headers
    assert api.post(path, json={}).json() == "At least one parameter must be set"


def test_webhook_limits_follow_the_plan_and_validation_can_be_async(api, toggl):
    def receiver(environ, start_response):  # answers 200 without echoing the code: validation stays pending
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    from tests.servers import serve

    organization = toggl.state()["workspaces"][0]["organization_id"]
    toggl.limits(organizations={str(organization): {"plan": "free"}})
    with serve(receiver) as url:
        body = {"url_callback": f"{url}/hook", "description": "one", "enabled": True,
                "event_filters": [{"entity": "time_entry", "action": "*"}]}
        created = api.post(f"/webhooks/api/v1/subscriptions/{WORKSPACE_ID}", json=body)
        assert created.status_code == 200 and created.json()["validated_at"] is None
        second = api.post(f"/webhooks/api/v1/subscriptions/{WORKSPACE_ID}", json={**body, "description": "two"})
        assert second.status_code == 400 and "limit of 1 enabled subscriptions" in second.json()
    ping = next(d for d in toggl.state()["deliveries"] if d["payload"] == "ping")
    assert ping["status"] == 200
    subscription = toggl.state()["subscriptions"][0]
    sid, code = subscription["subscription_id"], subscription["validation_code"]
    assert api.get(f"/webhooks/api/v1/validate/{WORKSPACE_ID}/{sid}/{code}").json() == "OK"
    again = api.get(f"/webhooks/api/v1/validate/{WORKSPACE_ID}/{sid}/{code}")
    assert again.status_code == 400 and "already been validated" in again.json()
    assert api.get(f"/webhooks/api/v1/limits/{WORKSPACE_ID}").json() == {"max_webhooks": 1,
                                                                        "max_events_per_webhook": 3}


def test_a_failing_callback_refuses_the_subscription(api):
    body = {"url_callback": "http://127.0.0.1:9/unreachable", "description": "x", "enabled": True,
            "event_filters": [{"entity": "time_entry", "action": "*"}]}
    response = api.post(f"/webhooks/api/v1/subscriptions/{WORKSPACE_ID}", json=body)
    assert response.status_code == 400 and response.json().startswith("request to URL failed")


def test_the_demo_sandbox_keeps_its_records_across_restarts(tmp_path):
    """`make run` restarts must not lose the projects the portal is linked to, nor reuse their ids."""
    import base64

    from portal.demo import PEOPLE
    from portal.integrations.toggl import demo as toggl_demo
    from portal.integrations.toggl.demo import NORTHWIND as TOGGL_DEMO_CLIENT
    from portal.integrations.toggl.demo import TOKEN as TOGGL_DEMO_TOKEN
    from portal.integrations.toggl.demo import WORKSPACE as TOGGL_DEMO_WORKSPACE
    from sandboxes.toggl import create_sandbox

    state_file = str(tmp_path / "toggl.json")
    auth = {"Authorization": "Basic " + base64.b64encode(f"{TOGGL_DEMO_TOKEN}:api_token".encode()).decode()}
    path = f"/api/v9/workspaces/{TOGGL_DEMO_WORKSPACE}/projects"

    first = create_sandbox(state_file=state_file).test_client()
    first.post("/_sandbox/seed", json=toggl_demo.world(PEOPLE))
    created = first.post(path, json={"name": "Kept", "client_id": TOGGL_DEMO_CLIENT, "active": True},
                         headers=auth).get_json()

    again = create_sandbox(state_file=state_file).test_client()
    names = {p["id"]: p["name"] for p in again.get(path, headers=auth).get_json()}
    assert names[created["id"]] == "Kept"
    newer = again.post(path, json={"name": "Newer", "client_id": TOGGL_DEMO_CLIENT}, headers=auth).get_json()
    assert newer["id"] not in names
