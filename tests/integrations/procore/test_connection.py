"""Connecting (validation, hooks and triggers), bad credentials, and disconnecting."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.columns import utcnow
from portal.integrations.models import PersonLink, ProjectLink
from portal.integrations.procore import alerts, catch_up, connection, jobs
from portal.integrations.procore.demo import CLIENT_ID as DEMO_CLIENT_ID
from portal.integrations.procore.demo import CLIENT_SECRET as DEMO_CLIENT_SECRET
from portal.integrations.procore.demo import COMPANY_ID as DEMO_COMPANY_ID
from portal.integrations.procore.demo import COMPANY_NAME as DEMO_COMPANY_NAME
from portal.runs.models import SyncMessage, SyncRun
from portal.timesheets.models import TimeEntry
from tests.factories import OfferingFactory
from tests.integrations.procore.conftest import HARBOUR, RIVERSIDE, connect


def _last_run(session) -> SyncRun:
    return session.scalar(select(SyncRun).order_by(SyncRun.id.desc()).limit(1))


def test_connecting_validates_and_sets_up_a_hook_with_three_triggers(session, sandbox, procore, portal_url):
    (hook,) = sandbox.state.hooks.values()
    assert hook["owned_by_company_id"] == DEMO_COMPANY_ID
    assert hook["destination_url"] == f"{portal_url}/webhooks/procore/{procore.id}"
    secret = json.loads(procore.credentials)["webhook_secret"]
    assert hook["destination_headers"] == {"Authorization": f"Bearer {secret}"}
    assert sorted(t["event_type"] for t in sandbox.state.triggers.values()) == ["CREATE", "DELETE", "UPDATE"]
    assert procore.account_name == DEMO_COMPANY_NAME and procore.settings["hook_id"] == str(hook["id"])
    assert {t["name"] for t in procore.settings["time_types"]} >= {"Regular Time", "Overtime"}
    assert _last_run(session).status_text.startswith("Connected to Procore: Demo Builders Inc.")
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.action == "procore.connected"))
    assert secret not in json.dumps([e.after for e in session.scalars(select(AuditEvent))])


def test_a_wrong_company_id_is_explained(session, sandbox, portal_url, run_jobs):
    found = connect(session, run_jobs, company_id="4242")
    assert not found.is_connected
    assert "not connected to company 4242" in _last_run(session).error and found.last_error
    assert sandbox.state.hooks == {}


def test_a_wrong_company_name_is_explained(session, sandbox, portal_url, run_jobs):
    found = connect(session, run_jobs, company_name="Demo Builders Ltd")
    assert not found.is_connected
    assert "Procore calls company" in _last_run(session).error and "Demo Builders Inc." in found.last_error


def test_wrong_or_revoked_credentials_are_explained(session, sandbox, portal_url, run_jobs):
    found = connect(session, run_jobs, client_secret="not-the-secret")
    assert not found.is_connected and "refused the client id and secret" in _last_run(session).error


def test_revoked_credentials_keep_the_work_until_a_reconnect(session, sandbox, linked, run_jobs, procore):
    sandbox.state.revoke_client(DEMO_CLIENT_ID)  # the app's secret was regenerated: its tokens stop working
    first = sandbox.card(day=date(2026, 3, 2))
    sandbox.deliver()
    run_jobs()
    message = session.scalar(select(SyncMessage))
    assert message.status == "pending" and "refused the client id and secret" in message.reason
    session.refresh(procore)
    assert procore.status == "error" and "refused" in procore.last_error
    second = sandbox.card(day=date(2026, 3, 3))
    assert sandbox.deliver()[0]["response_status"] == 200  # still recorded while the connection is broken
    run_jobs()
    email = alerts.send_alerts(session)
    assert "Procore refused the portal's credentials" in email.body

    sandbox.state.clients[DEMO_CLIENT_ID]["revoked"] = False  # the admin enters the new secret
    found = connect(session, run_jobs)
    assert found.is_connected and session.scalar(select(func.count()).select_from(ProjectLink)) == 1
    catch_up.pump(session)
    session.commit()
    run_jobs()
    assert {e.external_id for e in session.scalars(select(TimeEntry))} == {str(first["id"]), str(second["id"])}
    assert {m.status for m in session.scalars(select(SyncMessage))} == {"processed"}


def test_connecting_as_a_procore_user_with_an_authorization_code(session, sandbox, portal_url, run_jobs, login_as,
                                                                 client):
    login_as("admin", permissions=["system_settings"])
    answer = client.post("/settings/integrations/procore/connect", htmx=True, data={
        "company_id": str(DEMO_COMPANY_ID), "company_name": DEMO_COMPANY_NAME, "method": "authorization_code",
        "client_id": DEMO_CLIENT_ID, "client_secret": "portal-demo-secret"})
    authorize = answer.headers["HX-Redirect"]
    assert authorize.startswith(f"{sandbox.url}/oauth/authorize?")
    query = parse_qs(urlsplit(authorize).query)
    approved = httpx.post(f"{sandbox.url}/oauth/authorize", data={k: v[0] for k, v in query.items()})
    callback = urlsplit(approved.headers["Location"])
    assert callback.path == "/settings/integrations/procore/oauth/callback"
    assert client.get(f"{callback.path}?{callback.query}").status_code == 303
    run_jobs()
    found = connection.get_connection(session)
    session.refresh(found)
    assert found.is_connected, found.last_error
    held = json.loads(found.credentials)
    assert held["grant"] == "authorization_code" and held["refresh_token"] and "code" not in held


def test_a_forged_oauth_callback_is_refused(session, sandbox, login_as, client):
    login_as("admin", permissions=["system_settings"])
    answer = client.get("/settings/integrations/procore/oauth/callback?code=x&state=forged")
    assert answer.status_code == 409 and b"could not be matched" in answer.data


def test_disconnecting_removes_the_hooks_and_every_piece_of_connection_data(session, sandbox, linked, run_jobs,
                                                                          procore, client):
    sandbox.card()
    sandbox.deliver()
    run_jobs()
    assert session.scalar(select(func.count()).select_from(TimeEntry)) == 1
    secret = json.loads(procore.credentials)["webhook_secret"]

    connection.start_disconnect(session, "test")
    session.commit()
    run_jobs()
    assert sandbox.state.hooks == {} and sandbox.state.triggers == {}
    session.refresh(procore)
    assert procore.credentials is None and procore.account_id is None and procore.status == "disconnected"
    assert set(procore.settings) == set(connection.PREFERENCES)  # the preferences stay, hook ids and cursor go
    for model in (ProjectLink, PersonLink, SyncMessage):
        assert session.scalar(select(func.count()).select_from(model)) == 0
    assert session.scalar(select(func.count()).select_from(TimeEntry)) == 1  # replicated entries stay
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "procore.disconnected"))
    assert event.before["company_id"] == str(DEMO_COMPANY_ID) and event.after["removed"]["project_links"] == 1

    answer = client.post("/webhooks/procore", json={"resource_name": "Timecard Entries", "resource_id": 1},
                         headers={"Authorization": f"Bearer {secret}"}, csrf=False)
    assert answer.status_code == 404


def test_disconnecting_while_procore_is_down_still_clears_the_portal(session, sandbox, procore, run_jobs):
    sandbox.fault(503, count=50, retry_after=1)
    connection.start_disconnect(session, "test")
    session.commit()
    run_jobs()
    session.refresh(procore)
    assert procore.credentials is None
    assert "could not be removed from Procore" in _last_run(session).status_text


def test_connect_existing_on_the_projects_integrations_tab_links_a_procore_project(session, sandbox, procore,
                                                                                     run_jobs):
    from portal.integrations import provisioning

    offering = OfferingFactory(name="Bridge works")
    session.commit()
    pasted = f"{sandbox.url}/{HARBOUR}/project/home"  # the project's address, as a PM pastes it
    provisioning.start_connect(session, "test", offering.id, procore.id, project=pasted)
    session.commit()
    run_jobs()
    link = session.scalar(select(ProjectLink).where(ProjectLink.offering_id == offering.id))
    assert link.external_id == str(HARBOUR) and link.external_name == "HB-204 - Harbour Bridge Repairs"
    sandbox.card(project=HARBOUR)
    sandbox.deliver()
    run_jobs()
    assert session.scalar(select(TimeEntry.offering_id)) == offering.id


def _connect_as_a_procore_user(session, sandbox, run_jobs):
    redirect = "urn:ietf:wg:oauth:2.0:oob"
    connection.start_authorization(session, "test", company_id=str(DEMO_COMPANY_ID), company_name=DEMO_COMPANY_NAME,
                                   client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET, redirect_uri=redirect,
                                   state="test")
    session.commit()
    connection.finish_authorization(session, "test", sandbox.state.issue_code(DEMO_CLIENT_ID, redirect))
    session.commit()
    run_jobs()
    found = connection.get_connection(session)
    session.refresh(found)
    assert found.is_connected, found.last_error
    connection.update_preferences(session, "test", receive=True, alert_emails=["ops@example.test"])
    connection.link_project(session, "test", str(RIVERSIDE), OfferingFactory(name="Fit-out works").id)
    session.commit()
    return found


def _refreshes(sandbox) -> int:
    return sum(1 for r in sandbox.state.requests if r.get("grant") == "refresh_token")


def test_a_refresh_whose_answer_was_lost_asks_to_sign_in_again_once(session, sandbox, portal_url, run_jobs, mailbox,
                                                                    client, login_as):
    """Refresh tokens are single-use: when Procore renewed the pair but its answer was lost, the old token is
    spent. The portal says to sign in again, emails the admins once, and stops asking Procore."""
    found = _connect_as_a_procore_user(session, sandbox, run_jobs)
    sandbox.state.advance(5400 + 1)  # the access token expires in Procore
    sandbox.fault(200, path="/oauth/token", lose_answer=True)
    sandbox.card()
    sandbox.deliver()
    run_jobs()
    session.refresh(found)
    assert found.status == "error" and "Sign in to Procore again" in found.last_error
    assert "already used" in found.last_error
    assert _refreshes(sandbox) == 2  # the renewal whose answer was lost, and one that was refused; no loop
    (message,) = session.scalars(select(SyncMessage))
    assert message.status == "pending" and "Sign in to Procore again" in message.reason

    jobs.pump()
    run_jobs()
    (_, email), = mailbox.wait_for(1)
    assert "Sign in to Procore again" in email.get_content()

    sandbox.card(day=date(2026, 3, 4))  # time goes on: deliveries are recorded, nobody asks Procore
    sandbox.deliver()
    run_jobs()
    connection.save_state(session, found.id, last_alert_sent_at=(utcnow() - alerts.ALERT_INTERVAL * 2).isoformat())
    session.commit()
    jobs.pump()
    run_jobs()
    assert len(mailbox.wait_for(2, timeout=0.5)) == 1  # the admins were told once
    assert _refreshes(sandbox) == 2
    assert {m.status for m in session.scalars(select(SyncMessage))} == {"pending"}

    login_as("admin", permissions=["system_settings"])
    page = client.get("/settings/integrations/procore").text
    assert "Sign in to Procore again under Admin" in page  # the reason, on the page
    assert ">Sign in to Procore again</button>" in page
    assert '<input checked id="method-1" name="method" type="radio" value="authorization_code">' in page
