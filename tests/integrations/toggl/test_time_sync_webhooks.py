"""Toggl webhooks (Webhooks v1): signed deliveries are applied once; bad signatures and replays are refused
with nothing recorded but the refusal; a webhook and a poll of the same change apply it once."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.columns import utcnow
from portal.integrations.models import Connection, ConnectionStatus, ProjectLink
from portal.integrations.toggl import connection as toggl_connection
from portal.integrations.toggl import credentials
from portal.runs.models import SyncMessage, SyncRun
from portal.timesheets.models import TimeEntry
from tests.factories import AssignmentFactory, OfferingFactory, ResourceFactory, UserFactory
from tests.integrations.toggl.time_sync_support import days_ago, link, sync, synced
from tests.toggl_sandbox import TOKEN

SECRET = "webhook-secret-for-tests"


@pytest.fixture
def hooked(session, tool):
    credentials = json.loads(tool.connection.credentials)
    tool.connection.credentials = json.dumps({**credentials, "webhook_secret": SECRET})
    linked = link(session, tool, tool.offering(people={"ana@example.test": "150"}, name="Platform build"))
    session.commit()
    return linked


def event(entry: dict, action: str = "updated", event_id: int = 8_023_169_274_704_072, sent=None) -> dict:
    """A delivery as Toggl sends it (reference A9), for an entry as the sandbox holds it."""
    return {"event_id": event_id, "created_at": entry["at"], "creator_id": entry["user_id"],
            "metadata": {"action": action, "event_user_id": str(entry["user_id"]), "model": "time_entry",
                         "model_owner_id": str(entry["user_id"]), "time_entry_id": str(entry["id"]),
                         "workspace_id": str(entry["workspace_id"])},
            "payload": entry, "subscription_id": 10001,
            "timestamp": (sent or utcnow()).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "url_callback": "http://portal/hook"}


def deliver(client, connection, body: dict | bytes, secret: str = SECRET):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return client.post(f"/webhooks/toggl/{connection.id}", data=raw, csrf=False,
                       headers={"Content-Type": "application/json", "X-Webhook-Signature-256": signature})


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_a_delivery_with_a_bad_signature_is_refused_with_nothing_recorded_but_the_refusal(session, client, tool,
                                                                                            hooked):
    (entry_id,) = tool.sandbox.entries(count=1, emails=["ana@example.test"], project_ids=[hooked.toggl_project_id],
                                       start_date=days_ago(2).isoformat())
    before = {model: count(session, model) for model in (SyncMessage, SyncRun, TimeEntry)}
    response = deliver(client, tool.connection, event(tool.sandbox.entry(entry_id), "created"), secret="forged")
    assert response.status_code == 401
    assert (count(session, SyncRun), count(session, TimeEntry)) == (before[SyncRun], before[TimeEntry])
    assert count(session, SyncMessage) == before[SyncMessage] + 1
    refusal = session.scalar(select(SyncMessage).order_by(SyncMessage.id.desc()))
    assert refusal.status == "failed" and refusal.payload is None and "X-Webhook-Signature-256" in refusal.reason


def test_a_flood_of_forged_deliveries_is_counted_in_one_message(session, client, tool, hooked):
    (entry_id,) = tool.sandbox.entries(count=1, emails=["ana@example.test"], project_ids=[hooked.toggl_project_id],
                                       start_date=days_ago(2).isoformat())
    body = event(tool.sandbox.entry(entry_id), "created")
    before = count(session, SyncMessage)
    for _ in range(25):
        assert deliver(client, tool.connection, body, secret="forged").status_code == 401
    assert count(session, SyncMessage) == before + 1
    refusal = session.scalar(select(SyncMessage).order_by(SyncMessage.id.desc()))
    assert refusal.attempts == 25 and refusal.reason.startswith(
        "Refused 25 webhook deliveries within 10 minutes; the last: Refused a webhook delivery whose")


def test_an_event_is_applied_once_and_a_replay_is_refused(session, client, tool, hooked, run_jobs):
    (entry_id,) = tool.sandbox.entries(count=1, emails=["ana@example.test"], project_ids=[hooked.toggl_project_id],
                                       start_date=days_ago(2).isoformat(), seconds=2700)
    body = json.dumps(event(tool.sandbox.entry(entry_id), "created")).encode()
    assert deliver(client, tool.connection, body).json == {"status": "queued"}
    run_jobs()
    assert synced(session, tool.connection)[str(entry_id)].hours == Decimal("0.75")
    message = session.scalar(select(SyncMessage).where(SyncMessage.dedupe_key.like("%:event:%")))
    assert (message.status, message.reason) == ("processed", "Imported")
    # The same delivery again (a retry whose answer was lost, or a replay): recorded once, applied once.
    assert deliver(client, tool.connection, body).json == {"status": "duplicate"}
    assert count(session, SyncMessage) == 1 and count(session, TimeEntry) == 1
    # An event signed correctly but sent long ago is a replay.
    old = event(tool.sandbox.entry(entry_id), event_id=42, sent=utcnow() - timedelta(hours=1))
    assert deliver(client, tool.connection, old).status_code == 400
    assert "replay" in session.scalar(select(SyncMessage.reason).order_by(SyncMessage.id.desc()))


def test_deliveries_while_the_token_needs_renewing_are_kept_and_applied_once_it_is_fixed(session, client, tool,
                                                                                        hooked, run_jobs):
    """A 410 would tell Toggl to stop delivering: a signed delivery to a connection whose token was regenerated is
    kept (no run starts: it would meet the refused token) and applied by the first sync once it is connected."""
    (entry_id,) = tool.sandbox.entries(count=1, emails=["ana@example.test"], project_ids=[hooked.toggl_project_id],
                                       start_date=days_ago(2).isoformat(), seconds=2700)
    credentials.token_refused(session, tool.connection, "Toggl refused the API token (403).")
    session.commit()
    runs_before = count(session, SyncRun)
    response = deliver(client, tool.connection, event(tool.sandbox.entry(entry_id), "created"))
    assert response.status_code == 200 and response.json == {"status": "kept"}
    assert count(session, SyncRun) == runs_before and str(entry_id) not in synced(session, tool.connection)
    kept = session.scalar(select(SyncMessage).where(SyncMessage.dedupe_key.like("%:event:%")))
    assert kept.status == "pending" and "new API token" in kept.reason
    # A forged delivery is still refused while the connection waits.
    assert deliver(client, tool.connection, event(tool.sandbox.entry(entry_id)), secret="forged").status_code == 401

    tool.connection.status = ConnectionStatus.CONNECTED  # an admin validated a new token
    credentials.token_accepted(tool.connection)
    session.commit()
    assert sync(session, run_jobs, tool.connection, "hourly").status == "succeeded"
    assert synced(session, tool.connection)[str(entry_id)].hours == Decimal("0.75")
    session.refresh(kept)
    assert kept.status == "processed"


def test_a_webhook_and_a_poll_of_the_same_change_apply_it_once(session, client, tool, hooked, run_jobs):
    (entry_id,) = tool.sandbox.entries(count=1, emails=["ana@example.test"], project_ids=[hooked.toggl_project_id],
                                       start_date=days_ago(2).isoformat(), seconds=3600)
    sync(session, run_jobs, tool.connection)
    changed = tool.sandbox.edit(entry_id, duration=5400, emit=False)
    deliver(client, tool.connection, event(changed))
    run_jobs()
    poll = sync(session, run_jobs, tool.connection, "nightly")
    assert poll.counts["updated"] == 0 and poll.counts["unchanged"] == 1
    assert synced(session, tool.connection)[str(entry_id)].hours == Decimal("1.50")
    updates = session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "time_entry.synced_updated"))
    assert updates == 1


def test_running_timers_wait_until_stopped_and_deletions_remove(session, client, tool, hooked, run_jobs):
    running = tool.sandbox.seed(time_entries=[{"workspace_id": tool.world.workspace_id, "email": "ana@example.test",
                                               "project_id": hooked.toggl_project_id, "duration": -1,
                                               "start": f"{days_ago(0).isoformat()}T08:00:00Z",
                                               "description": "Timer"}])["time_entries"][0]
    deliver(client, tool.connection, event(running, "created", event_id=1))
    run_jobs()
    run = session.scalar(select(SyncRun).order_by(SyncRun.id.desc()))
    assert run.counts["skipped_running_timers"] == 1 and synced(session, tool.connection) == {}
    stopped = tool.sandbox.edit(running["id"], stop=f"{days_ago(0).isoformat()}T09:30:00Z", emit=False)
    deliver(client, tool.connection, event(stopped, event_id=2))
    run_jobs()
    assert synced(session, tool.connection)[str(running["id"])].hours == Decimal("1.50")
    tool.sandbox.delete(running["id"], emit=False)
    deliver(client, tool.connection, event(tool.sandbox.entry(running["id"]), "deleted", event_id=3))
    run_jobs()
    assert synced(session, tool.connection) == {}


def test_a_ping_is_answered_with_its_validation_code(client, tool, hooked):
    ping = {"event_id": 0, "created_at": utcnow().isoformat(), "creator_id": 1, "payload": "ping",
            "metadata": {"request_type": "POST", "event_user_id": 1}, "subscription_id": 10001,
            "timestamp": utcnow().isoformat(), "url_callback": "x", "validation_code": "abc123"}
    assert deliver(client, tool.connection, ping).json == {"validation_code": "abc123"}


@pytest.mark.committed
def test_validating_the_connection_subscribes_and_toggl_events_flow_in(app, committed, toggl, live_server, run_jobs):
    world = toggl.standard(members=["ana@example.test"])
    project = toggl.seed(projects=[{"workspace_id": world.workspace_id, "name": "Build"}])["projects"][0]
    saved = app.config["PORTAL_PUBLIC_URL"]
    app.config["PORTAL_PUBLIC_URL"] = live_server
    try:
        with committed() as session:
            admin = UserFactory(role="admin")
            connection, _ = toggl_connection.save_connection(session, admin, api_token=TOKEN,
                                                             workspace_id=str(world.workspace_id))
            offering = OfferingFactory()
            AssignmentFactory(offering=offering, resource=ResourceFactory(email="ana@example.test"))
            session.add(ProjectLink(connection_id=connection.id, offering_id=offering.id,
                                    external_id=str(project["id"]), external_name="Build", method="connected"))
        run_jobs()  # validates, then subscribes: Toggl PINGs the portal, which echoes the validation code
        (subscription,) = toggl.state()["subscriptions"]
        assert subscription["validated_at"] and subscription["url_callback"].startswith(live_server)

        created = httpx.post(f"{toggl.url}/api/v9/workspaces/{world.workspace_id}/time_entries",
                             auth=(TOKEN, "api_token"),
                             json={"workspace_id": world.workspace_id, "created_with": "test", "user_id":
                                   world.members["ana@example.test"], "project_id": project["id"],
                                   "start": f"{days_ago(1).isoformat()}T09:00:00Z", "duration": 3600,
                                   "description": "From a webhook"}).json()
        deadline = time.monotonic() + 10
        with committed() as session:
            while not session.scalar(select(SyncMessage.id).where(SyncMessage.external_id == str(created["id"]))):
                assert time.monotonic() < deadline, "the webhook did not arrive"
                time.sleep(0.05)
                session.rollback()  # a new snapshot: the live server commits in another connection
        run_jobs()
        with committed() as session:
            connection = session.scalar(select(Connection))
            assert synced(session, connection)[str(created["id"])].description == "From a webhook"
    finally:
        app.config["PORTAL_PUBLIC_URL"] = saved



@pytest.mark.committed
def test_a_subscription_at_the_url_before_the_one_scheme_keeps_working_and_is_renewed_by_the_hourly_job(
        app, committed, toggl, live_server, run_jobs):
    """An upgrade moved the webhook URL (/hooks/toggl/<id> → /webhooks/toggl/<id>): events sent to the old one
    are still received, and the next scheduled sync subscribes again at the new one, audited, once."""
    from portal.integrations.toggl import jobs as toggl_jobs
    from portal.integrations.toggl import webhooks as toggl_webhooks

    world = toggl.standard(members=["ana@example.test"])
    project = toggl.seed(projects=[{"workspace_id": world.workspace_id, "name": "Build"}])["projects"][0]
    saved = app.config["PORTAL_PUBLIC_URL"]
    app.config["PORTAL_PUBLIC_URL"] = live_server
    try:
        with committed() as session:
            connection, _ = toggl_connection.save_connection(session, UserFactory(role="admin"), api_token=TOKEN,
                                                             workspace_id=str(world.workspace_id))
            offering = OfferingFactory()
            AssignmentFactory(offering=offering, resource=ResourceFactory(email="ana@example.test"))
            session.add(ProjectLink(connection_id=connection.id, offering_id=offering.id,
                                    external_id=str(project["id"]), external_name="Build", method="connected"))
        run_jobs()  # validates and subscribes at the current URL
        (subscription,) = toggl.state()["subscriptions"]
        with committed() as session:
            connection = session.scalar(select(Connection))
            old, new = f"{live_server}/hooks/toggl/{connection.id}", f"{live_server}/webhooks/toggl/{connection.id}"
            assert subscription["url_callback"] == new and subscription["validated_at"]
            # The state an older portal left: Toggl delivers to the old URL.
            toggl.http.put(f"/webhooks/api/v1/subscriptions/{world.workspace_id}/{subscription['subscription_id']}",
                           auth=(TOKEN, "api_token"), json={**{k: subscription[k] for k in (
                               "description", "event_filters", "enabled")}, "url_callback": old}).raise_for_status()
            connection.settings = {**connection.settings, "webhook_url": old}

        created = httpx.post(f"{toggl.url}/api/v9/workspaces/{world.workspace_id}/time_entries",
                             auth=(TOKEN, "api_token"),
                             json={"workspace_id": world.workspace_id, "created_with": "test", "user_id":
                                   world.members["ana@example.test"], "project_id": project["id"],
                                   "start": f"{days_ago(1).isoformat()}T09:00:00Z", "duration": 3600}).json()
        assert toggl.state()["deliveries"][-1]["status"] == 200  # the old URL still answers

        toggl_jobs.start_time_syncs("hourly")  # the cron's hourly entry
        run_jobs()
        (renewed,) = toggl.state()["subscriptions"]
        assert renewed["url_callback"] == new and renewed["validated_at"]
        with committed() as session:
            connection = session.scalar(select(Connection))
            assert connection.settings["webhook_url"] == new
            assert synced(session, connection)[str(created["id"])].hours == Decimal("1")
            (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "connection.webhook_url_changed"))
            assert (event.before, event.after) == ({"url": old}, {"url": new})
            assert toggl_webhooks.renew_moved(session) == []  # nothing moved any more
    finally:
        app.config["PORTAL_PUBLIC_URL"] = saved


@pytest.mark.committed
def test_a_new_public_address_replaces_the_subscription_instead_of_adding_one(app, committed, toggl, live_server,
                                                                             run_jobs):
    from portal.integrations.toggl import webhooks as toggl_webhooks

    world = toggl.standard(members=["ana@example.test"])
    saved = app.config["PORTAL_PUBLIC_URL"]
    app.config["PORTAL_PUBLIC_URL"] = live_server
    try:
        with committed() as session:
            toggl_connection.save_connection(session, UserFactory(role="admin"), api_token=TOKEN,
                                             workspace_id=str(world.workspace_id))
        run_jobs()
        moved = live_server.replace("127.0.0.1", "localhost")  # the same portal under its new name
        app.config["PORTAL_PUBLIC_URL"] = moved
        with committed() as session:
            assert len(toggl_webhooks.renew_moved(session)) == 1
        run_jobs()
        (subscription,) = toggl.state()["subscriptions"]  # the old one (other URL and description) is gone
        assert subscription["url_callback"].startswith(moved) and subscription["validated_at"]
        assert moved in subscription["description"]
    finally:
        app.config["PORTAL_PUBLIC_URL"] = saved
