"""Hostile input never gets a 500 nor leaves a row behind: generated junk (NUL bytes, numbers beyond what
columns hold, NaN, Infinity, 1e309, tiny decimals, dates far away, over-long text, repeated fields) posted
to every form of the permission matrix, sent as query strings to every page, and put in the ids of paths.

FUZZ_EXAMPLES (default 60 per test) sets how many cases Hypothesis generates; raise it to fuzz longer
locally: FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/auth/test_fuzz.py
"""

from __future__ import annotations

import os
import re
from html import unescape
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from portal.extensions import db
from portal.projects.models import Client
from tests.auth import world as worlds
from tests.auth.test_route_matrix import cases

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
