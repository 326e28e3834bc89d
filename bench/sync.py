"""Benchmark: the Toggl time sync at scale, against the loopback sandbox in its own process.

    .venv/bin/python bench/sync.py                                       # SQLite in a temporary folder
    BENCH_DATABASE_URL=postgresql://... .venv/bin/python bench/sync.py   # an empty PostgreSQL database
    BENCH_ENTRIES=20000 .venv/bin/python bench/sync.py                   # a smaller run

First the nightly reconcile within Toggl's quota (issue 13), at Toggl's 50-row pages: 6,000 entries of 30 people
on 20 linked projects over 62 days, a first nightly (everything read once), then
- a no-change nightly: its requests (target ≤ 24, a tenth of a Starter plan's 240 an hour);
- a nightly after 20 scattered edits (10 durations, 10 descriptions) and 5 deletions made without webhooks:
  its requests (target ≤ 24 + the pages of the changed days), and whether anything was missed (every entry
  compared with the sandbox's).
`BENCH_ONLY=reconcile` stops there; `BENCH_ONLY=full` skips it, and stops after the full syncs and their limits.
Diagnostics of the first full sync: `BENCH_PROFILE=1` (cProfile of the importing thread), `BENCH_SQL=1` (the time
its statements take, by statement). `BENCH_REPLAY=1`: the report pages the first full sync read are kept, and the
later ones are given them from memory, so their ratio is the sync's without reading Toggl over HTTP in-process.

Then seeds the sandbox with 100,000 entries of 50 people over 200 linked projects (60 days), and measures in
the same run, on the same database:
- a full (organization-level) sync, as the job runs it (in a process settled as the worker's is,
  portal.jobs.settle): reading the report page by page, mapping, inserting, committing per batch; ÷ the
  physical limit of writing the very same rows into the same table in the same state (the synced rows deleted
  again): on PostgreSQL one COPY into a staging table plus one INSERT ... SELECT ... ON CONFLICT DO NOTHING
  (SQLite: one executemany INSERT ... ON CONFLICT). Measured interleaved, sync, limit, sync, limit
  (BENCH_ROUNDS), the medians compared — target ≤ 2.0;
- the worker's memory: how much its peak resident size grew during each full sync (flat: it does not keep
  what grows with the number of entries);
- where the full sync's time goes on this machine: the CPU seconds of the worker (reading, mapping, the
  portal's rules), of the sandbox (serving Toggl's pages) and of PostgreSQL's backends, next to its wall time;
- the requests that full sync used;
- a nightly that finds every day different from Toggl (the portal's entries lost): its compare path at full
  size, with its time, requests and the worker's memory;
- the requests of an hourly sync after 50 entries changed in Toggl (target ≤ 1 + pages of changes);
- a no-change re-sync (nightly-like): its time and requests.
The sandbox answers from another process, as Toggl would; its quota and rate limit are lifted so the
figures measure the portal, not Toggl's throttling (which the sync pauses for, see tests).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
from flask_migrate import upgrade
from sqlalchemy import delete, event, func, select, text
from sqlalchemy.dialects import sqlite

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal import create_app, jobs  # noqa: E402
from portal.columns import today, utcnow  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.integrations.models import Connection, ConnectionStatus, ProjectLink  # noqa: E402
from portal.integrations.toggl import sync, time_runs  # noqa: E402
from portal.integrations.toggl.connector import TogglConnector  # noqa: E402
from portal.org.services import ensure_defaults  # noqa: E402
from portal.projects.models import Assignment, Client, Offering, Project, Resource  # noqa: E402
from portal.runs.models import SyncRun  # noqa: E402
from portal.stages.models import Stage  # noqa: E402
from portal.timesheets import synced  # noqa: E402
from portal.timesheets.models import TimeEntry  # noqa: E402
from tests.databases import fresh_database  # noqa: E402  (throwaway databases, as the tests make them)

ENTRIES = int(os.environ.get("BENCH_ENTRIES", 100_000))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 2))
PROJECTS, PEOPLE, DAYS, CHANGES = 200, 50, 60, 50
TOKEN, WORKSPACE = "bench-toggl-token", 7_435_584
COPY_COLUMNS = ["resource_id", "project_id", "offering_id", "work_date", "hours", "billable", "description",
                "source", "external_id", "external_url", "external_updated_at", "timesheet_id", "bill_rate"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "sandboxes", "toggl", "--port", str(port)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.post(f"{url}/_sandbox/reset").raise_for_status()
            return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("the sandbox did not start")


def seed_sandbox(url: str, people: int = PEOPLE, projects: int = PROJECTS, entries: int = ENTRIES,
                 days: int = DAYS) -> list[int]:
    emails = [f"person{n}@bench.test" for n in range(people)]
    admin = {"email": "admin@bench.test", "admin": True}
    spec = {"users": [{"email": "admin@bench.test", "api_token": TOKEN}],
            "workspaces": [{"id": WORKSPACE, "name": "Bench", "plan": "enterprise", "quota": 1_000_000,
                            "members": [admin] + [{"email": e} for e in emails]}],
            "projects": [{"workspace_id": WORKSPACE, "name": f"Project {n}"} for n in range(projects)]}
    created = httpx.post(f"{url}/_sandbox/seed", json=spec, timeout=60).json()
    httpx.post(f"{url}/_sandbox/limits", json={"rate_capacity": 1e9, "rate_per_second": 1e9}).raise_for_status()
    project_ids = [p["id"] for p in created["projects"]]
    httpx.post(f"{url}/_sandbox/time_entries/generate", timeout=300, json={
        "workspace_id": WORKSPACE, "count": entries, "emails": emails, "project_ids": project_ids,
        "start_date": (today() - timedelta(days=days)).isoformat(), "days": days}).raise_for_status()
    return project_ids


def seed_portal(session, project_ids: list[int], people: int = PEOPLE) -> int:
    ensure_defaults(session)
    stage = session.scalar(select(Stage).where(Stage.name == "In Progress"))
    client = Client(name="Bench client", normalized_name="bench client")
    people = [Resource(name=f"Person {n}", email=f"person{n}@bench.test") for n in range(people)]
    connection = Connection(kind="toggl", status=ConnectionStatus.CONNECTED, account_id=str(WORKSPACE),
                            credentials=json.dumps({"api_token": TOKEN}), settings={"premium": True},
                            external_user_id="1", validated_at=utcnow())
    session.add_all([client, connection, *people])
    session.flush()
    for n, toggl_project in enumerate(project_ids):
        project = Project(name=f"Project {n}", client=client, stage=stage, engagement_type_id=stage.engagement_type_id,
                          is_active=True)
        offering = Offering(project=project, name=f"Offering {n}", sale_status="sold")
        session.add(offering)
        session.flush()
        session.add(ProjectLink(connection_id=connection.id, offering_id=offering.id, external_id=str(toggl_project),
                                external_name=f"Project {n}", method="connected"))
        session.add_all(Assignment(offering_id=offering.id, resource_id=p.id) for p in people)
    session.commit()
    return connection.id


def requests_since(url: str, mark: int) -> int:
    return len(httpx.get(f"{url}/_sandbox/requests", params={"since": mark}).json())


def mark(url: str) -> int:
    entries = httpx.get(f"{url}/_sandbox/requests").json()
    return entries[-1]["n"] if entries else 0


def peak_rss_mb() -> float:
    """This process's peak resident size so far (Linux: VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> None:
    """Start the peak over from the current size (Linux: write 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def statement_times(engine, shown: int = 25):
    """BENCH_SQL: the wall time the statements a full sync sends take in all, by statement, the costliest first;
    the COPYs of its entries (sent by the driver's own cursor) timed around the call, until PostgreSQL has
    written the rows."""
    spent: dict[str, tuple[int, float]] = {}
    copy_rows = synced.copy_rows

    def timed_copy(connection, table, columns, rows):
        started = time.perf_counter()
        copy_rows(connection, table, columns, rows)
        count, seconds = spent.get(f"COPY {table}", (0, 0.0))
        spent[f"COPY {table}"] = (count + 1, seconds + time.perf_counter() - started)

    def before(conn, *_):
        conn.info["statement_started"] = time.perf_counter()

    def after(conn, _cursor, statement, *_):
        key = " ".join(statement.split())[:90]
        count, seconds = spent.get(key, (0, 0.0))
        spent[key] = (count + 1, seconds + time.perf_counter() - conn.info["statement_started"])

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    synced.copy_rows = timed_copy
    try:
        yield
    finally:
        synced.copy_rows = copy_rows
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    print(f"{sum(seconds for _, seconds in spent.values()):7.3f} s in all statements")
    for key, (count, seconds) in sorted(spent.items(), key=lambda item: -item[1][1])[:shown]:
        print(f"{seconds:7.3f} s {count:6d}  {key}")


SANDBOX_PID = 0  # the sandbox's process, for its CPU time
CPU: list[dict[str, float]] = []  # per run_sync: CPU seconds of the worker, the sandbox and PostgreSQL


def run_sync(session, connection_id: int, kind: str, url: str) -> tuple[float, int, dict[str, int], float]:
    """Start a run of `kind` and execute it as the job does; (seconds, requests, counts, peak memory growth MB)."""
    run, _ = time_runs.start(session, session.get(Connection, connection_id), kind)
    session.commit()
    before = mark(url)
    reset_peak_rss()
    memory = peak_rss_mb()
    backends = list(session.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))) \
        if session.get_bind().dialect.name == "postgresql" else []
    session.commit()
    cpu = (time.process_time(), cpu_seconds(SANDBOX_PID) if SANDBOX_PID else 0.0,
           sum(cpu_seconds(pid) for pid in backends if Path(f"/proc/{pid}").exists()))
    started = time.perf_counter()
    if os.environ.get("BENCH_SQL") and kind == "manual_org":
        with statement_times(session.get_bind()):
            sync.run_time_sync(session, run.id)
    elif os.environ.get("BENCH_PROFILE") and kind == "manual_org":
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.runcall(sync.run_time_sync, session, run.id)
        pstats.Stats(profile).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(45)
    else:
        sync.run_time_sync(session, run.id)
    seconds = time.perf_counter() - started
    CPU.append({"worker": time.process_time() - cpu[0],
                "sandbox": (cpu_seconds(SANDBOX_PID) if SANDBOX_PID else 0.0) - cpu[1],
                "postgres": sum(cpu_seconds(pid) for pid in backends if Path(f"/proc/{pid}").exists()) - cpu[2]})
    grown = peak_rss_mb() - memory
    session.expire_all()
    run = session.get(SyncRun, run.id)
    assert run.status == "succeeded", run.error
    return seconds, requests_since(url, before), dict(run.counts), grown


def forget_synced(session, connection_id: int, first_sync: bool = True) -> None:
    """The table as a first sync finds it: the synced rows gone (their timesheets stay), and with
    `first_sync` the connection's reading marks too, so the next full sync reads everything by date again
    (else it takes the nightly's compare path: measured on its own)."""
    session.execute(delete(TimeEntry).where(TimeEntry.connection_id == connection_id))
    if first_sync:
        connection = session.get(Connection, connection_id)
        connection.settings = {key: value for key, value in (connection.settings or {}).items()
                               if key not in (sync.HOURLY_MARK, sync.NIGHTLY_MARK)}
    session.commit()


def physical_limit(session, rows: list[dict], connection_id: int) -> float:
    """The same rows written the fastest way the database offers, into the table as the sync found it:
    PostgreSQL, one COPY into a staging table and one INSERT ... SELECT ... ON CONFLICT DO NOTHING; SQLite,
    one executemany INSERT ... ON CONFLICT DO NOTHING. One commit."""
    forget_synced(session, connection_id, first_sync=False)
    started = time.perf_counter()
    if session.get_bind().dialect.name == "postgresql":
        columns = ", ".join(COPY_COLUMNS)
        connection = session.connection()
        connection.exec_driver_sql(f"CREATE TEMP TABLE bench_staged ON COMMIT DROP AS SELECT {columns} "
                                   "FROM time_entries WITH NO DATA")
        with connection.connection.driver_connection.cursor() as cursor, \
                cursor.copy(f"COPY bench_staged ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in COPY_COLUMNS])
        connection.exec_driver_sql(
            f"INSERT INTO time_entries (connection_id, {columns}) SELECT {connection_id}, {columns} FROM bench_staged "
            "ON CONFLICT (connection_id, external_id) DO NOTHING")
    else:
        session.execute(sqlite.insert(TimeEntry.__table__).on_conflict_do_nothing(
            index_elements=["connection_id", "external_id"]), [{**r, "connection_id": connection_id} for r in rows])
    session.commit()
    return time.perf_counter() - started


def replay_pages() -> None:
    """BENCH_REPLAY: a report query's pages are read from the sandbox once, then given from memory."""
    read = TogglConnector.time_entry_pages
    kept: dict[tuple, list] = {}

    def pages(self, start, end, project_ids=None, *, newest_first=False):
        key = (start, end, tuple(project_ids or ()), newest_first)
        if key not in kept:
            kept[key] = list(read(self, start, end, project_ids, newest_first=newest_first))
        return iter(kept[key])

    TogglConnector.time_entry_pages = pages


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if os.environ.get("BENCH_REPLAY"):
        replay_pages()
    folder = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    if os.environ.get("BENCH_DATABASE_URL"):
        os.environ["TEST_DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    process, url = start_sandbox()
    global SANDBOX_PID
    SANDBOX_PID = process.pid
    try:
        # A fresh database each run (PostgreSQL: BENCH_DATABASE_URL's name + "_bench", dropped afterwards).
        only = os.environ.get("BENCH_ONLY")
        if only != "full":
            with fresh_database("_bench_nightly", folder / "nightly") as database:
                nightly = measure_reconcile(folder / "nightly", database, url)
            report_reconcile(nightly)
            if only == "reconcile":
                return
        httpx.post(f"{url}/_sandbox/reset").raise_for_status()
        with fresh_database("_bench", folder) as database:
            figures = measure(folder, database, url)
    finally:
        process.terminate()
        process.wait(timeout=10)
    report(database, figures)


RECONCILE_ENTRIES, RECONCILE_PROJECTS, RECONCILE_PEOPLE, RECONCILE_DAYS = 6_000, 20, 30, 62
EDITS, DELETIONS = 20, 5


def measure_reconcile(folder: Path, database: str, url: str) -> dict:
    """The nightly within the quota: a no-change nightly and one after scattered edits and deletions."""
    folder.mkdir(parents=True, exist_ok=True)
    app = create_app({"INSTANCE_PATH": str(folder), "SQLALCHEMY_DATABASE_URI": database, "REDIS_URL": None,
                      "REDIS_EMBEDDED_PATH": str(folder / "redis.db"), "TOGGL_API_BASE_URL": f"{url}/api/v9",
                      "TOGGL_REPORTS_BASE_URL": f"{url}/reports/api/v3",
                      "TOGGL_WEBHOOKS_BASE_URL": f"{url}/webhooks/api/v1", "TOGGL_APP_URL": url,
                      "TIME_SYNC_LOOKBACK_DAYS": RECONCILE_DAYS})
    with app.app_context():
        upgrade()
        session = db.session
        print(f"Seeding {RECONCILE_ENTRIES:,} entries over {RECONCILE_DAYS} days for the nightly reconcile…",
              flush=True)
        # The entries were last changed an hour ago (before the first nightly begins).
        httpx.post(f"{url}/_sandbox/clock", json={"advance": -3600}).raise_for_status()
        project_ids = seed_sandbox(url, people=RECONCILE_PEOPLE, projects=RECONCILE_PROJECTS,
                                   entries=RECONCILE_ENTRIES, days=RECONCILE_DAYS - 2)
        httpx.post(f"{url}/_sandbox/clock", json={"advance": 3600}).raise_for_status()
        connection_id = seed_portal(session, project_ids, people=RECONCILE_PEOPLE)
        jobs.settle()
        figures: dict = {"page_size": app.config["TOGGL_REPORT_PAGE_SIZE"]}
        figures["first"] = run_sync(session, connection_id, "nightly", url)
        figures["quiet"] = run_sync(session, connection_id, "nightly", url)
        entries = list(session.scalars(select(TimeEntry.external_id).where(TimeEntry.connection_id == connection_id)
                                       .order_by(TimeEntry.work_date, TimeEntry.id)))  # spread over the days
        step = len(entries) // (EDITS + DELETIONS)
        scattered = entries[step // 2::step][:EDITS + DELETIONS]
        edited, deleted = scattered[:EDITS], scattered[EDITS:]
        for n, external_id in enumerate(edited):
            change = {"duration": 4 * 3600 + n * 60} if n % 2 else {"description": f"Edited {n}"}
            httpx.post(f"{url}/_sandbox/time_entries/{external_id}", json={**change, "emit": False}).raise_for_status()
        for external_id in deleted:
            httpx.delete(f"{url}/_sandbox/time_entries/{external_id}", params={"emit": "false"}).raise_for_status()
        figures["changed_days"] = len({day for day in session.scalars(select(TimeEntry.work_date).where(
            TimeEntry.external_id.in_(scattered)))})
        figures["edited"] = run_sync(session, connection_id, "nightly", url)
        figures["missed"] = missed(session, connection_id, url)
        session.remove()
        db.engine.dispose()
    return figures


def missed(session, connection_id: int, url: str) -> list[str]:
    """Every difference between the portal's synced entries and the sandbox's live ones (none expected)."""
    session.expire_all()
    theirs = {str(e["id"]): e for e in httpx.get(f"{url}/_sandbox/state", timeout=60).json()["time_entries"]
              if not e["server_deleted_at"] and e["stop"]}
    ours = {e.external_id: e for e in session.scalars(
        select(TimeEntry).where(TimeEntry.connection_id == connection_id))}
    problems = [f"{i}: not in the portal" for i in theirs.keys() - ours.keys()]
    problems += [f"{i}: deleted in Toggl, still in the portal" for i in ours.keys() - theirs.keys()]
    for external_id in theirs.keys() & ours.keys():
        entry, toggl = ours[external_id], theirs[external_id]
        if entry.hours != (Decimal(toggl["duration"]) / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) \
                or entry.description != (toggl["description"] or ""):
            problems.append(f"{external_id}: differs")
    return problems


def report_reconcile(figures: dict) -> None:
    page_size = figures["page_size"]
    _, first_requests, first, _ = figures["first"]
    quiet_seconds, quiet_requests, _, _ = figures["quiet"]
    edited_seconds, edited_requests, edited, _ = figures["edited"]
    print(f"\nNightly reconcile, {RECONCILE_ENTRIES:,} entries over {RECONCILE_DAYS} days, "
          f"report pages of {page_size}:")
    print(f"First nightly (reads everything once): {first_requests} requests, {first.get('new', 0):,} new")
    print(f"No-change nightly:      {quiet_seconds:8.2f} s, {quiet_requests} requests (target ≤ 24)")
    print(f"After {EDITS} edits and {DELETIONS} deletions: {edited_seconds:8.2f} s, {edited_requests} requests "
          f"(target ≤ 24 + pages of the {figures['changed_days']} changed days), {edited.get('updated', 0)} updated, "
          f"{edited.get('deleted', 0)} deleted")
    missed = figures["missed"]
    print(f"  nothing missed: {'yes' if not missed else 'NO: ' + '; '.join(missed[:10])}")


def measure(folder: Path, database: str, url: str) -> dict:
    app = create_app({"INSTANCE_PATH": str(folder), "SQLALCHEMY_DATABASE_URI": database, "REDIS_URL": None,
                      "REDIS_EMBEDDED_PATH": str(folder / "redis.db"), "TOGGL_API_BASE_URL": f"{url}/api/v9",
                      "TOGGL_REPORTS_BASE_URL": f"{url}/reports/api/v3",
                      "TOGGL_WEBHOOKS_BASE_URL": f"{url}/webhooks/api/v1", "TOGGL_APP_URL": url,
                      "TIME_SYNC_LOOKBACK_DAYS": DAYS + 2})
    with app.app_context():
        upgrade()
        session = db.session
        print(f"Seeding the sandbox with {ENTRIES:,} entries of {PEOPLE} people on {PROJECTS} projects…", flush=True)
        # Last changed an hour before the syncs begin, as in the nightly's measurement above.
        httpx.post(f"{url}/_sandbox/clock", json={"advance": -3600}).raise_for_status()
        project_ids = seed_sandbox(url)
        httpx.post(f"{url}/_sandbox/clock", json={"advance": 3600}).raise_for_status()
        connection_id = seed_portal(session, project_ids)
        jobs.settle()  # as the worker process is before its first job
        figures: dict = {"page_size": app.config["TOGGL_REPORT_PAGE_SIZE"]}
        figures["full"] = [run_sync(session, connection_id, "manual_org", url)]
        figures["cpu"] = [CPU[-1]]
        figures["imported"] = session.scalar(select(func.count()).select_from(TimeEntry))
        rows = [dict(zip(COPY_COLUMNS, row, strict=True)) for row in session.execute(
            select(*[getattr(TimeEntry, c) for c in COPY_COLUMNS]).where(TimeEntry.connection_id == connection_id))]
        figures["limits"] = [physical_limit(session, rows, connection_id)]
        for _ in range(ROUNDS - 1):  # interleaved: the machine's load hits both alike
            forget_synced(session, connection_id)
            figures["full"].append(run_sync(session, connection_id, "manual_org", url))
            figures["cpu"].append(CPU[-1])
            figures["limits"].append(physical_limit(session, rows, connection_id))
        if os.environ.get("BENCH_ONLY") == "full":
            return figures
        figures["quiet"] = run_sync(session, connection_id, "manual_org", url)
        # The nightly's compare path at full size: every entry lost on the portal's side, so every day differs
        # from Toggl's totals and is read again.
        forget_synced(session, connection_id, first_sync=False)
        figures["compared"] = run_sync(session, connection_id, "nightly", url)
        # Changes the hourly sync can see: entries of its recent days (older ones are the nightly's).
        recent = sorted(rows, key=lambda r: r["work_date"], reverse=True)
        for row in recent[:CHANGES]:
            httpx.post(f"{url}/_sandbox/time_entries/{row['external_id']}", json={"description": "Changed",
                                                                                 "emit": False})
        figures["hourly"] = run_sync(session, connection_id, "hourly", url)
        session.remove()
        db.engine.dispose()
    return figures


def report(database: str, figures: dict) -> None:
    page_size = figures["page_size"]
    fulls, limits = figures["full"], figures["limits"]
    full_seconds = statistics.median(f[0] for f in fulls)
    full_requests = fulls[0][1]
    limit_seconds = statistics.median(limits)
    print(f"\nDatabase: {database.split(':')[0]}; {figures['imported']:,} entries imported of {ENTRIES:,}.")
    print(f"Full sync:              {full_seconds:8.2f} s (median of {len(fulls)}: "
          f"{', '.join(f'{f[0]:.2f}' for f in fulls)}), {full_requests} requests "
          f"({-(-ENTRIES // page_size)} report pages of {page_size})")
    print(f"Physical limit:         {limit_seconds:8.2f} s (median of {len(limits)}: "
          f"{', '.join(f'{s:.2f}' for s in limits)}; COPY into staging + one INSERT … SELECT … ON CONFLICT)")
    print(f"  ratio full sync ÷ physical limit: {full_seconds / limit_seconds:.2f}   (target ≤ 2.0)")
    for number, ((seconds, *_), cpu) in enumerate(zip(fulls, figures["cpu"], strict=True), start=1):
        print(f"  full sync {number}: {seconds:.2f} s wall; CPU seconds: worker {cpu['worker']:.2f}, sandbox "
              f"{cpu['sandbox']:.2f}, PostgreSQL {cpu['postgres']:.2f} (together {sum(cpu.values()):.2f} on "
              f"{os.cpu_count()} cores)")
    print(f"Worker memory:          peak +{max(f[3] for f in fulls):.1f} MB during a full sync of {ENTRIES:,} entries "
          f"(each: {', '.join(f'+{f[3]:.1f}' for f in fulls)} MB)")
    if "compared" not in figures:  # BENCH_ONLY=full
        return
    quiet_seconds, quiet_requests, quiet, _ = figures["quiet"]
    hourly_seconds, hourly_requests, hourly, _ = figures["hourly"]
    compared_seconds, compared_requests, compared, compared_memory = figures["compared"]
    print(f"Nightly, every day differing (its compare path): {compared_seconds:.2f} s, {compared_requests} requests, "
          f"{compared.get('new', 0):,} new, worker peak memory +{compared_memory:.1f} MB")
    print(f"No-change re-sync:      {quiet_seconds:8.2f} s, {quiet_requests} requests, "
          f"{quiet.get('new', 0)} new, {quiet.get('unchanged', 0):,} unchanged")
    print(f"Hourly after {CHANGES} changes: {hourly_seconds:8.2f} s, {hourly_requests} requests "
          f"(target ≤ 1 + {-(-CHANGES // page_size)} page(s) of changes), {hourly.get('updated', 0)} updated")


if __name__ == "__main__":
    main()
