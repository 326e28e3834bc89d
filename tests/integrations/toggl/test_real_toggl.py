"""Where real Toggl differs from a kind server (issue 13, "Corrections and additions" of the API notes): each
sandbox behaviour below is on by default, and each test fails without the connector's handling of it."""

from __future__ import annotations

import json
from datetime import date

import httpx
import pytest

from portal.errors import ExternalServiceError
from portal.integrations.connectors import ProjectSpec
from portal.integrations.http import AuthenticationFailed, ExternalNotFound
from portal.integrations.toggl.connector import TogglConnector
from tests.toggl_sandbox import ADMIN_EMAIL, TOKEN, WORKSPACE_ID


def spec(name: str) -> ProjectSpec:
    return ProjectSpec(name=name, client_id=None, active=True, billable=True, start_date=None, end_date=None,
                       estimated_hours=None, fixed_fee=None)


# 1. Project users right after creating a project ---------------------------------------------------

def test_a_new_projects_users_are_asked_again_while_toggl_catches_up(session, toggl, toggl_connection, clocked):
    toggl.set_member("ana@example.test")
    connector = TogglConnector(toggl_connection, sleep=clocked)
    project = connector.create_project(spec("Fresh"))
    mark = toggl.mark()
    row = connector.add_project_user(project.id, str(toggl.state()["users"][-1]["id"]), None)
    assert row.project_id == project.id
    assert [(e["method"], e["status"]) for e in toggl.requests(mark)] == [("POST", 400), ("POST", 200)]
    assert clocked.slept == [connector.consistency_wait]


def test_the_lag_also_ends_with_time_and_the_waits_stay_bounded(session, toggl, toggl_connection, clocked, app):
    app.config["TOGGL_CONSISTENCY_WAIT"] = 2.0
    toggl.behave(project_lag_seconds=5.0, project_lag_requests=100)
    toggl.set_member("ana@example.test")
    connector = TogglConnector(toggl_connection, sleep=clocked)
    project = connector.create_project(spec("Slow"))
    user = str(toggl.state()["users"][-1]["id"])
    connector.add_project_user(project.id, user, None)  # refused at 0, 2 and 4 s; known at 6 s
    assert clocked.slept == [2.0, 2.0, 2.0]
    toggl.behave(project_lag_seconds=60.0)
    late = connector.create_project(spec("Slower"))
    with pytest.raises(ExternalNotFound, match="Invalid project_id"):  # three retries, then it is missing
        connector.add_project_user(late.id, user, None)
    assert clocked.slept == [2.0] * 6


# 5. Credentials revoked ---------------------------------------------------------------------------

@pytest.mark.parametrize("body", ["text", "json"])
def test_a_regenerated_token_is_told_apart_from_a_permission_refusal(session, toggl, toggl_connection, body):
    toggl.behave(auth_error_body=body)
    toggl_connection.credentials = json.dumps({"api_token": "regenerated-since"})
    response = httpx.get(f"{toggl.url}/api/v9/workspaces/{WORKSPACE_ID}/clients", auth=("regenerated-since",
                                                                                          "api_token"))
    assert response.status_code == 403 and b"Incorrect username" in response.content
    with pytest.raises(AuthenticationFailed, match="Was the Toggl API token regenerated?") as refused:
        TogglConnector(toggl_connection).list_clients()
    assert refused.value.details["token_refused"] is True


def test_a_permission_refusal_with_words_is_not_a_bad_token(session, toggl, toggl_connection):
    toggl.fault(r"/api/v9/workspaces/\d+/clients", status=403, body="Only admins may see clients")
    with pytest.raises(ExternalServiceError, match="does not allow this") as refused:
        TogglConnector(toggl_connection).list_clients()
    assert not isinstance(refused.value, AuthenticationFailed)
    assert toggl.requests()[-1]["path"] == "/api/v9/me"  # the token was checked, and works


# 6. The workspace's role --------------------------------------------------------------------------

def test_the_workspace_role_says_who_is_admin(session, toggl, toggl_connection):
    workspaces = httpx.get(f"{toggl.url}/api/v9/me/workspaces", auth=(TOKEN, "api_token")).json()
    assert workspaces[0]["role"] == "admin" and "admin" not in workspaces[0]
    assert TogglConnector(toggl_connection).validate().account_name == "Test Consulting"
    toggl.set_member(ADMIN_EMAIL, admin=False)
    with pytest.raises(ExternalServiceError, match="not an admin"):
        TogglConnector(toggl_connection).validate()


# 429 bursts without Retry-After ---------------------------------------------------------------------

def test_a_429_without_retry_after_waits_for_the_bucket(session, toggl, toggl_connection, clocked, app):
    app.config["CONNECTOR_MAX_WAIT"] = 60.0
    toggl.limits(rate_capacity=2, rate_per_second=1.0)
    connector = TogglConnector(toggl_connection, sleep=clocked)
    for _ in range(3):
        connector.list_clients()
    statuses = [e["status"] for e in toggl.requests()]
    assert statuses.count(429) == 1 and statuses[-1] == 200
    assert 1.0 <= clocked.slept[0] < 1.1  # a bucket's second, not the generic backoff's hundredth


# Reports: pages of 50, summary ids, weekly totals, creators' own time zones ----------------------------

def test_report_pages_are_fifty_rows_whatever_is_asked(session, toggl, toggl_connection):
    toggl.set_member("ana@example.test")
    toggl.seed(time_entries=[{"workspace_id": WORKSPACE_ID, "email": "ana@example.test", "duration": 600,
                              "start": f"2026-03-02T{8 + n // 60:02d}:{n % 60:02d}:00Z"} for n in range(120)])
    connector = TogglConnector(toggl_connection)
    connector.report_page_size = 1000
    mark = toggl.mark()
    assert len(list(connector.list_time_entries(date(2026, 3, 1), date(2026, 3, 3)))) == 120
    assert len(toggl.requests(mark)) == 3


def test_summary_ids_and_weekly_totals_read_days_in_each_persons_zone(session, toggl, toggl_connection):
    toggl.set_member("ana@example.test", timezone="America/Los_Angeles")
    toggl.set_member("ben@example.test", timezone="Europe/Helsinki")
    project = toggl.seed(projects=[{"workspace_id": WORKSPACE_ID, "name": "Zones"}])["projects"][0]["id"]
    entries = toggl.seed(time_entries=[
        # 23:30 on 30 November in Los Angeles is 07:30 UTC on 1 December
        {"workspace_id": WORKSPACE_ID, "email": "ana@example.test", "project_id": project, "duration": 3600,
         "start": "2026-12-01T07:30:00Z"},
        # 00:30 on 1 December in Helsinki is 22:30 UTC on 30 November
        {"workspace_id": WORKSPACE_ID, "email": "ben@example.test", "project_id": project, "duration": 1800,
         "start": "2026-11-30T22:30:00Z"},
    ])["time_entries"]
    users = {u["email"]: str(u["id"]) for u in toggl.state()["users"]}
    connector = TogglConnector(toggl_connection)
    mark = toggl.mark()
    assert connector.entry_ids(date(2026, 11, 30), date(2026, 11, 30), [str(project)]) == {str(entries[0]["id"])}
    totals = connector.daily_totals(date(2026, 11, 24), date(2026, 12, 7), [str(project)])
    assert totals == {(date(2026, 11, 30), users["ana@example.test"], str(project)): 3600,
                      (date(2026, 12, 1), users["ben@example.test"], str(project)): 1800}
    assert len(toggl.requests(mark)) == 3  # one summary, two weeks
    pulled = list(connector.list_time_entries(date(2026, 11, 30), date(2026, 11, 30)))
    assert [e.id for e in pulled] == [str(entries[0]["id"])]
    assert pulled[0].started_at.isoformat() == "2026-12-01T07:30:00+00:00"


def test_summary_without_ids_is_not_taken_for_deletions(session, toggl, toggl_connection):
    toggl.set_member("ana@example.test")
    toggl.fault(r"/reports/api/v3/workspace/\d+/summary/time_entries", status=200,
                body={"groups": [{"id": 1, "sub_groups": [{"id": 2, "seconds": 3600}]}]})
    assert TogglConnector(toggl_connection).entry_ids(date(2026, 3, 1), date(2026, 3, 2), ["1"]) is None
