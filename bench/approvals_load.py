"""Benchmark: the approvals page under load, on gunicorn, against a trivial route served the same way.

    .venv/bin/python bench/approvals_load.py                     # PostgreSQL (BENCH_DATABASE_URL), Redis REDIS_URL
    BENCH_CLIENTS=8 BENCH_SECONDS=8 BENCH_ROUNDS=3 .venv/bin/python bench/approvals_load.py

Loads bench/dataset.py at 200,000 time entries (1,000 people, so 1,000 timesheets wait for approval) by COPY
into an empty database named after BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/
portal_bench) plus `_load`, starts `gunicorn -w 4` on it, and has 8 concurrent clients request, in turn for
a few seconds each (interleaved rounds), the approvals page as the approver and `/healthz` (a route that asks
the database and Redis one question each). Prints the ratio of the requests per second served: approvals ÷
trivial (goal ≥ 1/3). The database is dropped afterwards.
"""

from __future__ import annotations

import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import dataset  # noqa: E402
from portal import create_app  # noqa: E402
from portal.auth.models import User  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.finance.ledger import rebuild_totals  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = 200_000
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 8))
SECONDS = float(os.environ.get("BENCH_SECONDS", 8))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
GOAL = 1 / 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(folder: Path) -> tuple[str, dict[str, str]]:
    """The database URL, and the environment gunicorn runs the portal with."""
    base = make_url(os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/portal_bench"))
    url = base.set(database=f"{base.database}_load")
    admin = create_engine(url.set(drivername="postgresql+psycopg", database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    alchemy = url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    environment = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False),
                   "SECRET_KEY": "bench-load-secret", "PORTAL_ENCRYPTION_KEY": _fernet_key(),
                   "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/8")}
    app = create_app({"INSTANCE_PATH": str(folder), "SQLALCHEMY_DATABASE_URI": alchemy,
                      "SECRET_KEY": environment["SECRET_KEY"], "REDIS_URL": environment["REDIS_URL"]})
    with app.app_context():
        from flask_migrate import upgrade

        from portal.org.services import ensure_defaults

        upgrade()
        ensure_defaults(db.session)
        db.session.commit()
        print(f"Loading {ENTRIES:,} time entries ({dataset.Shape(ENTRIES).people:,} timesheets waiting)…", flush=True)
        dataset.load(url.render_as_string(hide_password=False), ENTRIES, progress=lambda _: None)
        rebuild_totals(db.session)
        db.session.commit()
        cookie = _session_cookie(app, db.session.get(User, dataset.APPROVER))
        db.engine.dispose()
    environment["BENCH_COOKIE"] = cookie
    return url.render_as_string(hide_password=False), environment


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _session_cookie(app, user: User) -> str:
    """A signed-in session cookie for `user`, made the way Flask-Login makes one."""
    client = app.test_client()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = user.get_id()
        flask_session["_fresh"] = True
    return client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session")).value


def serve(environment: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "4", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "wsgi:app"], cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{base}/healthz", timeout=2)
            return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("gunicorn did not start")


def throughput(url: str, cookie: str) -> float:
    """Requests per second that CLIENTS concurrent clients get answered (200) in SECONDS."""
    stop = time.monotonic() + SECONDS
    counts = [0] * CLIENTS

    def client(index: int) -> None:
        with httpx.Client(cookies={"session": cookie}, timeout=30) as http:
            while time.monotonic() < stop:
                response = http.get(url)
                assert response.status_code == 200, (url, response.status_code)
                counts[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def main() -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request would bury the figures
    folder = Path(tempfile.mkdtemp(prefix="bench-load-"))
    url, environment = prepare(folder)
    process, base = serve(environment)
    cookie = environment["BENCH_COOKIE"]
    approvals, trivial = [], []
    try:
        throughput(f"{base}/approvals", cookie)  # warm every worker
        for round_ in range(ROUNDS):
            pair = [(approvals, f"{base}/approvals"), (trivial, f"{base}/healthz")]
            for figures, target in pair if round_ % 2 == 0 else reversed(pair):
                figures.append(throughput(target, cookie))
        ratio = statistics.median(approvals) / statistics.median(trivial)
        print(f"\ngunicorn -w 4, {CLIENTS} concurrent clients, {ROUNDS} interleaved rounds of {SECONDS:.0f} s each,"
              f" {dataset.Shape(ENTRIES).people:,} timesheets waiting:")
        print(f"requests per second (median of the rounds): approvals {statistics.median(approvals):.1f}, "
              f"/healthz {statistics.median(trivial):.1f}")
        print(f"approvals page ÷ /healthz, requests per second: {ratio:.2f} = 1/{1 / ratio:.1f}  "
              f"(goal ≥ 1/3: {'met' if ratio >= GOAL else 'MISSED'})")
    finally:
        process.terminate()
        process.wait(timeout=30)
        admin = create_engine(make_url(url).set(drivername="postgresql+psycopg", database="postgres"),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
