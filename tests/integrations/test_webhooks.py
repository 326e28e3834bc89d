"""Every tool's webhook endpoint (/webhooks/<kind>/<connection id>, and the URLs given before that scheme):
the body is read bounded (a Content-Length or a chunked body past the limit is a 413 without reading it
all), authenticated before it is parsed, held to the tool's documented shape (a 400, recorded once like
every refusal, nothing else written), and each Procore event is recorded once even without a ulid."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import inputs
from portal.columns import utcnow
from portal.integrations import webhooks
from portal.integrations.models import Connection, ConnectionStatus
from portal.runs.models import SyncMessage, SyncRun

SECRET = "a-webhook-secret-for-hostile-tests"


@pytest.fixture
def toggl(session):
    connection = Connection(kind="toggl", status=ConnectionStatus.CONNECTED, account_id="4001",
                            credentials=json.dumps({"api_token": "token", "webhook_secret": SECRET}), settings={})
    session.add(connection)
    session.flush()
    return connection


@pytest.fixture
def procore(session):
    connection = Connection(kind="procore", status=ConnectionStatus.CONNECTED, account_id="562949953421312",
                            credentials=json.dumps({"client_id": "app", "webhook_secret": SECRET}),
                            settings={"receive": True})
    session.add(connection)
    session.flush()
    return connection


def signed(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json",
            "X-Webhook-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}


BEARER = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"}


def now() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def toggl_event(**changes) -> dict:
    payload = {"id": 3700000001, "workspace_id": 4001, "user_id": 901, "project_id": 77, "start": now(),
               "duration": 3600, "description": "Design", "billable": True, "at": now()}
    event = {"event_id": 8023169274704072, "created_at": now(), "creator_id": 901,
             "metadata": {"action": "updated", "model": "time_entry", "model_owner_id": "901"},
             "payload": payload, "subscription_id": 10001, "timestamp": now(), "url_callback": "http://portal/x"}
    for path, value in changes.items():
        target, *keys = path.split(".")
        holder = event if not keys else event[target]
        holder[keys[0] if keys else target] = value
    return event


def procore_event(**changes) -> dict:
    return {"id": 5000001, "ulid": "01J8Z3V5K7Q2W9X4Y6Z8A0B2C4", "timestamp": now(),
            "metadata": {"source_user_id": 8000000000002, "source_project_id": 598134325683,
                         "source_company_id": 562949953421312, "source_application_id": None},
            "user_id": 8000000000002, "company_id": 562949953421312, "project_id": 598134325683,
            "api_version": "v2.0", "event_type": "update", "resource_name": "Timecard Entries",
            "resource_id": 5500000001, **changes}


def _duration(raw: bytes) -> bytes:
    return json.dumps(toggl_event(**{"payload.duration": 7})).encode().replace(b'"duration": 7', b'"duration": ' + raw)


NESTED = ("[" * 100_000 + "]" * 100_000).encode()
NESTED_OBJECT = ('{"a":' * 40 + "1" + "}" * 40).encode()
# Correctly authenticated bodies of the wrong shape: each is a 400.
TOGGL_HOSTILE = {
    "integer timestamp": json.dumps(toggl_event(timestamp=1764849600)).encode(),
    "list metadata": json.dumps(toggl_event(metadata=["time_entry", "updated"])).encode(),
    "list duration": json.dumps(toggl_event(**{"payload.duration": [3600]})).encode(),
    "infinite duration": _duration(b"Infinity"),
    "1e309 duration": _duration(b"1e309"),
    "NaN duration": _duration(b"NaN"),
    "float duration": json.dumps(toggl_event(**{"payload.duration": 36.5})).encode(),
    "huge duration": json.dumps(toggl_event(**{"payload.duration": 10**15})).encode(),
    "deeply nested list": NESTED,
    "deeply nested object": NESTED_OBJECT,
    "nested payload": json.dumps(toggl_event(payload={"id": 1, "x": json.loads(NESTED_OBJECT)})).encode(),
    "over-long event id": json.dumps(toggl_event(event_id="9" * 65)).encode(),
    "event id beyond 64 bits": json.dumps(toggl_event(event_id=2**64)).encode(),
    "over-long entry id": json.dumps(toggl_event(**{"payload.id": "7" * 80})).encode(),
    "entry id of 5000 digits": json.dumps(toggl_event(**{"payload.id": 7})).encode().replace(
        b'"id": 7,', b'"id": ' + b"7" * 5000 + b","),
    "list entry id": json.dumps(toggl_event(**{"payload.id": [1]})).encode(),
    "far start": json.dumps(toggl_event(**{"payload.start": "9999-12-31T23:59:59Z"})).encode(),
    "integer start": json.dumps(toggl_event(**{"payload.start": 1764849600})).encode(),
    "list description": json.dumps(toggl_event(**{"payload.description": ["a"]})).encode(),
    "string billable": json.dumps(toggl_event(**{"payload.billable": "yes"})).encode(),
    "NUL in description": json.dumps(toggl_event(**{"payload.description": "a\x00b"})).encode(),
    "list payload": json.dumps(toggl_event(payload=[1, 2])).encode(),
    "not an object": b"[1, 2, 3]",
    "not JSON": b"event_id=1&payload=ping",
    "not UTF-8": b'{"event_id": "\xff\xfe"}',
    "empty": b"",
}
PROCORE_HOSTILE = {
    "list resource id": json.dumps(procore_event(resource_id=[1])).encode(),
    "text resource id": json.dumps(procore_event(resource_id="abc")).encode(),
    "resource id beyond 64 bits": json.dumps(procore_event(resource_id=2**70)).encode(),
    "over-long resource id": json.dumps(procore_event(resource_id="1" * 65)).encode(),
    "no resource id": json.dumps(procore_event(resource_id=None)).encode(),
    "list metadata": json.dumps(procore_event(metadata=[1])).encode(),
    "integer timestamp": json.dumps(procore_event(timestamp=1764849600)).encode(),
    "far timestamp": json.dumps(procore_event(timestamp="9999-12-31T23:59:59Z")).encode(),
    "integer event type": json.dumps(procore_event(event_type=5)).encode(),
    "over-long event type": json.dumps(procore_event(event_type="u" * 30)).encode(),
    "over-long ulid": json.dumps(procore_event(ulid="U" * 65)).encode(),
    "object application id": json.dumps(procore_event(metadata={"source_application_id": {"a": 1}})).encode(),
    "infinite id": json.dumps(procore_event(id=7)).encode().replace(b'"id": 7', b'"id": Infinity'),
    "deeply nested list": NESTED,
    "deeply nested object": NESTED_OBJECT,
    "NUL in event type": json.dumps(procore_event(event_type="up\x00date")).encode(),
    "not JSON": b"resource_id=1",
    "empty": b"",
}


def rows(session) -> tuple[int, int]:
    """(sync runs, messages other than refusals): what a refused delivery must not add."""
    session.expire_all()
    runs = session.scalar(select(func.count()).select_from(SyncRun))
    messages = session.scalar(select(func.count()).select_from(SyncMessage).where(SyncMessage.action != "refused"))
    return runs, messages


def refusals(session) -> list[SyncMessage]:
    session.expire_all()
    return list(session.scalars(select(SyncMessage).where(SyncMessage.action == "refused")))


@pytest.mark.parametrize("what", sorted(TOGGL_HOSTILE))
def test_a_signed_toggl_body_of_the_wrong_shape_is_a_400_recorded_once(session, client, toggl, what):
    body = TOGGL_HOSTILE[what]
    before = rows(session)
    for _ in range(2):
        response = client.post(f"/webhooks/toggl/{toggl.id}", data=body, headers=signed(body), csrf=False)
        assert response.status_code == 400, (what, response.status_code, response.get_data(True)[:200])
    assert rows(session) == before
    (refusal,) = refusals(session)
    assert refusal.attempts == 2 and refusal.payload is None and refusal.connection_id == toggl.id
    assert "not an event the portal reads" in refusal.reason


@pytest.mark.parametrize("what", sorted(PROCORE_HOSTILE))
def test_an_authenticated_procore_body_of_the_wrong_shape_is_a_400_recorded_once(session, client, procore, what):
    body = PROCORE_HOSTILE[what]
    before = rows(session)
    for _ in range(2):
        response = client.post(f"/webhooks/procore/{procore.id}", data=body, headers=BEARER, csrf=False)
        assert response.status_code == 400, (what, response.status_code, response.get_data(True)[:200])
    assert rows(session) == before
    (refusal,) = refusals(session)
    assert refusal.attempts == 2 and refusal.payload is None and "not an event the portal reads" in refusal.reason


def test_the_well_formed_events_of_these_tests_are_accepted(session, client, toggl, procore):
    """The hostile bodies above differ from these in one field each: these are what the tools send."""
    body = json.dumps(toggl_event()).encode()
    assert client.post(f"/webhooks/toggl/{toggl.id}", data=body, headers=signed(body), csrf=False).json == {
        "status": "queued"}
    answer = client.post(f"/webhooks/procore/{procore.id}", data=json.dumps(procore_event()), headers=BEARER,
                         csrf=False)
    assert answer.status_code == 200 and answer.json == {"status": "Received."}
    assert refusals(session) == []


@pytest.mark.parametrize("kind", ["toggl", "procore"])
def test_the_body_is_authenticated_before_it_is_parsed(session, client, toggl, procore, kind, monkeypatch):
    parsed = []
    monkeypatch.setattr(inputs, "json_document", lambda *args, **kwargs: parsed.append(args))
    connection = toggl if kind == "toggl" else procore
    headers = {"Content-Type": "application/json", "X-Webhook-Signature-256": "sha256=forged",
               "Authorization": "Bearer forged"}
    for body in (NESTED, b"not json at all", json.dumps(procore_event()).encode()):
        response = client.post(f"/webhooks/{kind}/{connection.id}", data=body, headers=headers, csrf=False)
        assert response.status_code == 401
    assert parsed == []
    (refusal,) = refusals(session)
    assert refusal.attempts == 3 and refusal.connection_id == connection.id


class Endless(io.RawIOBase):
    """A chunked body that never ends (no Content-Length); counts what the portal read of it."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        buffer[:] = b"[" * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


class Untouchable(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        raise AssertionError("the body was read although its Content-Length is over the limit")


@pytest.mark.parametrize("kind", ["toggl", "procore"])
def test_a_chunked_body_past_the_limit_is_cut_off_with_a_413(session, client, toggl, procore, kind):
    connection = toggl if kind == "toggl" else procore
    stream = Endless()
    response = client.post(f"/webhooks/{kind}/{connection.id}", csrf=False,
                           headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input": stream, "wsgi.input_terminated": True})
    assert response.status_code == 413
    assert webhooks.MAX_BODY < stream.read_bytes <= webhooks.MAX_BODY + webhooks.CHUNK
    (refusal,) = refusals(session)
    assert "larger than 1,000,000 bytes" in refusal.reason and rows(session) == (0, 0)


@pytest.mark.parametrize("kind", ["toggl", "procore"])
def test_a_content_length_past_the_limit_is_refused_unread(session, client, toggl, procore, kind):
    connection = toggl if kind == "toggl" else procore
    response = client.post(f"/webhooks/{kind}/{connection.id}", csrf=False, environ_overrides={
        "wsgi.input": Untouchable(), "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(webhooks.MAX_BODY + 1)})
    assert response.status_code == 413 and len(refusals(session)) == 1


def test_a_chunked_body_within_the_limit_is_read_whole(session, client, toggl):
    body = json.dumps(toggl_event()).encode()
    response = client.post(f"/webhooks/toggl/{toggl.id}", csrf=False,
                           headers={**signed(body), "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True})
    assert response.json == {"status": "queued"}


def test_a_form_encoded_body_is_not_parsed_as_a_form_before_the_signature(session, client, toggl):
    body = b"a=\x00" + b"b" * 100
    response = client.post(f"/webhooks/toggl/{toggl.id}", data=body, csrf=False,
                           headers={"Content-Type": "application/x-www-form-urlencoded",
                                    "X-Webhook-Signature-256": "sha256=forged"})
    assert response.status_code == 401  # the NUL check of forms (a 422) did not read it first


def _procore_without_ids(**changes) -> bytes:
    event = procore_event(**changes)
    del event["ulid"], event["id"]
    return json.dumps(event).encode()


def test_procore_events_without_a_ulid_each_get_their_own_key(session, client, procore):
    later = (utcnow() + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    bodies = [_procore_without_ids(), _procore_without_ids(resource_id=5500000002),
              _procore_without_ids(event_type="delete"), _procore_without_ids(timestamp=later),
              _procore_without_ids(timestamp=None)]
    for body in bodies:
        assert client.post(f"/webhooks/procore/{procore.id}", data=body, headers=BEARER,
                           csrf=False).json == {"status": "Received."}
    for body in bodies:  # each again (Procore's retry of a delivery whose answer was lost): recorded once
        assert client.post(f"/webhooks/procore/{procore.id}", data=body, headers=BEARER,
                           csrf=False).json == {"status": "Already received."}
    session.expire_all()
    keys = list(session.scalars(select(SyncMessage.dedupe_key).where(SyncMessage.connection_id == procore.id)))
    assert len(keys) == len(set(keys)) == 5 and all(key.startswith(f"procore:{procore.id}:derived:") for key in keys)


def test_the_urls_given_before_the_one_scheme_keep_answering(session, client, toggl, procore):
    body = json.dumps(toggl_event()).encode()
    assert client.post(f"/hooks/toggl/{toggl.id}", data=body, headers=signed(body), csrf=False).json == {
        "status": "queued"}
    answer = client.post("/webhooks/procore", data=json.dumps(procore_event()), headers=BEARER, csrf=False)
    assert answer.json == {"status": "Received."}


@pytest.mark.parametrize("url", ["/webhooks/harvest/{toggl}", "/webhooks/procore/{toggl}", "/webhooks/toggl/999999",
                                 "/webhooks/harvest", "/hooks/procore/{toggl}"])
def test_an_unknown_tool_or_connection_is_a_404_and_nothing_is_read(session, client, toggl, procore, url):
    response = client.post(url.format(toggl=toggl.id), csrf=False, environ_overrides={
        "wsgi.input": Untouchable(), "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "10"})
    assert response.status_code == 404 and refusals(session) == []
