"""Benchmark: posting approved timesheets to finance, and the approvals page's cost per request.

    .venv/bin/python bench/posting.py                      # SQLite in a temporary folder
    BENCH_DATABASE_URL=postgresql://... .venv/bin/python bench/posting.py   # an empty PostgreSQL database

Approves 1,000 timesheets (5 entries each; 10 % in weeks crossing a month end, on one project, so most of
those are split into a transaction per fiscal period) 50 at a time as the approvals page's bulk approve does
(one commit per 50), posts them the way the posting job does (one timesheet per transaction), and inserts the
very same ledger rows raw (Core executemany, also one commit per timesheet), interleaved by chunks of 50
timesheets; prints (approving + posting) ÷ raw insert (target ≤ 5),
posting alone ÷ raw insert, the SQL statements per approval and per posting, and for scale the ratio to a
single bulk insert of everything. Then it counts the SQL statements of one approvals page request with 10
and with 1,000 pending timesheets (must be equal). Ratios are measured in the same run, so the machine's
speed cancels out.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import delete, event, func, insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app  # noqa: E402
from portal.auth.models import User  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.finance.models import (  # noqa: E402
    CostCategory,
    FinancialItem,
    FinancialTransaction,
    FinancialTransactionLine,
    FiscalPeriod,
)
from portal.finance.posting import post_timesheet  # noqa: E402
from portal.org.services import ensure_defaults, get_settings  # noqa: E402
from portal.projects.models import Client, Offering, Project, Resource, ResourceRate  # noqa: E402
from portal.stages.models import Stage  # noqa: E402
from portal.timesheets import workflow  # noqa: E402
from portal.timesheets.models import TimeEntry, Timesheet  # noqa: E402

TIMESHEETS, ENTRIES, PEOPLE, PROJECTS = 1000, 5, 50, 20
CHUNK = 50
ACTOR = "benchmark"


def _weeks() -> list[date]:
    """20 Mondays of 2026: 18 inside a month, 2 crossing a month end (10 % of the timesheets)."""
    inside, crossing = [], []
    day = date(2026, 1, 5)
    while len(inside) < 18 or len(crossing) < 2:
        (crossing if (day + timedelta(days=6)).month != day.month else inside).append(day)
        day += timedelta(days=7)
    return sorted(inside[:18] + crossing[:2])


def seed(session) -> tuple[list[int], int]:
    settings = get_settings(session)
    category = CostCategory(name="Professional services")
    session.add(category)
    session.flush()
    settings.finance_sync_enabled, settings.default_cost_category_id = True, category.id
    for month in range(1, 13):
        start = date(2026, month, 1)
        session.add(FiscalPeriod(name=f"2026-{month:02d}", start_date=start,
                                 end_date=date(2026 + month // 12, month % 12 + 1, 1) - timedelta(days=1)))
    stage = session.scalar(select(Stage).where(Stage.name == "In Progress"))
    client = Client(name="Client", normalized_name="client")
    projects = [Project(name=f"Project {i}", client=client, stage=stage, engagement_type_id=stage.engagement_type_id)
                for i in range(PROJECTS)]
    offerings = [Offering(project=p, name="Build") for p in projects]
    people = [Resource(name=f"Person {i}", email=f"person{i}@bench.test") for i in range(PEOPLE)]
    session.add_all([*offerings, *people])
    session.flush()
    session.add_all(ResourceRate(resource_id=p.id, rate_type="cost", amount=Decimal(40 + i % 30),
                                 effective_from=date(2025, 1, 1)) for i, p in enumerate(people))
    approver = User(email="approver@bench.test", name="Approver", role="approver", password_hash="-")
    session.add(approver)
    sheets = []
    for index, (week, person) in enumerate((w, p) for w in _weeks() for p in people):
        sheet = Timesheet(resource_id=person.id, period_start=week, period_end=week + timedelta(days=6),
                          status="submitted")
        session.add(sheet)
        sheets.append(sheet)
        crossing = (week + timedelta(days=6)).month != week.month
        for entry in range(ENTRIES):
            # Five days in a row from a day that moves with the timesheet (Sat/Sun too, so both sides of a
            # boundary get hours), one project a day; in a week crossing a month end the week is on one
            # project, whose time then falls into two fiscal periods: split into a transaction for each.
            day = week + timedelta(days=(entry + index) % 7)
            offering = offerings[(index + (0 if crossing else entry)) % PROJECTS]
            session.add(TimeEntry(resource_id=person.id, project=offering.project, offering=offering, work_date=day,
                                  hours=Decimal("1.5") + entry, timesheet=sheet))
    session.commit()
    assert len(sheets) == TIMESHEETS
    return [s.id for s in sheets], approver.id


def count_queries(app, user_id: int) -> int:
    client = app.test_client()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = db.session.get(User, user_id).get_id()  # "<id>.<session epoch>"
        flask_session["_fresh"] = True
    statements = []

    def count(*_):
        statements.append(1)

    client.get("/approvals")  # warm: what the first request of a process reads once
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get("/approvals")
        assert response.status_code == 200, response.status_code
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def ledger_rows(session, timesheet_ids: list[int]) -> tuple[list[dict], list[dict]]:
    """The transactions of these timesheets and their lines, as plain rows to insert again."""
    txns = list(session.scalars(select(FinancialTransaction)
                                .where(FinancialTransaction.timesheet_id.in_(timesheet_ids))))
    return ([_row(t) for t in txns], [_row(line) for t in txns for line in t.lines])


def _row(record) -> dict:
    """Every column of a ledger row, as insert() takes it."""
    return {column.key: getattr(record, column.key) for column in type(record).__table__.columns}


def delete_rows(session, txns: list[dict]) -> None:
    ids = [t["id"] for t in txns]
    session.execute(delete(FinancialTransactionLine).where(FinancialTransactionLine.transaction_id.in_(ids)))
    session.execute(delete(FinancialTransaction).where(FinancialTransaction.id.in_(ids)))
    session.commit()


class Statements:
    def __init__(self):
        self.count = 0

    def __call__(self, *_):
        self.count += 1


def measure_posting(session, ids: list[int], approver: User) -> dict:
    """Approving, posting and raw-insert times of the same rows, interleaved in chunks so that a busy machine
    slows all alike: approve a chunk (one bulk decision, one commit), post it (one commit per timesheet, as
    the job), take its rows out again, and insert them raw (executemany, one commit per timesheet)."""
    approving = posting = raw = 0.0
    transactions = split = 0
    statements = Statements()
    counted = {"approve": 0, "post": 0}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        first = start == 0
        if first:
            event.listen(db.engine, "before_cursor_execute", statements)
        began = time.perf_counter()
        versions = dict(session.execute(select(Timesheet.id, Timesheet.version).where(Timesheet.id.in_(chunk))).all())
        result = workflow.decide_many(session, approver, "approve", list(versions.items()))
        assert not result.refused, result.refused
        session.commit()
        approving += time.perf_counter() - began
        if first:
            counted["approve"], statements.count = statements.count, 0
        began = time.perf_counter()
        for timesheet_id in chunk:
            post_timesheet(session, timesheet_id)
            session.commit()
        posting += time.perf_counter() - began
        if first:
            counted["post"] = statements.count
            event.remove(db.engine, "before_cursor_execute", statements)
        txns, lines = ledger_rows(session, chunk)
        transactions += len(txns)
        split += len({t["timesheet_id"] for t in txns if t["split_note"]})
        delete_rows(session, txns)
        by_sheet: dict[int, tuple[list, list]] = {i: ([], []) for i in chunk}
        sheet_of = {t["id"]: t["timesheet_id"] for t in txns}
        for t in txns:
            by_sheet[t["timesheet_id"]][0].append(t)
        for line in lines:
            by_sheet[sheet_of[line["transaction_id"]]][1].append(line)
        began = time.perf_counter()
        for sheet_txns, sheet_lines in by_sheet.values():
            if sheet_txns:
                session.execute(insert(FinancialTransaction), sheet_txns)
                session.execute(insert(FinancialTransactionLine), sheet_lines)
            session.commit()
        raw += time.perf_counter() - began
    return {"approving": approving, "posting": posting, "raw": raw, "transactions": transactions, "split": split,
            "per_approval": counted["approve"] / CHUNK, "per_posting": counted["post"] / CHUNK}


def measure_bulk(session, ids: list[int]) -> float:
    txns, lines = ledger_rows(session, ids)
    delete_rows(session, txns)
    began = time.perf_counter()
    session.execute(insert(FinancialTransaction), txns)
    session.execute(insert(FinancialTransactionLine), lines)
    session.commit()
    return time.perf_counter() - began


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder}/bench.db"
        app = create_app({"INSTANCE_PATH": folder, "SQLALCHEMY_DATABASE_URI": url.replace(
            "postgresql://", "postgresql+psycopg://", 1), "SECRET_KEY": "bench", "REDIS_URL": None,
            "REDIS_EMBEDDED_PATH": f"{folder}/redis.db", "WTF_CSRF_ENABLED": False})
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            ensure_defaults(db.session)
            session = db.session
            ids, approver_id = seed(session)
            # The approvals page with 10 pending: the others wait as drafts for now.
            session.execute(update(Timesheet).where(Timesheet.id.in_(ids[10:])).values(status="draft"))
            session.commit()
            queries_10 = count_queries(app, approver_id)
            session.execute(update(Timesheet).values(status="submitted"))
            session.commit()
            queries_1000 = count_queries(app, approver_id)

            approver = session.get(User, approver_id)
            figures = measure_posting(session, ids, approver)
            raw_bulk = measure_bulk(session, ids)
            items = session.scalar(select(func.count()).select_from(FinancialItem))

        dialect = url.split(":", 1)[0]
        approving, posting, raw = figures["approving"], figures["posting"], figures["raw"]
        print(f"database: {dialect}")
        print(f"timesheets approved and posted: {len(ids)} ({figures['split']} split across fiscal periods), "
              f"{figures['transactions']} transactions, {items} items")
        print(f"SQL statements per approval: {figures['per_approval']:.1f}; per posting: {figures['per_posting']:.1f}")
        ratio = (approving + posting) / raw
        print(f"(approving + posting) ÷ raw insert (per timesheet): {ratio:.2f}  "
              f"(target ≤ 5: {'met' if ratio <= 5 else 'MISSED'})")
        print(f"approving ÷ raw insert: {approving / raw:.2f}; posting ÷ raw insert: {posting / raw:.2f}")
        print(f"posting ÷ raw bulk insert: {posting / raw_bulk:.1f}")
        print(f"approvals page queries per request: {queries_10} with 10 pending, {queries_1000} with 1,000 pending "
              f"({'equal' if queries_10 == queries_1000 else 'NOT EQUAL'})")
        return 0 if queries_10 == queries_1000 else 1


if __name__ == "__main__":
    sys.exit(main())
