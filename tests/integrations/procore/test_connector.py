"""The Procore connector against the sandbox over loopback HTTP: OAuth, headers, paging, limits, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from portal.demo import PEOPLE as DEMO_PEOPLE
from portal.errors import ExternalServiceError
from portal.integrations.http import AuthenticationFailed
from portal.integrations.models import Connection
from portal.integrations.procore import demo as procore_demo
from portal.integrations.procore.connector import GrantType, ProcoreConnector
from portal.integrations.procore.demo import CLIENT_ID as DEMO_CLIENT_ID
from portal.integrations.procore.demo import CLIENT_SECRET as DEMO_CLIENT_SECRET
from portal.integrations.procore.demo import COMPANY_ID as DEMO_COMPANY_ID
from portal.integrations.procore.demo import COMPANY_NAME as DEMO_COMPANY_NAME
from portal.integrations.registry import connector_for
from tests.integrations.procore.conftest import PEOPLE, RIVERSIDE, SPIKE_LIMIT, stored_credentials


def _connection(session, **credentials) -> Connection:
    values = {"grant": GrantType.CLIENT_CREDENTIALS, "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
              **credentials}
    found = Connection(kind="procore", account_id=str(credentials.pop("company", DEMO_COMPANY_ID)),
                       credentials=json.dumps(values), settings={})
    session.add(found)
    session.commit()
    return found


def test_client_credentials_and_the_company_header_on_every_call(session, sandbox):
    connector = connector_for(_connection(session))
    account = connector.validate()
    projects = connector.list_projects()
    assert account.account_name == DEMO_COMPANY_NAME
    assert {p.name for p in projects} == {"RF-101 - Riverside Office Fit-out", "HB-204 - Harbour Bridge Repairs"}
    api_calls = [r for r in sandbox.state.requests if r["path"].startswith("/rest/")]
    assert len(api_calls) == 3
    assert all(call["company"] == str(DEMO_COMPANY_ID) and call["bearer"] for call in api_calls)
    # the headers describe whichever window is closer to exhaustion: here the 10-second one (100), not the hour
    assert connector.api.rate_limit["limit"] == SPIKE_LIMIT and connector.api.rate_limit["remaining"] == 97


def test_refresh_tokens_are_single_use_and_each_rotation_is_stored_encrypted(session, sandbox):
    code = sandbox.state.issue_code(DEMO_CLIENT_ID, "urn:ietf:wg:oauth:2.0:oob")
    found = _connection(session, grant=GrantType.AUTHORIZATION_CODE, code=code)
    connector = connector_for(found)
    connector.list_projects()
    first = stored_credentials(session, found)
    assert "code" not in first and first["refresh_token"]

    sandbox.state.advance(5400 + 1)  # the access token expires in Procore before our copy says so
    connector.list_projects()
    second = stored_credentials(session, found)
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    with pytest.raises(Exception, match="The refresh token is invalid"):
        sandbox.state.grant({"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                             "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET})
    raw = session.execute(text("SELECT credentials FROM connections WHERE id = :id"), {"id": found.id}).scalar()
    assert second["refresh_token"] not in raw and DEMO_CLIENT_SECRET not in raw

    # a second connector (another worker) holding the stale copy picks up the rotated pair, no extra refresh
    other = ProcoreConnector(session.get(Connection, found.id))
    other._credentials = first
    other.list_projects()
    assert stored_credentials(session, found)["refresh_token"] == second["refresh_token"]


def test_a_used_refresh_token_asks_to_reconnect(session, sandbox):
    found = _connection(session, grant=GrantType.AUTHORIZATION_CODE, refresh_token="spent")
    with pytest.raises(AuthenticationFailed, match="Sign in to Procore again"):
        connector_for(found).list_projects()


def test_pages_follow_the_link_header(session, sandbox):
    for day in range(250):
        sandbox.card(day=datetime(2026, 1, 1).date() + timedelta(days=day % 60))
    connector = connector_for(_connection(session))
    totals = []
    window = (datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1))
    days = (datetime(2026, 1, 1).date(), datetime(2026, 3, 1).date())
    pages = list(connector.timecard_pages(days, updated_between=window, on_total=totals.append))
    assert [len(p) for p in pages] == [100, 100, 50]
    assert totals == [250, 250, 250]
    assert len({card.id for page in pages for card in page}) == 250
    listed = [r for r in sandbox.state.requests if r["path"].endswith("/timecard_entries")]
    assert len(listed) == 3 and "filters%5Bupdated_at%5D" in listed[0]["query"]


def test_429_waits_until_the_reset_then_succeeds(session, sandbox):
    waits = []
    connector = ProcoreConnector(_connection(session), sleep=waits.append)
    connector.validate()
    sandbox.fault(429, reset_in=1)
    assert connector.list_projects()
    assert len(waits) == 1 and 0 <= waits[0] <= 2  # X-Rate-Limit-Reset, not a guess


def test_503_with_retry_after_is_retried(session, sandbox):
    waits = []
    connector = ProcoreConnector(_connection(session), sleep=waits.append)
    sandbox.fault(503, retry_after=1)
    assert connector.validate().account_name == DEMO_COMPANY_NAME
    assert len(waits) == 1 and 1 <= waits[0] < 1.5


def test_procore_down_past_the_bound_says_so(session, sandbox):
    connector = ProcoreConnector(_connection(session), sleep=lambda s: None)
    sandbox.fault(503, count=50, retry_after=1)
    with pytest.raises(ExternalServiceError, match="did not answer successfully"):
        connector.validate()


def test_revoked_credentials(session, sandbox):
    connector = connector_for(_connection(session))
    connector.validate()
    sandbox.state.revoke_client(DEMO_CLIENT_ID)
    with pytest.raises(AuthenticationFailed, match="refused the client id and secret"):
        connector.list_projects()


def test_a_wrong_company_id(session, sandbox):
    connector = connector_for(_connection(session, company=123456))
    with pytest.raises(AuthenticationFailed, match="not connected to company 123456"):
        connector.validate()


def test_validation_errors_read_as_a_sentence(session, sandbox):
    connector = connector_for(_connection(session))
    with pytest.raises(ExternalServiceError, match="party_id is invalid"):
        connector.create_timecard(str(RIVERSIDE), {"date": "2026-03-03", "hours": "8", "party_id": 1})


def test_the_demo_sandbox_keeps_its_records_and_tokens_across_restarts(tmp_path):
    """A restarted `make run` keeps the time cards and the tokens the portal holds."""
    from portal.integrations.procore.demo import PROJECT_IDS as DEMO_PROJECT_IDS
    from sandboxes.procore import create_sandbox

    state_file = str(tmp_path / "procore.json")
    first = create_sandbox(deliver="manual", state_file=state_file).test_client()
    first.post("/_sandbox/seed", json=procore_demo.world(DEMO_PEOPLE))
    token = first.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": DEMO_CLIENT_ID,
                                             "client_secret": DEMO_CLIENT_SECRET}).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Procore-Company-Id": str(DEMO_COMPANY_ID)}
    project_id = next(iter(DEMO_PROJECT_IDS.values()))
    card = first.post(f"/rest/v1.0/companies/{DEMO_COMPANY_ID}/timecard_entries", headers=headers, json={
        "project_id": project_id, "timecard_entry": {"date": "2026-03-03", "hours": "7.5"}})
    assert card.status_code == 201, card.get_json()

    again = create_sandbox(deliver="manual", state_file=state_file).test_client()
    kept = again.get(f"/rest/v1.0/companies/{DEMO_COMPANY_ID}/timecard_entries/{card.get_json()['id']}",
                     headers=headers)
    assert kept.status_code == 200 and kept.get_json()["hours"] == "7.5"


def test_people_and_time_types_are_read_only_through_published_operations(session, sandbox):
    """Company People v1.0 has list, create and update, no read-one; the company time types list has no paging."""
    connector = connector_for(_connection(session))
    dana = str(PEOPLE["dana"])
    assert connector.get_person(dana, "Dana Developer").email == "dana@demo.test"
    assert connector.get_person(dana, "a name changed since").email == "dana@demo.test"  # the whole list then
    assert connector.get_person("1", "Dana Developer") is None
    assert {t["name"] for t in connector.time_types()} >= {"Regular Time", "Overtime"}
    paths = {(r["path"], r["query"]) for r in sandbox.state.requests}
    people = f"/rest/v1.0/companies/{DEMO_COMPANY_ID}/people"
    assert {p for p, _ in paths if "/people" in p} == {people}
    assert (f"/rest/v1.0/companies/{DEMO_COMPANY_ID}/timecard_time_types", "") in paths
    # and the read-one Procore does not publish is not there to lean on
    token = json.loads(session.get(Connection, connector.connection.id).credentials)["access_token"]
    answer = httpx.get(f"{sandbox.url}{people}/{dana}", headers={"Authorization": f"Bearer {token}",
                                                                  "Procore-Company-Id": str(DEMO_COMPANY_ID)})
    assert answer.status_code == 404


@pytest.mark.committed
def test_two_workers_renewing_at_once_spend_the_refresh_token_once(app, sandbox):
    """The refresh race on whichever database the run uses (SQLite by default): each worker has its own
    session and connector; one renews under the lock and stores the pair first, the other uses that pair."""
    import threading

    from portal.extensions import db

    with app.app_context():
        code = sandbox.state.issue_code(DEMO_CLIENT_ID, "urn:ietf:wg:oauth:2.0:oob")
        found = _connection(db.session, grant=GrantType.AUTHORIZATION_CODE, code=code)
        connector_for(found).list_projects()
        connection_id = found.id
        db.session.remove()
    sandbox.state.advance(5400 + 1)  # expired in Procore while the workers' copies still look valid
    start, errors = threading.Barrier(2), []

    def worker() -> None:
        with app.app_context():
            connector = connector_for(db.session.get(Connection, connection_id))
            try:
                start.wait()
                connector.list_projects()
            except BaseException as error:  # reported below, in the test's thread
                errors.append(error)
            finally:
                connector.close()
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(1 for r in sandbox.state.requests if r.get("grant") == "refresh_token") == 1
    with app.app_context():
        held = json.loads(db.session.get(Connection, connection_id).credentials)
        assert held["refresh_token"] in sandbox.state.refresh_tokens  # the stored pair is the live one
