"""A portal's data at a chosen size, bulk-loaded by COPY into an empty, migrated PostgreSQL database.

The shape follows a consultancy of a few hundred to a few thousand people after a few years. At 1,000,000
time entries: 5,000 people (each with a login) on 10,000 projects of 1,000 clients, two offerings and three
tasks per project, every person on four offerings; 40 weeks of timesheets per person (200,000: the last
week a draft, the one before it submitted, older ones approved and posted), five entries each; 380,000
actual transactions; 1,000,000 audit events; 10,000 sync runs with 100,000 sync messages; Toggl people
(one in a hundred unmatched, with time waiting) and bookings ahead. Smaller sizes scale every count by
entries ÷ 1,000,000, so per-person and per-project figures (a week, a project's tabs, a PM's twenty
projects) are the same at every size: a page that shows one of them should cost the same too. Where a page
lists a page of rows of something that scales (unmatched people, Procore's linked projects and failures), every
size holds at least that page's worth, so the page shows as many rows at 10k as at 1M.

Ids are explicit and dense (the n-th person is resource n + 1 at every size), so one URL names the same
kind of record in every database. `load(url, entries)` returns the `Shape` it loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import psycopg

WEEKS = 40  # of timesheets per person
ENTRIES_PER_SHEET = 5
ASSIGNMENTS_PER_PERSON = 4
OFFERINGS_PER_PROJECT = 2
TASKS_PER_PROJECT = 3
PROJECTS_PER_PM = 20
PROJECTS_PER_CLIENT = 10
MESSAGES_PER_RUN = 10
TOGGL, PROCORE = 1, 2  # connection ids
ADMIN, APPROVER = 1, 2  # user ids; PMs follow, then one login per person
CATEGORY = 1  # the cost category every posting uses


@dataclass(frozen=True)
class Shape:
    entries: int

    @property
    def scale(self) -> float:
        return self.entries / 1_000_000

    def _n(self, at_million: int, least: int = 1) -> int:
        return max(least, round(at_million * self.scale))

    @property
    def people(self) -> int:
        return self._n(5_000, 8)

    @property
    def projects(self) -> int:
        return self._n(10_000, 2 * PROJECTS_PER_PM)

    @property
    def clients(self) -> int:
        return max(1, self.projects // PROJECTS_PER_CLIENT)

    @property
    def pms(self) -> int:
        return max(1, self.projects // PROJECTS_PER_PM)

    @property
    def timesheets(self) -> int:
        return self.people * WEEKS

    @property
    def audit_events(self) -> int:
        return self._n(1_000_000)

    @property
    def sync_runs(self) -> int:
        return self._n(10_000, 5)

    @property
    def unmatched(self) -> int:
        """One in a hundred people at 1M, and a page's worth (the sync log lists 50) at every size."""
        return max(50, self.people // 100)

    # Ids of the records the pages bench opens: the same at every size.
    def person_user(self, person: int) -> int:
        return 3 + self.pms + person

    def pm_user(self, pm: int) -> int:
        return 3 + pm

    def timesheet(self, person: int, week: int) -> int:
        return person * WEEKS + week + 1


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _weeks(today: date) -> list[date]:
    """The 40 Mondays ending with this week's."""
    this = monday(today)
    return [this - timedelta(days=7 * (WEEKS - 1 - w)) for w in range(WEEKS)]


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def _copy(cursor: psycopg.Cursor, table: str, columns: str, rows: Iterable[tuple]) -> int:
    count = 0
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def load(url: str, entries: int, today: date | None = None, progress=print) -> Shape:
    """COPY a dataset of about `entries` time entries into the migrated, empty database at `url`
    (a libpq URL). The database's defaults (settings row, stages) must exist already."""
    shape = Shape(entries)
    today = today or date.today()
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        stages = dict(cursor.execute("SELECT name, id FROM stages").fetchall())
        engagement_type = cursor.execute("SELECT id FROM engagement_types WHERE is_default").fetchone()[0]
        cursor.execute("UPDATE org_settings SET finance_sync_enabled = true, week_start = 0, "
                       "default_cost_category_id = NULL")
        for name, rows in _tables(shape, today, stages, engagement_type):
            table, columns = name.split(" ", 1)
            count = _copy(cursor, table, columns.strip("()"), rows)
            progress(f"  {table}: {count:,}")
        cursor.execute(f"UPDATE org_settings SET default_cost_category_id = {CATEGORY}")
        for (table,) in cursor.execute(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND column_name = 'id' AND column_default LIKE 'nextval%'").fetchall():
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
        connection.commit()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")  # visibility map and statistics, as a live database has them
    return shape


def _tables(shape: Shape, today: date, stages: dict[str, int], engagement_type: int) -> Iterator[tuple[str, Iterable]]:
    weeks = _weeks(today)
    now = _at(today)
    people, projects, pms = shape.people, shape.projects, shape.pms
    in_progress, closed = stages["In Progress"], stages["Closed"]
    first_person_user = shape.person_user(0)

    yield "cost_categories (id, name, code, active)", [(CATEGORY, "Professional services", "PS", True)]
    months = sorted({d.replace(day=1) for w in weeks for d in (w, w + timedelta(days=6))})
    months += [(months[-1] + timedelta(days=32 * k)).replace(day=1) for k in (1, 2, 3, 4, 5, 6)]
    months = sorted(set(months))

    def month_end(first: date) -> date:
        return (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)

    period_of = {m: i + 1 for i, m in enumerate(months)}
    yield "fiscal_periods (id, name, start_date, end_date, state)", [
        (period_of[m], m.strftime("%Y-%m"), m, month_end(m), "closed" if m < months[2] else "open") for m in months]

    def users() -> Iterator[tuple]:
        yield ADMIN, "admin@bench.test", "Admin", "-", "admin", True, False
        yield APPROVER, "approver@bench.test", "Approver", "-", "approver", True, False
        for pm in range(pms):
            yield shape.pm_user(pm), f"pm{pm}@bench.test", f"PM {pm:05d}", "-", "pm", True, False
        for p in range(people):
            yield first_person_user + p, f"person{p}@bench.test", f"Person {p:05d}", "-", "staff", True, False
    yield "users (id, email, name, password_hash, role, active, notify_stage_moves)", users()
    yield "user_permissions (user_id, permission)", [
        (ADMIN, p) for p in ("system_settings", "maintain_projects", "create_projects")]

    yield "clients (id, name, normalized_name, crm_id)", (
        (c + 1, f"Client {c:05d}", f"client {c:05d}", f"crm-{c}") for c in range(shape.clients))

    def pm_of(project: int) -> int:
        """PMs manage twenty neighbouring projects each (so their people and weeks mix as at every size)."""
        return project // PROJECTS_PER_PM % pms

    def project_rows() -> Iterator[tuple]:
        for n in range(projects):
            stage = closed if n % 10 == 9 else in_progress
            yield (n + 1, f"P-{n:05d}", f"Project {n:05d}", n % shape.clients + 1, engagement_type, stage, True,
                   shape.pm_user(pm_of(n)), weeks[0], weeks[-1] + timedelta(days=180), "")
    yield ("projects (id, code, name, client_id, engagement_type_id, stage_id, is_active, pm_id, start_date, "
           "end_date, description)"), project_rows()
    yield "project_managers (project_id, user_id)", (
        (n + 1, shape.pm_user((pm_of(n) + 1) % pms)) for n in range(projects) if pms > 1)
    yield "deals (id, name, client_id, project_id, stage, amount)", (
        (n + 1, f"Deal {n:05d}", n % shape.clients + 1, n + 1, "closed_won", 50_000) for n in range(projects))

    def offering_id(project: int, k: int) -> int:
        return project * OFFERINGS_PER_PROJECT + k + 1

    yield ("offerings (id, project_id, name, billing_model, sold_hours, planned_hours, budget_amount, sale_status, "
           "archived)"), (
        (offering_id(n, k), n + 1, ("Build", "Support")[k], "time_and_materials", 400, 400, 60_000, "sold", False)
        for n in range(projects) for k in range(OFFERINGS_PER_PROJECT))
    yield "project_tasks (id, project_id, name, planned_hours, active)", (
        (n * TASKS_PER_PROJECT + t + 1, n + 1, ("Design", "Delivery", "Review")[t], 40, True)
        for n in range(projects) for t in range(TASKS_PER_PROJECT))

    yield "resources (id, name, email, title, user_id, active)", (
        (p + 1, f"Person {p:05d}", f"person{p}@bench.test", "Consultant", first_person_user + p, True)
        for p in range(people))
    yield "resource_rates (resource_id, rate_type, amount, effective_from)", (
        (p + 1, kind, amount + p % 40, weeks[0] - timedelta(days=365))
        for p in range(people) for kind, amount in (("cost", 60), ("sell", 140)))

    def assignment(p: int, k: int) -> tuple[int, int]:
        """(project index, offering id) of a person's k-th assignment: every project gets two people."""
        project = (p * ASSIGNMENTS_PER_PERSON + k) % projects
        return project, offering_id(project, k % OFFERINGS_PER_PROJECT)

    yield "assignments (offering_id, resource_id, role, bill_rate, planned_hours, passive)", (
        (assignment(p, k)[1], p + 1, "Consultant", 150, 100, False)
        for p in range(people) for k in range(ASSIGNMENTS_PER_PERSON))

    def status_of(week: int) -> str:
        return "draft" if week == WEEKS - 1 else "submitted" if week == WEEKS - 2 else "approved"

    def timesheets() -> Iterator[tuple]:
        for p in range(people):
            for w, start in enumerate(weeks):
                status = status_of(w)
                submitted = _at(start + timedelta(days=5)) if status != "draft" else None
                decided = _at(start + timedelta(days=8)) if status == "approved" else None
                yield (shape.timesheet(p, w), p + 1, start, start + timedelta(days=6), status, submitted, decided,
                       APPROVER if decided else None, "", 3 if decided else 2 if submitted else 1,
                       "posted" if decided else "none", decided, "")
    yield ("timesheets (id, resource_id, period_start, period_end, status, submitted_at, decided_at, decided_by_id, "
           "reason, version, posting_status, posted_at, posting_note)"), timesheets()

    def sheet_projects(p: int, w: int) -> list[tuple[int, int]]:
        """The two assignments a week's five entries go to: three on the first, two on the second."""
        return [assignment(p, (w + half) % ASSIGNMENTS_PER_PERSON) for half in (0, 1)]

    def entries() -> Iterator[tuple]:
        ident = 0
        for p in range(people):
            for w, start in enumerate(weeks):
                sheet = shape.timesheet(p, w)
                pair = sheet_projects(p, w)
                for j in range(ENTRIES_PER_SHEET):
                    project, offering = pair[0 if j < 3 else 1]
                    ident += 1
                    task = project * TASKS_PER_PROJECT + j % TASKS_PER_PROJECT + 1
                    yield (ident, p + 1, project + 1, offering, start + timedelta(days=j), 8, True,
                           f"Work {ident}", "native", sheet, first_person_user + p, task, 150)
    yield ("time_entries (id, resource_id, project_id, offering_id, work_date, hours, billable, description, source, "
           "timesheet_id, created_by_id, task_id, bill_rate)"), entries()

    def item_id(p: int, k: int) -> int:
        return p * ASSIGNMENTS_PER_PERSON + k + 1

    yield "financial_items (id, project_id, resource_id, cost_category_id, name)", (
        (item_id(p, k), assignment(p, k)[0] + 1, p + 1, CATEGORY, f"Person {p:05d}")
        for p in range(people) for k in range(ASSIGNMENTS_PER_PERSON))

    def transactions() -> Iterator[tuple]:
        ident = 0
        for p in range(people):
            for w, start in enumerate(weeks):
                if status_of(w) != "approved":
                    continue
                sheet = shape.timesheet(p, w)
                for half, (project, offering) in enumerate(sheet_projects(p, w)):
                    ident += 1
                    hours = 24 if half == 0 else 16
                    k = (w + half) % ASSIGNMENTS_PER_PERSON
                    yield (ident, item_id(p, k), "actual", start + timedelta(days=6), hours, hours * 60,
                           period_of[start.replace(day=1)], sheet, f"timesheet:{sheet}:{project + 1}:{start}", "",
                           _at(start + timedelta(days=8)), offering)

    rows = list(transactions())
    yield ("financial_transactions (id, item_id, kind, date, hours, amount, fiscal_period_id, timesheet_id, "
           "posting_key, split_note, created_at, rate_type)"), ((*r[:-1], "cost") for r in rows)
    yield "financial_transaction_lines (transaction_id, offering_id, hours, amount)", (
        (r[0], r[-1], r[4], r[5]) for r in rows)
    del rows

    ahead = [monday(today) + timedelta(days=7 * k) for k in range(1, 5)]
    yield "bookings (project_id, offering_id, resource_id, mode, \"on\", hours)", (
        (assignment(p, k)[0] + 1, assignment(p, k)[1], p + 1, "week", day, 10)
        for p in range(people) for k in range(2) for day in ahead)
    yield ("expenses (project_id, resource_id, cost_category_id, spent_on, amount, description, billable, "
           "created_by_id)"), (
        (assignment(p, 0)[0] + 1, p + 1, CATEGORY, weeks[w], 120, "Travel", True, first_person_user + p)
        for p in range(people) for w in range(0, WEEKS, 10))

    # Timesheet tools: Toggl (time sync) and Procore, their links, people, runs and messages.
    yield ("connections (id, kind, status, account_id, account_name, external_user_id, settings, last_error, "
           "validated_at)"), [
        (TOGGL, "toggl", "connected", "7435584", "Bench workspace", "1", "{}", "", now),
        (PROCORE, "procore", "connected", "5001", "Bench Builders", "1",
         json.dumps({"directions": "two_way", "projects": []}), "", now)]
    linked = range(0, projects, 2)
    yield "project_links (connection_id, offering_id, external_id, external_name, external_url, method, created_at)", (
        (TOGGL, offering_id(n, 0), str(900_000 + n), f"Project {n:05d}", "", "connected", now) for n in linked)
    # Procore: every twentieth project, and sixty more on projects after PM 0's (whose pages are measured), so
    # the settings page lists a full page of linked projects at every size, as it does the failures below.
    procore_linked = sorted({*range(0, projects, PROJECTS_PER_PM),
                             *range(PROJECTS_PER_PM, min(projects, PROJECTS_PER_PM + 60))})
    yield "project_links (connection_id, offering_id, external_id, external_name, external_url, method, created_at)", (
        (PROCORE, offering_id(n, 1), str(500_000 + n), f"Job {n:05d}", "", "connected", now) for n in procore_linked)

    def person_links() -> Iterator[tuple]:
        for p in range(people):
            yield p + 1, TOGGL, p + 1, str(100_000 + p), f"person{p}@bench.test", f"Person {p:05d}", "auto_mapped"
        for u in range(shape.unmatched):
            yield (people + u + 1, TOGGL, None, str(800_000 + u), f"contractor{u}@elsewhere.test",
                   f"Contractor {u:04d}", None)
    yield ("person_links (id, connection_id, resource_id, external_id, external_email, external_name, method, "
           "created_at, updated_at)"), ((*row, now, now) for row in person_links())
    toggl_link_ids = list(range(1, len(linked) + 1))
    yield ("waiting_time_entries (connection_id, person_link_id, project_link_id, external_id, external_project_id, "
           "work_date, seconds, billable, description, created_at)"), (
        (TOGGL, people + u + 1, toggl_link_ids[(u * 10 + k) % len(toggl_link_ids)], str(70_000_000 + u * 10 + k),
         str(900_000), weeks[-2] + timedelta(days=k % 5), 3600, True, "Contract work", now)
        for u in range(shape.unmatched) for k in range(10))

    run_days = (weeks[-1] + timedelta(days=6) - weeks[0]).days

    def runs() -> Iterator[tuple]:
        for r in range(shape.sync_runs):
            toggl = r % 10 < 7
            at = _at(weeks[0] + timedelta(days=run_days * r // shape.sync_runs), 2 + r % 20)
            counts = json.dumps({"new": 8, "updated": 1, "unchanged": 1} if toggl else {"processed": 10})
            yield (r + 1, TOGGL if toggl else PROCORE, "hourly" if toggl else "procore_catch_up",
                   "toggl:org" if toggl else "procore:catch_up", "succeeded", 10, 10, "", counts, "{}", "{}",
                   "portal.jobs.sync_time" if toggl else "portal.jobs.procore_catch_up", "sync", "", at, at,
                   at + timedelta(seconds=40), 1)
    yield ("sync_runs (id, connection_id, kind, scope, status, progress_done, progress_total, status_text, counts, "
           "checkpoint, params, job, queue, error, created_at, started_at, finished_at, attempts)"), runs()

    def messages() -> Iterator[tuple]:
        ident = 0
        for r in range(shape.sync_runs):
            toggl = r % 10 < 7
            at = _at(weeks[0] + timedelta(days=run_days * r // shape.sync_runs), 2 + r % 20)
            for _ in range(MESSAGES_PER_RUN):
                ident += 1
                # One in a hundred failed, and every message of the last 20 runs: the activity pages list a full
                # page of failures at both sizes (the same rows shown, a hundred times the rows behind them).
                failed = ident % 100 == 0 or r >= shape.sync_runs - 20
                yield (ident, TOGGL if toggl else PROCORE, r + 1, "inbound", "time_entry" if toggl else "timecard",
                       str(10_000_000 + ident), "update", "failed" if failed else "processed",
                       "The person is not on the offering's team." if failed else "", 1, at, at)
    yield ("sync_messages (id, connection_id, run_id, direction, entity, external_id, action, status, reason, "
           "attempts, created_at, processed_at)"), messages()

    actions = ["time_entry.created", "time_entry.updated", "timesheet.submitted", "timesheet.approved",
               "project.updated", "assignment.added", "resource.rate_set", "finance.posted"]
    subjects = ["time_entries", "time_entries", "timesheets", "timesheets", "projects", "assignments", "resources",
                "timesheets"]
    span = (weeks[-1] - weeks[0]).days * 86_400

    def audit() -> Iterator[tuple]:
        total = shape.audit_events
        for e in range(total):
            kind = e % len(actions)
            at = _at(weeks[0]) + timedelta(seconds=span * e // total)
            person = e % people
            yield (at, first_person_user + person, f"Person {person:05d}", actions[kind], subjects[kind],
                   e % 100_000 + 1, f"{actions[kind]} #{e}", None, '{"hours": "8"}')
    yield "audit_events (at, actor_id, actor_label, action, subject_type, subject_id, summary, before, after)", \
        audit()
