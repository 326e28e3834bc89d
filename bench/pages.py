"""Benchmark: every page that grows with data, at 10,000 and at 1,000,000 time entries, on PostgreSQL.

    .venv/bin/python bench/pages.py                       # 10k and 1M (loading 1M takes a few minutes)
    .venv/bin/python bench/pages.py --sizes 10k,100k      # quicker, while working on a page
    .venv/bin/python bench/pages.py --reuse --keep        # keep the loaded databases for the next run
    .venv/bin/python bench/pages.py --only approvals      # pages whose name contains a word

Loads each size (bench/dataset.py: the same shape scaled, ids dense, so one URL names the same kind of
record at every size) by COPY into an empty database named after BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/portal_bench) plus `_10k`, `_1m`..., after running the migrations. Then
it requests every page in-process (Flask's test client, logged in as the user the page is for) in
interleaved rounds (each round: every page at every size, in alternating order) and prints per page: the
ratio of the median times at the largest size ÷ the smallest, the SQL statements of one request at each
size, and the response bytes at each size. A page that shows the same rows at every size should cost the
same: the goal is ≤ 1.5× with the same statement count. Databases are dropped afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import dataset  # noqa: E402
from portal import create_app  # noqa: E402
from portal.auth.models import User  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.finance.ledger import rebuild_totals  # noqa: E402

SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
GOAL = 1.5
PERSON, PM = 7, 0  # the person whose week is shown, the PM whose projects are shown
PROJECT = 1  # PM 0's first project (open, linked to Toggl)


@dataclass(frozen=True)
class Page:
    name: str
    url: str
    user: int
    goal: bool = True  # held to ≤ 1.5× and the same statement count


def pages(shape: dataset.Shape, weeks: list[str]) -> list[Page]:
    admin, approver, pm, person = dataset.ADMIN, dataset.APPROVER, shape.pm_user(PM), shape.person_user(PERSON)
    submitted = shape.timesheet(PERSON, dataset.WEEKS - 2)
    approved = shape.timesheet(PERSON, dataset.WEEKS - 10)
    project = f"/projects/{PROJECT}"
    return [
        Page("home (admin)", "/", admin),
        Page("home (PM)", "/", pm),
        Page("home (person)", "/", person),
        Page("project list (admin)", "/projects", admin),
        Page("project list (PM)", "/projects", pm),
        Page("clients", "/clients", admin),
        Page("client", "/clients/1", admin),
        Page("deals", "/deals", admin),
        Page("resources", "/resources", admin),
        Page("resource", f"/resources/{PERSON + 1}", admin),
        Page("approvals (approver)", "/approvals", approver),
        Page("approvals (PM)", "/approvals", pm),
        Page("approvals, any status (approver)", "/approvals?status=", approver),
        Page("week (this week, editable)", "/time", person),
        Page("week (approved, frozen)", f"/time?week={weeks[dataset.WEEKS - 10]}", person),
        Page("timesheet detail (submitted)", f"/timesheets/{submitted}", approver),
        Page("timesheet detail (approved, posted)", f"/timesheets/{approved}", admin),
        Page("project overview", project, pm),
        Page("project offerings", f"{project}/offerings", pm),
        Page("project team", f"{project}/team", pm),
        Page("project plan", f"{project}/plan", pm),
        Page("project time & costs", f"{project}/entries", pm),
        Page("project workspace", f"{project}/workspace-settings", pm),
        Page("project integrations", f"{project}/integrations", pm),
        Page("project finance", f"{project}/finance", pm),
        Page("project move dialog", f"{project}/move", pm),
        Page("Finance → Actuals", "/finance/actuals", admin),
        Page("audit log", "/settings/audit", admin),
        Page("sync log", f"/settings/integrations/connections/{dataset.TOGGL}/sync-log", admin),
        Page("sync run detail", "/settings/integrations/sync-runs/1", admin),
        Page("Procore settings and activity", "/settings/integrations/procore", admin),
        Page("Procore activity (poll)", "/settings/integrations/procore/activity", admin),
        Page("forecast (admin)", "/forecast", admin),
        Page("forecast (PM)", "/forecast", pm),
        Page("my expenses", "/expenses", person),
        Page("users", "/admin/users", admin),
    ]


def database_urls(size: str) -> tuple[str, str]:
    """(SQLAlchemy URL, libpq URL) of the bench database for `size`."""
    base = make_url(os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/portal_bench"))
    url = base.set(database=f"{base.database}_{size}")
    return (url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False),
            url.set(drivername="postgresql").render_as_string(hide_password=False))


def _admin_engine():
    url = make_url(database_urls("x")[0])
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def prepare(size: str, folder: Path, reuse: bool):
    """An app on a migrated database holding the dataset of `size` (loaded now, or kept from a run before)."""
    entries = SIZES[size]
    shape = dataset.Shape(entries)
    alchemy_url, libpq_url = database_urls(size)
    name = make_url(alchemy_url).database
    admin = _admin_engine()
    with admin.connect() as connection:
        exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    loaded = reuse and exists and _holds(alchemy_url, shape)
    if not loaded:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    app = create_app({"INSTANCE_PATH": str(folder), "SQLALCHEMY_DATABASE_URI": alchemy_url, "SECRET_KEY": "bench",
                      "REDIS_URL": None, "REDIS_EMBEDDED_PATH": str(folder / "redis.db"),
                      "WTF_CSRF_ENABLED": False})
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        from flask_migrate import upgrade

        from portal.org.services import ensure_defaults

        upgrade()  # a kept database gets the migrations added since it was loaded
        ensure_defaults(db.session)
        db.session.commit()
        db.engine.dispose()
    if not loaded:
        print(f"Loading {size} ({entries:,} time entries) into {name} by COPY…", flush=True)
        started = time.perf_counter()
        dataset.load(libpq_url, entries, progress=lambda line: print(line, flush=True))
        with app.app_context():  # what the posting job keeps up to date, for rows it did not post
            rebuild_totals(db.session)
            db.session.commit()
            db.engine.dispose()
        print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)
    return app, shape


def _holds(url: str, shape: dataset.Shape) -> bool:
    """Whether a kept database holds this size's dataset, loaded this week (the week page's dates move)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            count = connection.scalar(text("SELECT count(*) FROM time_entries"))
            last = connection.scalar(text("SELECT max(period_start) FROM timesheets"))
    except Exception:  # no schema yet
        return False
    finally:
        engine.dispose()
    from datetime import date

    return count == shape.timesheets * dataset.ENTRIES_PER_SHEET and last == dataset.monday(date.today())


class Probe:
    """Requests a page as a user and counts the SQL statements it ran."""

    def __init__(self, app):
        self.app = app
        self.clients: dict[int, object] = {}
        self.statements = 0
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", self._count)

    def _count(self, *_):
        self.statements += 1

    def get(self, url: str, user: int) -> tuple[float, int, int]:
        client = self.clients.get(user)
        if client is None:
            client = self.clients[user] = self.app.test_client()
            with self.app.app_context():
                token = db.session.get(User, user).get_id()  # "<id>.<session epoch>"
            with client.session_transaction() as flask_session:
                flask_session["_user_id"] = token
                flask_session["_fresh"] = True
        self.statements = 0
        started = time.perf_counter()
        response = client.get(url)
        seconds = time.perf_counter() - started
        if response.status_code != 200:
            body = response.get_data(as_text=True)[:2000]
            raise RuntimeError(f"{url} as user {user}: {response.status_code}\n{body}")
        return seconds, self.statements, len(response.data)


def week_starts(app, shape: dataset.Shape) -> list[str]:
    with app.app_context():
        return [d.isoformat() for d in db.session.scalars(text(
            "SELECT period_start FROM timesheets WHERE resource_id = :r ORDER BY period_start"), {"r": PERSON + 1})]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10k,1m", help="comma-separated, smallest first: 10k, 100k, 1m")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="", help="only pages whose name contains this")
    parser.add_argument("--reuse", action="store_true", help="use a kept database that holds the dataset already")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards (for --reuse)")
    args = parser.parse_args()
    sizes = args.sizes.split(",")
    folder = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    probes, shapes, weeks = {}, {}, {}
    try:
        for size in sizes:
            app, shapes[size] = prepare(size, folder, args.reuse)
            probes[size] = Probe(app)
            weeks[size] = week_starts(app, shapes[size])
        assert len({tuple(w) for w in weeks.values()}) == 1, "the sizes were loaded in different weeks"
        lists = {size: pages(shapes[size], weeks[size]) for size in sizes}
        chosen = [i for i, page in enumerate(lists[sizes[0]]) if args.only.lower() in page.name.lower()]
        times = {(i, s): [] for i in chosen for s in sizes}
        counts: dict[tuple[int, str], tuple[int, int]] = {}
        for i in chosen:  # warm-up: templates compiled, caches filled, at every size
            for size in sizes:
                page = lists[size][i]
                probes[size].get(page.url, page.user)
        for round_ in range(args.rounds):
            for i in chosen:
                for size in sizes if round_ % 2 == 0 else reversed(sizes):
                    page = lists[size][i]
                    seconds, statements, size_bytes = probes[size].get(page.url, page.user)
                    times[i, size].append(seconds)
                    counts[i, size] = (statements, size_bytes)
        report(sizes, lists[sizes[0]], chosen, times, counts, args.rounds)
    finally:
        for probe in probes.values():
            with probe.app.app_context():
                db.session.remove()
                db.engine.dispose()
        if not args.keep:
            admin = _admin_engine()
            with admin.connect() as connection:
                for size in sizes:
                    name = make_url(database_urls(size)[0]).database
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return 0


def report(sizes, page_list, chosen, times, counts, rounds) -> None:
    small, large = sizes[0], sizes[-1]
    print(f"\nPostgreSQL, {rounds} interleaved rounds; ratio = median time at {large} ÷ at {small}; goal ≤ {GOAL}× "
          "with the same statement count.\n")
    header = f"{'page':40} {'ratio':>6}  {'statements':>14}  {'bytes':>20}  goal"
    print(header)
    print("-" * len(header))
    missed = 0
    for i in chosen:
        page = page_list[i]
        ratio = statistics.median(times[i, large]) / statistics.median(times[i, small])
        statements = " → ".join(str(counts[i, s][0]) for s in sizes)
        size_bytes = " → ".join(f"{counts[i, s][1]:,}" for s in sizes)
        same = len({counts[i, s][0] for s in sizes}) == 1
        met = ratio <= GOAL and same
        missed += not met
        print(f"{page.name:40} {ratio:6.2f}  {statements:>14}  {size_bytes:>20}  {'met' if met else 'MISSED'}")
    print(f"\n{len(chosen) - missed} of {len(chosen)} pages met the goal.")


if __name__ == "__main__":
    sys.exit(main())
