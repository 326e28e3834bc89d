"""Admin → Integrations → Procore: who may see it, forms that refuse bad input, links, activity, Retry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.columns import utcnow
from portal.integrations.models import ProjectLink
from portal.integrations.procore import activity as procore_activity
from portal.integrations.procore import connection
from portal.integrations.procore import demo as procore_demo
from portal.runs.models import SyncMessage
from tests.factories import OfferingFactory, stage
from tests.integrations.procore.conftest import HARBOUR

PAGE = "/settings/integrations/procore"


@pytest.mark.parametrize("role, permissions", [("staff", []), ("pm", ["system_settings"]), ("approver", [])])
def test_only_admins(client, login_as, role, permissions):
    login_as(role, permissions=permissions)
    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}/disconnect").status_code == 403


def test_the_connect_form_refuses_bad_input_in_place(client, login_as, session):
    login_as("admin", permissions=["system_settings"])
    page = client.get(PAGE)
    assert page.status_code == 200 and b"Connect to Procore" in page.data
    answer = client.post(f"{PAGE}/connect", htmx=True, data={
        "company_id": "acme", "company_name": "Acme", "method": "client_credentials", "client_id": "x",
        "client_secret": "y"})
    assert answer.status_code == 422 and b"A Procore company id is a number" in answer.data
    assert connection.get_connection(session) is None


def test_connected_page_settings_and_links(client, login_as, session, sandbox, procore, run_jobs):
    login_as("admin", permissions=["system_settings"])
    page = client.get(PAGE)
    assert b"Connected to Procore company" in page.data and b"Demo Builders Inc." in page.data
    assert b"Regular Time" in page.data and b"HB-204 - Harbour Bridge Repairs" in page.data
    assert procore.credentials and b"portal-demo-secret" not in page.data

    bad = client.post(f"{PAGE}/settings", htmx=True, data={"receive": "y", "alert_emails": "ops@example.test, nope"})
    assert bad.status_code == 422 and b"Not an email address: nope" in bad.data
    good = client.post(f"{PAGE}/settings", htmx=True, data={
        "receive": "y", "send": "y", "task_time_types": ["Regular Time", "Overtime"],
        "alert_emails": "Ops@Example.test\nlead@example.test"})
    assert good.status_code == 200
    session.refresh(procore)
    settings = connection.prefs(procore)
    assert settings["task_time_types"] == ["Overtime", "Regular Time"] and not settings["only_linked"]
    assert settings["alert_emails"] == ["lead@example.test", "ops@example.test"]

    offering = OfferingFactory(name="Bridge works")
    session.commit()
    linked = client.post(f"{PAGE}/links", htmx=True, data={"external_project_id": str(HARBOUR),
                                                          "offering_id": str(offering.id)})
    assert linked.status_code == 200 and b"Harbour Bridge Repairs" in linked.data
    again = client.post(f"{PAGE}/links", htmx=True, data={"external_project_id": "", "offering_id": str(offering.id)})
    assert again.status_code == 422
    link = session.scalar(select(ProjectLink))
    assert link.offering_id == offering.id and link.external_url.endswith(f"/{HARBOUR}/project/home")
    assert client.post(f"{PAGE}/links/{link.id}/remove", htmx=True).status_code == 200
    assert session.scalar(select(ProjectLink)) is None


def test_activity_shows_the_failure_with_its_reason_and_retry(client, login_as, session, sandbox, linked, run_jobs):
    login_as("admin", permissions=["system_settings"])
    linked.project.stage = stage("Closed")
    session.commit()
    card = sandbox.card()
    sandbox.deliver()
    run_jobs()
    activity = client.get(f"{PAGE}/activity", htmx=True)
    assert f"Time card {card['id']}".encode() in activity.data and b"is closed" in activity.data
    message = session.scalar(select(SyncMessage))
    linked.project.stage = stage("In Progress")
    session.commit()
    retried = client.post(f"{PAGE}/messages/{message.id}/retry", htmx=True)
    assert retried.status_code == 200 and b"Retry requested" in retried.data
    run_jobs()
    session.expire_all()  # requests share the test's session: forget what it read before the job ran
    assert b"Created: 8.00 h for Dana Developer" in client.get(f"{PAGE}/activity", htmx=True).data
    assert client.post(f"{PAGE}/messages/{message.id}/retry", htmx=True).status_code == 409


def test_a_failure_a_later_change_of_the_card_superseded_is_not_listed(client, login_as, session, sandbox, linked,
                                                                        run_jobs):
    login_as("admin", permissions=["system_settings"])
    linked.project.stage = stage("Closed")
    session.commit()
    card = sandbox.card()
    sandbox.deliver()
    run_jobs()
    assert b"Failed (1)" in client.get(f"{PAGE}/activity", htmx=True).data
    linked.project.stage = stage("In Progress")
    session.commit()
    sandbox.change(card["id"], hours="6")
    sandbox.deliver()
    run_jobs()
    session.expire_all()
    activity = client.get(f"{PAGE}/activity", htmx=True).get_data(True)
    assert "Failed (0)" in activity and "Nothing failed." in activity and "is closed" not in activity
    assert session.scalar(select(SyncMessage).where(SyncMessage.status == "failed")) is not None  # kept in the log


def test_connecting_leaves_no_checking_note_beside_the_result(client, login_as, session, sandbox, portal_url,
                                                               run_jobs):
    """The run's own progress says what it checks; a flashed "Checking…" stayed after the result came."""
    login_as("admin", permissions=["system_settings"])
    answer = client.post(f"{PAGE}/connect", htmx=True, data={
        "company_id": str(procore_demo.COMPANY_ID), "company_name": procore_demo.COMPANY_NAME,
        "method": "client_credentials", "client_id": procore_demo.CLIENT_ID,
        "client_secret": procore_demo.CLIENT_SECRET})
    assert answer.status_code == 200 and "Checking" not in answer.get_data(True).split('id="procore-page"')[0]
    run_jobs()
    session.expire_all()
    page = client.get(PAGE).get_data(True)
    assert "Connected to Procore company" in page and "Checking" not in page


def test_sync_now_starts_a_catch_up_run(client, login_as, session, sandbox, procore, run_jobs):
    login_as("admin", permissions=["system_settings"])
    answer = client.post(f"{PAGE}/sync", htmx=True)
    assert answer.status_code == 200 and b"Procore catch up" in answer.data
    run_jobs()
    session.expire_all()
    assert b"Checked 0 time cards" in client.get(f"{PAGE}/activity", htmx=True).data


def test_activity_lists_the_latest_failures_first(session, procore):
    """A message that failed again comes back to the top of Failed (the list follows the index its processed
    messages use, so it reads a page of failures, not every failure the connection holds)."""
    def failed(key: str, ago: int) -> SyncMessage:
        message = SyncMessage(connection_id=procore.id, direction="inbound", entity="time_entry", external_id=key,
                              dedupe_key=f"procore:test:{key}", action="create", status="failed",
                              reason=f"Failure {key}", attempts=1, processed_at=utcnow() - timedelta(minutes=ago))
        session.add(message)
        session.flush()
        return message

    again, older, newer = failed("1", 1), failed("2", 30), failed("3", 10)  # "1" was created first, failed last
    shown = procore_activity.activity(session, procore)
    assert [m.id for m in shown.failed] == [again.id, newer.id, older.id] and shown.failed_count == 3
