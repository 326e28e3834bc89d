"""Hostile input never gets a 500 nor leaves a row behind: generated junk (NUL bytes, numbers beyond what
columns hold, NaN, Infinity, 1e309, tiny decimals, dates far away, over-long text, repeated fields) posted
to every form of the permission matrix, sent as query strings to every page, put in the ids of paths, and
posted as webhook deliveries (signed or not, anonymously and signed in) to every webhook URL, where a
refusal leaves only the one grouped refusal message per connection.

FUZZ_EXAMPLES (default 60 per test) sets how many cases Hypothesis generates; raise it to fuzz longer
locally: FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/auth/test_fuzz.py
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from html import unescape
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from portal.extensions import db
from portal.integrations.models import Connection, ConnectionStatus
from portal.projects.models import Client
from tests.auth import world as worlds
from tests.auth.test_route_matrix import cases
from tests.integrations.test_webhooks import SECRET, procore_event, toggl_event

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("FUZZ_RANDOM"), database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# Tables a refused request may write to by design: failed logins are what throttling counts.
WRITTEN_ON_REFUSAL = {"login_attempts"}

# What broke forms before (each once in every field of every form: test_classic_bad_values_…).
CLASSIC = ["sNaN", "NaN", "Infinity", "1e309", str(2**64), "-" + str(2**63), "9999-12-31", "0.00001", "a\x00b"]
SAMPLES = st.sampled_from([
    *CLASSIC, "", " ", "\x00", "-NaN", "-Infinity", "inf", "-1e309", "1e-309", "0.004", "-0.001", "-1", "0", "00",
    "1.0", "١٢", "9" * 25, str(2**31), str(2**63), "0001-01-01", "2026-02-30", "10000-01-01", "1900-01-01",
    "2026-13-01", "x" * 5000, "<script>alert(1)</script>", "' OR 1=1 --", "%00", "../../etc/passwd", "\ud7ff", "😀",
    "true", "y", "on", "[]", "{}", "null",
])
JUNK = st.one_of(
    SAMPLES, SAMPLES, SAMPLES, SAMPLES,  # weighted: the known troublemakers come up often
    st.text(max_size=40),
    st.integers().map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.dates().map(str),
)


def _values() -> st.SearchStrategy:
    return st.one_of(JUNK, st.lists(JUNK, min_size=2, max_size=3))


@st.composite
def fuzzed(draw, data: dict) -> dict:
    """The valid data with one or two fields replaced by junk (the others stay valid, so the junk reaches the
    code behind the form's first checks), sometimes one left out, sometimes a stray field added."""
    values = dict(data)
    keys = sorted(values) + ["extra"]
    for key in draw(st.lists(st.sampled_from(keys), min_size=1, max_size=2, unique=True)):
        values[key] = draw(_values())
    if values and draw(st.booleans()):
        values.pop(draw(st.sampled_from(sorted(values))))
    return values


@pytest.fixture
def fuzz_world(app, session):
    world = worlds.build(session)
    session.commit()
    connection = db._app_engines[app][None]
    tables = [t.name for t in db.metadata.sorted_tables if t.name not in WRITTEN_ON_REFUSAL]
    counts = text("SELECT " + " + ".join(f'(SELECT count(*) FROM "{t}")' for t in tables))
    return SimpleNamespace(world=world, connection=connection, rows=lambda: connection.scalar(counts))


def _request(client, fuzz, role, method, url, data=None, htmx=False):
    token = fuzz.world.users[role].get_id()
    client.login(SimpleNamespace(get_id=lambda: token))
    savepoint = fuzz.connection.begin_nested()
    try:
        before = fuzz.rows()
        response = client.open(url, method=method, data=data, htmx=htmx, buffered=True)
        written = fuzz.rows() != before
    finally:
        savepoint.rollback()
    return response, written


def _post_cases(world, role):
    return [case for endpoint_cases in cases(world.ids).values() for case in endpoint_cases
            if case.method == "POST" and role in case.allowed]


@pytest.mark.parametrize("role", ["super_admin", "pm"])
def test_junk_posted_to_every_form_is_refused_cleanly(client, fuzz_world, role):
    posts = _post_cases(fuzz_world.world, role)

    @FUZZ
    @given(data=st.data())
    def post_junk(data):
        case = data.draw(st.sampled_from(posts), label="route")
        junk = data.draw(fuzzed(case.data), label="form")
        htmx = data.draw(st.booleans(), label="htmx")
        response, written = _request(client, fuzz_world, role, "POST", case.url, junk, htmx)
        assert response.status_code < 500, (case.url, junk, response.get_data(as_text=True)[:300])
        if response.status_code >= 400:
            assert not written, f"{case.url} answered {response.status_code} but wrote rows: {junk!r}"

    post_junk()


def test_classic_bad_values_in_every_field_are_refused_cleanly(client, fuzz_world):
    failures = []
    for case in _post_cases(fuzz_world.world, "super_admin"):
        for key in case.data:
            for junk in CLASSIC:
                response, written = _request(client, fuzz_world, "super_admin", "POST", case.url,
                                             {**case.data, key: junk})
                if response.status_code >= 500 or (response.status_code >= 400 and written):
                    failures.append(f"{case.url} {key}={junk!r}: {response.status_code}, wrote rows: {written}")
    assert not failures, "\n".join(failures)


def test_junk_query_strings_on_every_page_are_refused_cleanly(client, fuzz_world):
    pages = sorted({case.url for endpoint_cases in cases(fuzz_world.world.ids).values() for case in endpoint_cases
                    if case.method == "GET" and "super_admin" in case.allowed})
    names = ["stage", "client", "closed", "q", "after", "project", "period", "kind", "before", "action", "subject",
             "actor", "resource", "week", "status", "week_from", "week_to", "person", "held", "months", "month",
             "project_id", "next", "direction"]

    @FUZZ
    @given(data=st.data())
    def get_junk(data):
        url = data.draw(st.sampled_from(pages), label="page")
        args = data.draw(st.dictionaries(st.sampled_from(names), _values(), min_size=1, max_size=4), label="args")
        response, written = _request(client, fuzz_world, "super_admin", "GET", url + "?" + _query(args))
        assert response.status_code < 500, (url, args, response.get_data(as_text=True)[:300])
        assert not written, (url, args)

    get_junk()


def _query(args: dict) -> str:
    from urllib.parse import urlencode

    pairs = [(k, v) for k, values in args.items() for v in (values if isinstance(values, list) else [values])]
    return urlencode(pairs)


def test_ids_in_paths_beyond_what_columns_hold_are_not_found(client, fuzz_world):
    urls = sorted({case.url for endpoint_cases in cases(fuzz_world.world.ids).values() for case in endpoint_cases
                   if re.search(r"/\d+", case.url) and "super_admin" in case.allowed})

    @FUZZ
    @given(data=st.data())
    def odd_ids(data):
        case_url = data.draw(st.sampled_from(urls), label="url")
        ident = data.draw(st.sampled_from([str(2**31), str(2**63), str(2**64), "9" * 40, "0", "00001", "-1",
                                           "1%00", "%00"]), label="id")
        url = re.sub(r"/\d+", "/" + ident, case_url, count=1)
        method = data.draw(st.sampled_from(["GET", "POST"]), label="method")
        response, written = _request(client, fuzz_world, "super_admin", method, url, {})
        assert response.status_code < 500, (method, url)
        if response.status_code >= 400:
            assert not written, (method, url)

    odd_ids()


def test_nul_bytes_are_refused_naming_the_field(client, login_as, session):
    login_as("admin", permissions=["maintain_projects"])
    form = client.post("/clients", data={"name": "Nor\x00thwind"})
    assert form.status_code == 422 and "'name' contains a NUL character" in unescape(form.get_data(as_text=True))
    query = client.get("/projects?q=a%00b")
    assert query.status_code == 400 and "'q' contains a NUL character" in unescape(query.get_data(as_text=True))
    assert session.scalar(select(func.count()).select_from(Client)) == 0


def test_the_input_layer_answers_4xx_naming_what_it_refuses(client, login_as, session):
    from tests.factories import ProjectFactory, ResourceFactory

    ResourceFactory(user=login_as("super_admin"))
    project = ProjectFactory()
    session.flush()
    assert client.get(f"/projects/{2**63}").status_code == 404
    cases = {f"/projects?client={2**64}": "'client' must be a whole number",
             "/finance/actuals.csv?kind=bogus": "'kind' must be one of",
             "/time?week=9999-12-31": "'week' must be a date between 1900 and 2999",
             "/forecast?months=7": "'months' must be one of"}
    for url, message in cases.items():
        response = client.get(url)
        assert response.status_code == 400 and message in unescape(response.get_data(as_text=True)), url
    response = client.post(f"/projects/{project.id}/offerings/new", htmx=True, data={
        "name": "Tiny", "billing_model": "time_and_materials", "sold_hours": "sNaN", "sale_status": "sold",
        "start_date": "9999-12-31"})
    body = unescape(response.get_data(as_text=True))
    assert response.status_code == 422 and "Enter a number, like 12.5." in body and "between 1900 and 2999" in body


# Webhooks ------------------------------------------------------------------------------------------------

JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63 - 2, max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
    st.sampled_from(["\x00", "a\x00b", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00", "2026-02-30T00:00:00Z",
                     "x" * 100, "9" * 70, "", "ping", "time_entry", "Timecard Entries", "deleted", "1e309"]),
)
JSON_JUNK = st.recursive(JSON_LEAVES, lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
# Tokens json.dumps cannot write: spliced into the body in place of a marker value.
RAW_TOKENS = [b"NaN", b"Infinity", b"-Infinity", b"1e309", b"-1e309", b"9" * 5000, b"1" * 21, b"[" * 50 + b"]" * 50,
              b'"\\u0000"', b'"\\ud800"']
RAW_BODIES = [b"", b"\x00", b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe\x00", b"not json", b"null",
              b"[]", b"{}", b'"ping"', b"1e309", b"NaN"]
MARKER = "\u2063raw\u2063"
FIELDS = {"toggl": ["event_id", "timestamp", "metadata", "payload", "validation_code", "payload.id",
                    "payload.start", "payload.duration", "payload.at", "payload.user_id", "payload.project_id",
                    "payload.description", "payload.billable", "payload.server_deleted_at", "metadata.model",
                    "metadata.action", "metadata.model_owner_id"],
          "procore": ["id", "ulid", "timestamp", "metadata", "event_type", "resource_name", "resource_id",
                      "company_id", "project_id", "user_id", "metadata.source_application_id"]}


@st.composite
def deliveries(draw, kind: str) -> bytes:
    """A body: a well-formed event of `kind` with one to three fields replaced by junk (some by a raw token
    JSON cannot write), or raw junk altogether."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(RAW_BODIES))
    event = toggl_event() if kind == "toggl" else procore_event()
    raw = None
    for path in draw(st.lists(st.sampled_from(FIELDS[kind]), min_size=1, max_size=3, unique=True)):
        holder, key = event, path
        if "." in path:
            parent, key = path.split(".", 1)
            holder = event.get(parent)
            if not isinstance(holder, dict):
                continue
        if raw is None and draw(st.integers(0, 3)) == 0:
            raw, holder[key] = draw(st.sampled_from(RAW_TOKENS)), MARKER
        else:
            holder[key] = draw(JSON_JUNK)
    body = json.dumps(event).encode()
    return body.replace(json.dumps(MARKER).encode(), raw) if raw is not None else body


def _authenticate(kind: str, body: bytes, how: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if how == "authentic":
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers.update({"X-Webhook-Signature-256": signature} if kind == "toggl" else
                       {"Authorization": f"Bearer {SECRET}"})
    elif how == "forged":
        headers.update({"X-Webhook-Signature-256": "sha256=" + "0" * 64, "Authorization": "Bearer forged"})
    return headers


@pytest.fixture
def hooked_world(fuzz_world, session):
    """The matrix's world with both tools connected and holding a webhook secret, so deliveries reach parsing."""
    for connection in session.scalars(db.select(Connection)):
        connection.status, connection.account_id = ConnectionStatus.CONNECTED, "4001"
        connection.credentials = json.dumps({"api_token": "token", "client_id": "app", "webhook_secret": SECRET})
        connection.settings = {**(connection.settings or {}), "receive": True}
    session.commit()
    urls = sorted({(case.url, endpoint) for endpoint, endpoint_cases in cases(fuzz_world.world.ids).items()
                   if endpoint.startswith("webhooks.") for case in endpoint_cases})
    written = text("SELECT (SELECT count(*) FROM sync_runs) + (SELECT count(*) FROM sync_messages WHERE "
                   "action != 'refused') + (SELECT count(*) FROM audit_events)")
    refusals = text("SELECT count(*) FROM sync_messages WHERE action = 'refused' GROUP BY connection_id "
                    "ORDER BY count(*) DESC LIMIT 1")
    return SimpleNamespace(**vars(fuzz_world), urls=[url for url, _ in urls],
                           written=lambda: fuzz_world.connection.scalar(written),
                           most_refusals=lambda: fuzz_world.connection.scalar(refusals) or 0)


@pytest.mark.parametrize("role", [worlds.ANONYMOUS, "admin"])
def test_junk_delivered_to_every_webhook_url_is_refused_cleanly(client, hooked_world, role):
    fuzz = hooked_world
    assert len(fuzz.urls) >= 4  # the one scheme for each tool and the URLs given before it

    @FUZZ
    @given(data=st.data())
    def deliver_junk(data):
        url = data.draw(st.sampled_from(fuzz.urls), label="url")
        kind = "toggl" if "toggl" in url else "procore"
        body = data.draw(deliveries(kind), label="body")
        how = data.draw(st.sampled_from(["authentic", "authentic", "forged", "none"]), label="authentication")
        if role != worlds.ANONYMOUS:
            token = fuzz.world.users[role].get_id()
            client.login(SimpleNamespace(get_id=lambda: token))
        savepoint = fuzz.connection.begin_nested()
        try:
            before = fuzz.written()
            response = client.post(url, data=body, headers=_authenticate(kind, body, how), csrf=False)
            written, most_refusals = fuzz.written() != before, fuzz.most_refusals()
        finally:
            savepoint.rollback()
        assert response.status_code < 500, (url, how, body[:300], response.get_data(as_text=True)[:300])
        if response.status_code >= 400:
            assert not written, f"{url} answered {response.status_code} but wrote rows: {body[:300]!r}"
            assert most_refusals <= 1, "refusals are counted in one message per connection"
        if how != "authentic":
            assert response.status_code in (401, 404), (url, how, response.status_code)

    deliver_junk()
