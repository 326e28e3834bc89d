"""The Toggl connector against the sandbox over real loopback HTTP: auth, validation messages, paging,
error bodies, quotas (402 + reset headers), the 429 leaky bucket, 5xx and timeouts."""

from __future__ import annotations

import json
import threading
import time
from datetime import date

import httpx
import pytest

from portal.errors import ExternalServiceError, InvalidInput
from portal.integrations.connectors import ProjectSpec
from portal.integrations.http import AuthenticationFailed, ExternalNotFound, RateLimited
from portal.integrations.registry import connector_for
from portal.integrations.toggl.connector import TogglConnector
from tests.servers import serve
from tests.toggl_sandbox import TOKEN, WORKSPACE_ID, make_connection


def connector(connection, **options) -> TogglConnector:
    return TogglConnector(connection, **options)


def spec(name="Build", client_id=None, **values) -> ProjectSpec:
    base = dict(name=name, client_id=client_id, active=True, billable=True, start_date=date(2026, 1, 5),
                end_date=date(2026, 3, 31), estimated_hours=120, fixed_fee=None)
    return ProjectSpec(**{**base, **values})


# Connection validation -------------------------------------------------------------------------

def test_validate_learns_the_workspace_and_the_acting_user(session, toggl, toggl_connection):
    info = connector_for(toggl_connection).validate()
    assert info.account_name == "Test Consulting"
    assert info.external_user_id == str(toggl.world.admin_id)
    assert info.user_email == "integration@example.test"
    assert info.settings["premium"] is True


def test_bad_token_gets_its_own_message(session, toggl, toggl_connection):
    toggl_connection.credentials = json.dumps({"api_token": "not-a-token"})
    with pytest.raises(AuthenticationFailed, match="did not accept the API token"):
        connector(toggl_connection).validate()
    assert toggl.requests()[-1]["status"] == 403


def test_a_request_without_credentials_is_401_with_the_missing_header(toggl):
    response = httpx.get(f"{toggl.url}/api/v9/me")
    assert response.status_code == 401
    assert response.headers["X-Authorization-Missing"] == "true"
    assert response.content == b""


def test_unknown_workspace_gets_its_own_message(session, toggl, toggl_connection):
    toggl_connection.account_id = "999"
    with pytest.raises(ExternalServiceError, match="Toggl has no workspace 999"):
        connector(toggl_connection).validate()


def test_workspace_without_access_gets_its_own_message(session, toggl, toggl_connection):
    other = toggl.seed(workspaces=[{"name": "Someone else's", "members": [{"email": "boss@other.test",
                                                                            "admin": True}]}])
    toggl_connection.account_id = str(other["workspaces"][0]["id"])
    with pytest.raises(ExternalServiceError, match="has no access to workspace"):
        connector(toggl_connection).validate()


def test_a_member_who_is_not_admin_is_told_so(session, toggl, toggl_connection):
    toggl.set_member("integration@example.test", admin=False)
    with pytest.raises(ExternalServiceError, match="not an admin"):
        connector(toggl_connection).validate()


def test_workspace_id_must_be_a_number(session, toggl, toggl_connection):
    toggl_connection.account_id = "acme"
    with pytest.raises(InvalidInput, match="workspace id"):
        connector(toggl_connection).validate()


# Reading and writing -------------------------------------------------------------------------------

def test_projects_are_read_page_by_page(session, toggl, toggl_connection):
    toggl.seed(projects=[{"workspace_id": WORKSPACE_ID, "name": f"Project {n:03d}"} for n in range(450)])
    mark = toggl.mark()
    projects = connector(toggl_connection).list_projects()
    assert len(projects) == 450 and len({p.id for p in projects}) == 450
    pages = [e for e in toggl.requests(mark) if e["path"].endswith("/projects")]
    assert len(pages) == 3
    assert all("per_page=200" in e["query"] for e in pages)


def test_per_page_above_200_is_cut_to_200(toggl, toggl_connection):
    toggl.seed(projects=[{"workspace_id": WORKSPACE_ID, "name": f"P{n}"} for n in range(230)])
    response = httpx.get(f"{toggl.url}/api/v9/workspaces/{WORKSPACE_ID}/projects", params={"per_page": 500},
                         auth=(TOKEN, "api_token"))
    assert len(response.json()) == 200 and response.json()[0]["total_count"] == 230
    default = httpx.get(f"{toggl.url}/api/v9/workspaces/{WORKSPACE_ID}/projects", auth=(TOKEN, "api_token"))
    assert len(default.json()) == 151


def test_error_bodies_are_json_strings_and_reach_the_user(session, toggl, toggl_connection):
    toggl.seed(clients=[{"workspace_id": WORKSPACE_ID, "name": "Northwind"}])
    raw = httpx.post(f"{toggl.url}/api/v9/workspaces/{WORKSPACE_ID}/clients", json={"name": "Northwind"},
                     auth=(TOKEN, "api_token"))
    assert raw.status_code == 400 and raw.json() == "Name has already been taken"
    with pytest.raises(ExternalServiceError, match="already has a client named 'Northwind'"):
        connector(toggl_connection).create_client("Northwind")


def test_unknown_project_is_not_found(session, toggl, toggl_connection):
    with pytest.raises(ExternalNotFound, match="has no project 12345"):
        connector(toggl_connection).get_project("12345")


def test_the_creator_is_made_manager_and_cannot_be_added_again(session, toggl, toggl_connection):
    toggl_connector = connector(toggl_connection)
    project = toggl_connector.create_project(spec())
    (row,) = toggl_connector.list_project_users(project.id)
    assert row.user_id == str(toggl.world.admin_id) and row.manager
    with pytest.raises(ExternalServiceError, match="Project user already exists"):
        toggl_connector.add_project_user(project.id, str(toggl.world.admin_id), None)


def test_update_sends_only_what_differs(session, toggl, toggl_connection):
    toggl_connector = connector(toggl_connection)
    project = toggl_connector.create_project(spec())
    mark = toggl.mark()
    unchanged = toggl_connector.update_project(project.id, spec(), current=toggl_connector.get_project(project.id))
    assert unchanged.name == "Build" and toggl.writes(mark) == []
    toggl_connector.update_project(project.id, spec(estimated_hours=80), current=project)
    assert toggl.project(project.id)["estimated_hours"] == 80


def test_a_lost_creation_answer_is_recovered_by_our_reference(session, toggl, toggl_connection):
    toggl_connector = connector(toggl_connection)
    first = toggl_connector.create_project(spec(external_reference="portal-offering-7"))
    again = toggl_connector.create_project(spec(external_reference="portal-offering-7"))
    assert again.id == first.id and len(toggl.projects()) == 1
    with pytest.raises(ExternalServiceError, match="already has a project named 'Build'"):
        toggl_connector.create_project(spec(external_reference="portal-offering-8"))


def test_a_free_workspace_gets_no_premium_fields(session, toggl):
    world = toggl.standard(premium=False, plan="free")
    free = make_connection(session, world, premium=False)
    project = connector(free).create_project(spec())
    stored = toggl.project(project.id)
    assert stored["estimated_hours"] is None and stored["billable"] is None


def test_a_plan_refusal_is_not_retried(session, toggl):
    world = toggl.standard(premium=False, plan="free")
    believes_premium = make_connection(session, world, premium=True)
    mark = toggl.mark()
    with pytest.raises(ExternalServiceError, match="plan does not include"):
        connector(believes_premium).create_project(spec())
    assert len(toggl.requests(mark)) == 1


@pytest.mark.parametrize("text, expected", [
    ("123456", "123456"),
    (f"https://track.toggl.com/{WORKSPACE_ID}/projects/204851234/team", "204851234"),
    (f"https://track.toggl.com/{WORKSPACE_ID}/projects/204851234/edit?x=1", "204851234"),
    ("https://track.toggl.com/reports/summary/7435584/period/thisWeek/projects/5550001", "5550001"),
    ("https://track.toggl.com/timer", None),
    ("see the project", None),
])
def test_project_id_from_url(session, toggl, toggl_connection, text, expected):
    assert connector(toggl_connection).project_id_from_url(text) == expected


def test_a_project_url_of_another_workspace_is_refused(session, toggl, toggl_connection):
    with pytest.raises(InvalidInput, match="workspace 111"):
        connector(toggl_connection).project_id_from_url("https://track.toggl.com/111/projects/222/team")


# Limits, failures and retries ------------------------------------------------------------------

def test_quota_402_waits_until_the_reset_and_retries(session, toggl, toggl_connection, clocked, app):
    app.config["CONNECTOR_MAX_WAIT"] = 4000.0
    organization = toggl.state()["workspaces"][0]["organization_id"]
    toggl.limits(organizations={str(organization): {"quota": 2}})
    toggl_connector = connector(toggl_connection, sleep=clocked)
    toggl_connector.list_clients()
    toggl.advance(600)
    toggl_connector.list_clients()
    mark = toggl.mark()
    toggl_connector.list_clients()  # the third request in the hour: 402, wait for the first to age out
    assert [e["status"] for e in toggl.requests(mark)] == [402, 200]
    assert 3000 - 2 <= clocked.slept[0] <= 3000 + 1


def test_quota_headers_are_on_every_answer(toggl, toggl_connection):
    response = httpx.get(f"{toggl.url}/api/v9/workspaces/{WORKSPACE_ID}/clients", auth=(TOKEN, "api_token"))
    assert response.headers["X-Toggl-Quota-Remaining"] == "599"
    assert int(response.headers["X-Toggl-Quota-Resets-In"]) == 3600


def test_a_quota_resetting_later_than_the_wait_bound_fails_with_the_reset_time(session, toggl,
                                                                               toggl_connection, clocked):
    organization = toggl.state()["workspaces"][0]["organization_id"]
    toggl.limits(organizations={str(organization): {"quota": 1}})
    toggl_connector = connector(toggl_connection, sleep=clocked)
    toggl_connector.list_clients()
    with pytest.raises(RateLimited, match="quota for this workspace is used up; it resets in about 60 min"):
        toggl_connector.list_clients()
    assert clocked.slept == []


def test_me_has_its_own_hourly_quota(toggl, toggl_connection):
    organization = toggl.state()["workspaces"][0]["organization_id"]
    toggl.limits(organizations={str(organization): {"quota": 1}})
    auth = (TOKEN, "api_token")
    assert httpx.get(f"{toggl.url}/api/v9/workspaces/{WORKSPACE_ID}/clients", auth=auth).status_code == 200
    assert httpx.get(f"{toggl.url}/api/v9/workspaces/{WORKSPACE_ID}/clients", auth=auth).status_code == 402
    statuses = [httpx.get(f"{toggl.url}/api/v9/me", auth=auth).status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30 and statuses[30] == 402


def test_429_waits_as_long_as_the_server_says(session, toggl, toggl_connection, clocked, app):
    app.config["CONNECTOR_MAX_WAIT"] = 60.0
    toggl.behave(retry_after_on_429=True)
    toggl.limits(rate_capacity=2, rate_per_second=0.25)
    toggl_connector = connector(toggl_connection, sleep=clocked)
    for _ in range(3):
        toggl_connector.list_clients()
    assert [e["status"] for e in toggl.requests()][-2:] == [429, 200]
    assert 4 <= clocked.slept[0] <= 4.01


def test_persistent_429_fails_clearly(session, toggl, toggl_connection, clocked):
    toggl.fault(r"/api/v9/workspaces/\d+/clients", status=429, body="Too Many Requests",
                headers={"Retry-After": "1"}, times=-1)
    with pytest.raises(RateLimited, match="rate limiting"):
        connector(toggl_connection, sleep=clocked).list_clients()


def test_5xx_is_retried_with_backoff(session, toggl, toggl_connection, clocked):
    toggl.fault(r"/api/v9/workspaces/\d+/clients", status=503, times=2)
    assert connector(toggl_connection, sleep=clocked).list_clients() == []
    assert [e["status"] for e in toggl.requests()] == [503, 503, 200]
    assert len(clocked.slept) == 2 and clocked.slept[1] > clocked.slept[0] * 1.2


def test_toggl_down_fails_with_the_reason(session, toggl, toggl_connection, clocked):
    toggl.fault(r"/api/v9/.*", status=502, body="Bad Gateway", times=-1)
    with pytest.raises(ExternalServiceError, match="could not be reached or failed: it answered 502"):
        connector(toggl_connection, sleep=clocked).list_clients()


def test_a_timeout_is_retried(session, toggl, toggl_connection, clocked, app):
    app.config["CONNECTOR_TIMEOUT"] = 0.2
    toggl.fault(r"/api/v9/workspaces/\d+/clients", delay=0.6, status=200, body=[], times=1)
    assert connector(toggl_connection, sleep=clocked).list_clients() == []
    assert len(clocked.slept) == 1


def test_persistent_timeouts_fail_with_the_reason(session, toggl, toggl_connection, clocked, app):
    app.config["CONNECTOR_TIMEOUT"] = 0.1
    app.config["CONNECTOR_MAX_WAIT"] = 0.05
    toggl.fault(r"/api/v9/workspaces/\d+/clients", delay=0.3, status=200, body=[], times=-1)
    with pytest.raises(ExternalServiceError, match="timed out"):
        connector(toggl_connection, sleep=clocked).list_clients()


# Time (Reports v3) and webhooks -----------------------------------------------------------------

def test_time_entries_come_from_the_report_page_by_page(session, toggl, toggl_connection):
    toggl.set_member("ana@example.test")
    entries = [{"workspace_id": WORKSPACE_ID, "email": "ana@example.test", "start": f"2026-03-{day:02d}T09:00:00Z",
                "duration": 3600 + minute * 60, "description": f"work {day}/{minute}", "billable": True}
               for day in range(2, 8) for minute in range(20)]
    toggl.seed(time_entries=entries)
    mark = toggl.mark()
    reader = connector(toggl_connection)
    reader.report_page_size = 50
    pulled = list(reader.list_time_entries(date(2026, 3, 1), date(2026, 3, 31)))
    assert len(pulled) == 120 and len({e.id for e in pulled}) == 120
    assert all(e.user_email == "ana@example.test" and e.seconds >= 3600 for e in pulled)
    assert int(pulled[0].id) > 2**31  # Toggl ids exceed 32 bits
    assert len(toggl.requests(mark)) == 3  # 50 + 50 + 20 rows


def test_webhook_deliveries_are_signed(session, toggl, toggl_connection):
    received: list[tuple[bytes, dict]] = []

    def receiver(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        received.append((body, headers))
        event = json.loads(body)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"validation_code": event.get("validation_code")}).encode()]

    with serve(receiver) as url:
        toggl_connector = connector(toggl_connection)
        hook = toggl_connector.create_webhook(f"{url}/hooks/toggl", "portal time sync", secret="s3cret")
        assert hook.validated and toggl_connector.list_webhooks()[0].id == hook.id
        httpx.post(f"{toggl.url}/api/v9/workspaces/{WORKSPACE_ID}/time_entries", auth=(TOKEN, "api_token"),
                   json={"workspace_id": WORKSPACE_ID, "created_with": "test", "start": "2026-03-02T09:00:00Z",
                         "duration": 1800}).raise_for_status()
        deadline = time.monotonic() + 5
        while len(received) < 2 and time.monotonic() < deadline:
            threading.Event().wait(0.02)
        body, headers = received[1]
        assert json.loads(body)["metadata"]["model"] == "time_entry"
        assert toggl_connector.verify_webhook(body, headers, "s3cret")
        assert not toggl_connector.verify_webhook(body, headers, "other")
        toggl_connector.delete_webhook(hook.id)
        assert toggl_connector.list_webhooks() == []
