"""What every response says about itself (CSP, HSTS in production, no-store for signed-in users, cookies),
login throttling per account and address, and the client address behind trusted proxies."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal import ROOT, create_app, security
from portal.auth.models import LoginAttempt
from portal.config import load_settings
from tests.factories import TEST_PASSWORD, UserFactory

TEMPLATES = ROOT / "templates"


def test_pages_carry_a_content_security_policy_without_inline_script_or_style(client, login_as):
    login_as("admin")
    for response in (client.get("/"), client.get("/login"), client.get("/projects", htmx=True),
                     client.get("/no-such-page")):
        policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
        assert policy["default-src"] == policy["script-src"] == policy["style-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
        assert "unsafe" not in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_no_template_has_inline_script_handlers_or_styles():
    """What the CSP refuses must not be in a template: behaviour lives in static/js, style in static/css."""
    found = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for pattern, what in ((r"<script(?![^>]*\bsrc=)[^>]*>", "inline <script>"), (r"<style\b", "<style>"),
                              (r"\s(on[a-z]+|hx-on[:\w-]*)\s*=", "inline event handler"),
                              (r"<[a-z][^>]*\sstyle=[\"']", "style attribute"), (r"javascript:", "javascript: URL")):
            found += [f"{path.relative_to(TEMPLATES)}: {what}" for _ in re.finditer(pattern, text)]
    assert not found, found


def test_htmx_is_told_not_to_inject_its_indicator_style_nor_to_eval():
    base = (TEMPLATES / "base.html").read_text()
    assert '"includeIndicatorStyles":false' in base and '"allowEval":false' in base


def test_signed_in_answers_are_not_stored_by_any_cache(client, login_as):
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    login_as("staff")
    for response in (client.get("/"), client.get("/projects", htmx=True), client.get("/admin/users")):
        assert response.headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/static/css/portal.css").headers.get("Cache-Control", "")


def test_the_remember_me_cookie_is_http_only_and_same_site(client, session):
    UserFactory(email="ana@example.test")
    client.post("/login", data={"email": "ana@example.test", "password": TEST_PASSWORD, "remember": "y"})
    cookie = client.get_cookie("remember_token")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert client.get_cookie("session").same_site == "Lax"


@pytest.fixture
def production_app(tmp_path):
    return create_app({"INSTANCE_PATH": str(tmp_path), "TESTING": True, "PORTAL_ENV": "production",
                       "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}", "SECRET_KEY": "x" * 32,
                       "PORTAL_ENCRYPTION_KEY": "unused", "SESSION_COOKIE_SECURE": True,
                       "REMEMBER_COOKIE_SECURE": True})


def test_production_sends_https_only_with_hsts(production_app):
    client = production_app.test_client()
    plain = client.get("/login", base_url="http://portal.example")
    assert plain.status_code in (301, 302) and plain.headers["Location"].startswith("https://portal.example/login")
    secure = client.get("/static/css/portal.css", base_url="https://portal.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_development_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def _fail(client, email, address, password="wrong"):
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_a_stranger_cannot_lock_a_colleague_out(app, client, session):
    UserFactory(email="ana@example.test")
    ana = app.test_client()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert _fail(client, "ana@example.test", "203.0.113.9").status_code == 422
    assert _fail(client, "ana@example.test", "203.0.113.9", TEST_PASSWORD).status_code == 429  # the stranger
    assert _fail(ana, "ana@example.test", "198.51.100.7", TEST_PASSWORD).status_code == 303  # Ana at her desk
    # Ana's success clears nothing of the stranger's: they stay throttled.
    assert _fail(client, "ana@example.test", "203.0.113.9", TEST_PASSWORD).status_code == 429


def test_an_address_guessing_across_accounts_is_throttled_whole(app, client, session):
    UserFactory(email="ana@example.test")
    cap = app.config["LOGIN_MAX_FAILURES"] * 4
    for number in range(cap):
        assert _fail(client, f"someone{number}@example.test", "203.0.113.9").status_code == 422
    assert _fail(client, "ana@example.test", "203.0.113.9", TEST_PASSWORD).status_code == 429
    assert _fail(app.test_client(), "ana@example.test", "198.51.100.7", TEST_PASSWORD).status_code == 303


@pytest.mark.parametrize(("hops", "recorded"), [(0, "10.0.0.2"), (1, "203.0.113.9"), (2, "198.51.100.66")])
def test_the_client_address_is_read_behind_trusted_proxies_only(app, client, session, monkeypatch, hops, recorded):
    monkeypatch.setattr(app, "wsgi_app", app.wsgi_app)  # restored after the test
    security.trust_proxies(app, hops)
    client.post("/login", data={"email": "who@example.test", "password": "wrong"},
                environ_base={"REMOTE_ADDR": "10.0.0.2"}, headers={"X-Forwarded-For": "198.51.100.66, 203.0.113.9"})
    attempt = session.scalar(select(LoginAttempt).where(LoginAttempt.email == "who@example.test"))
    assert attempt.remote_addr == recorded


def test_the_proxy_hops_setting_is_read_from_the_environment(tmp_path):
    assert load_settings(tmp_path, {"TRUSTED_PROXY_HOPS": "1"})["TRUSTED_PROXY_HOPS"] == 1
    assert load_settings(tmp_path, {})["TRUSTED_PROXY_HOPS"] == 0
