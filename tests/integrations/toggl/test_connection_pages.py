"""Admin → Integrations → Toggl Track (issue 13): a mistyped token on Validate never replaces a working one, a
refused token shows "needs a new token" with the seed's checks, and the quota and each run's requests are
in sight on the settings page and the sync log."""

from __future__ import annotations

import json

from sqlalchemy import select

from portal.integrations.models import Connection
from tests.integrations.toggl.time_sync_support import days_ago, link, sync
from tests.toggl_sandbox import TOKEN, WORKSPACE_ID


def test_a_mistyped_token_never_replaces_a_working_one(session, client, login_as, toggl, toggl_connection,
                                                        run_jobs):
    login_as("admin")
    session.commit()
    client.post("/settings/integrations/toggl", data={"api_token": "typo-" + TOKEN,
                                                       "workspace_id": str(WORKSPACE_ID)}, htmx=True)
    session.expire_all()
    assert session.get(Connection, toggl_connection.id).status == "connected"  # still working meanwhile
    run_jobs()
    status = client.get("/settings/integrations/toggl/status", htmx=True).get_data(True)
    assert "Toggl did not accept the API token" in status and "The new token was not saved" in status
    session.expire_all()
    connection = session.get(Connection, toggl_connection.id)
    assert connection.status == "connected" and json.loads(connection.credentials)["api_token"] == TOKEN
    assert "pending" not in json.loads(connection.credentials)
    # The right one is saved once Toggl accepts it.
    toggl.seed(users=[{"email": "second@example.test", "api_token": "second-token"}])
    toggl.set_member("second@example.test", admin=True)
    client.post("/settings/integrations/toggl", data={"api_token": "second-token",
                                                       "workspace_id": str(WORKSPACE_ID)}, htmx=True)
    run_jobs()
    session.expire_all()
    connection = session.get(Connection, toggl_connection.id)
    assert connection.status == "connected" and json.loads(connection.credentials)["api_token"] == "second-token"
    assert connection.settings["user_email"] == "second@example.test"


def test_a_refused_token_shows_needs_a_new_token_until_validated(session, client, login_as, tool, run_jobs):
    login_as("admin")
    tool.connection.credentials = json.dumps({"api_token": "regenerated-in-toggl"})
    link(session, tool, tool.offering())
    session.commit()
    sync(session, run_jobs, tool.connection, "nightly")
    page = client.get("/settings/integrations/toggl").get_data(True)
    assert "Needs a new token" in page and "Was the Toggl API token regenerated?" in page
    assert "Was someone removed from the Toggl workspace?" in page
    client.post("/settings/integrations/toggl", data={"api_token": TOKEN, "workspace_id": str(tool.world.workspace_id)},
                htmx=True)
    run_jobs()
    session.expire_all()
    connection = session.get(Connection, tool.connection.id)
    assert connection.status == "connected" and "needs_token" not in connection.settings
    assert "Needs a new token" not in client.get("/settings/integrations/toggl").get_data(True)


def linked_time_and_quota(session, tool, quota: int) -> None:
    """Three entries on a linked offering, and an organization whose hourly quota is `quota`."""
    linked = link(session, tool, tool.offering())
    tool.sandbox.entries(count=3, emails=["ana@example.test"], project_ids=[linked.toggl_project_id],
                         start_date=days_ago(3).isoformat(), days=3)
    organization = tool.sandbox.state()["workspaces"][0]["organization_id"]
    tool.sandbox.limits(organizations={str(organization): {"quota": quota}})
    session.commit()


def test_the_quota_and_each_runs_requests_are_in_sight(session, client, login_as, tool, run_jobs):
    login_as("admin")
    linked_time_and_quota(session, tool, 240)
    run = sync(session, run_jobs, tool.connection, "nightly")
    assert run.requests == len(tool.sandbox.requests()) and run.requests > 0
    session.expire_all()
    quota = session.scalar(select(Connection)).settings["quota"]
    assert quota["remaining"] == 240 - run.requests and quota["resets_at"] and quota["refused_at"] is None
    page = client.get("/settings/integrations/toggl").get_data(True)
    assert f'data-quota="{240 - run.requests}"' in page and "requests left in Toggl's hourly quota" in page
    log = client.get(f"/settings/integrations/connections/{tool.connection.id}/sync-log").get_data(True)
    assert f'<td class="num">{run.requests}</td>' in log and "requests left in Toggl's hourly quota" in log


def test_a_402_is_told_in_words_with_its_time(session, client, login_as, tool, run_jobs):
    login_as("admin")
    linked_time_and_quota(session, tool, 1)
    run = sync(session, run_jobs, tool.connection, "nightly")
    assert run.status == "queued" and "Waiting for the Toggl quota to reset" in run.status_text  # paused
    session.expire_all()
    assert session.scalar(select(Connection)).settings["quota"]["refused_at"]
    page = client.get("/settings/integrations/toggl").get_data(True)
    assert "Toggl refused requests at" in page and "the hourly quota was used up (402)" in page
