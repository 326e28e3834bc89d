"""Bringing a slice of the ledger to the state it should have, without touching locked fiscal periods.

Posting actuals and refreshing forecasts both work the same way: compute the transactions a scope (one
timesheet, one project's forecast) should have, each named by a posting key, and reconcile them with the
transactions it has. Reconciling is idempotent (running it twice changes nothing the second time) and
order-independent (approve, recall and approve again ends where one approval does), because the desired
state depends only on the current data, never on what happened before.

Locks: a transaction dated inside a locked fiscal period (on hold or closed) is never added, changed or
deleted; what should change there comes back as `blocked` (actuals settle it beforehand: posting.py).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from sqlalchemy import bindparam, delete, exists, func, insert, literal_column, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, load_only

from portal.columns import utcnow
from portal.finance.models import (
    FinancialItem,
    FinancialTransaction,
    FinancialTransactionLine,
    FiscalPeriod,
    LedgerTotal,
)

ZERO = Decimal("0")


@dataclass(frozen=True)
class Segment:
    """A run of consecutive days inside one fiscal period, or inside a gap between periods."""

    start: date
    end: date
    period: FiscalPeriod | None

    @property
    def period_name(self) -> str:
        return self.period.name if self.period else "no fiscal period"


class FiscalCalendar:
    """The fiscal periods around a span of dates, answering which period (and lock) a day falls in."""

    def __init__(self, periods: Iterable[FiscalPeriod]):
        self.periods = sorted(periods, key=lambda p: p.start_date)
        self._starts = [p.start_date for p in self.periods]

    @classmethod
    def load(cls, session: Session, start: date, end: date | None, share_lock: bool = False) -> FiscalCalendar:
        """Periods overlapping [start, end] (end None: and every later one). `share_lock` (PostgreSQL FOR SHARE)
        holds off a concurrent state change of these periods until the caller commits, so a posting never
        lands in a period that was locked while it was being computed."""
        return cls(session.scalars(_calendar_statement(end is not None, share_lock), {"start": start, "end": end}))

    def period_on(self, day: date) -> FiscalPeriod | None:
        index = bisect.bisect_right(self._starts, day) - 1
        if index >= 0 and self.periods[index].end_date >= day:
            return self.periods[index]
        return None

    def locked_on(self, day: date) -> bool:
        period = self.period_on(day)
        return period is not None and period.locked

    def first_open_day(self, day: date) -> date:
        """`day`, or the first day after it outside every locked period (needs the later periods loaded)."""
        while (period := self.period_on(day)) is not None and period.locked:
            day = period.end_date + timedelta(days=1)
        return day

    def segments(self, start: date, end: date) -> list[Segment]:
        """[start, end] cut at fiscal period boundaries, in order; days outside every period form gaps."""
        result: list[Segment] = []
        day = start
        while day <= end:
            period = self.period_on(day)
            if period is not None:
                stop = min(period.end_date, end)
            else:
                following = bisect.bisect_right(self._starts, day)
                stop = end if following >= len(self.periods) else min(self._starts[following] - timedelta(days=1), end)
            result.append(Segment(day, stop, period))
            day = stop + timedelta(days=1)
        return result


# Statements every posting runs are built once (functools.cache), their values parameters: building a statement
# and deriving its cache key cost about as much as running it (issue 14).
@cache
def _calendar_statement(bounded: bool, share_lock: bool):
    # What a calendar uses of a period: a posting reads them all, every time, and no more.
    query = (select(FiscalPeriod).where(FiscalPeriod.end_date >= bindparam("start"))
             .options(load_only(FiscalPeriod.name, FiscalPeriod.start_date, FiscalPeriod.end_date, FiscalPeriod.state))
             .execution_options(populate_existing=True))
    if bounded:
        query = query.where(FiscalPeriod.start_date <= bindparam("end"))
    return query.with_for_update(read=True) if share_lock else query


@dataclass
class Posting:
    """One transaction a scope should have."""

    key: str
    kind: str
    project_id: int
    resource_id: int
    resource_name: str
    cost_category_id: int
    date: date
    fiscal_period_id: int | None
    # offering id (None: no offering) -> (hours, amount); the transaction's totals are their sums.
    lines: dict[int | None, tuple[Decimal, Decimal]]
    rate_type: str  # the resource rate the amounts are at (cost | sell)
    split_note: str = ""
    timesheet_id: int | None = None
    belongs_to_period_id: int | None = None  # a late posting: the locked period the money belongs to

    @property
    def hours(self) -> Decimal:
        return sum((h for h, _ in self.lines.values()), ZERO)

    @property
    def amount(self) -> Decimal:
        return sum((a for _, a in self.lines.values()), ZERO)

    def matches(self, txn: FinancialTransaction) -> bool:
        lines = {(line.offering_id, line.hours, line.amount) for line in txn.lines}
        return (txn.item.cost_category_id == self.cost_category_id and txn.item.resource_id == self.resource_id
                and txn.item.project_id == self.project_id and txn.date == self.date
                and txn.hours == self.hours and txn.amount == self.amount and txn.split_note == self.split_note
                and txn.rate_type == self.rate_type
                and txn.fiscal_period_id == self.fiscal_period_id
                and txn.belongs_to_period_id == self.belongs_to_period_id
                and lines == {(o, h, a) for o, (h, a) in self.lines.items()})


@dataclass
class Blocked:
    """A change the ledger should make inside a locked period: a posting to add or change (with the locked
    transaction it would replace, if any), or a locked transaction that should be gone (posting None)."""

    posting: Posting | None
    locked: FinancialTransaction | None


@dataclass
class Outcome:
    created: int = 0
    deleted: int = 0
    kept: int = 0
    items_created: int = 0
    items_deleted: int = 0
    blocked: list[Blocked] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.deleted)

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "deleted": self.deleted, "kept": self.kept,
                "items_created": self.items_created, "items_deleted": self.items_deleted,
                "blocked": len(self.blocked)}


def reconcile(session: Session, desired: list[Posting], existing: list[FinancialTransaction],
              calendar: FiscalCalendar) -> Outcome:
    """Make `existing` (every transaction of the scope) equal `desired`, except inside locked periods.

    `existing` must carry its items and lines loaded. Items left without any transaction are deleted.
    """
    outcome = Outcome()
    wanted = {p.key: p for p in desired}
    touched: set[int] = set()
    totals = Totals()
    for txn in existing:
        posting = wanted.pop(txn.posting_key, None)
        if calendar.locked_on(txn.date):
            if posting is None or not posting.matches(txn):
                outcome.blocked.append(Blocked(posting, txn))
            continue
        if posting is not None and posting.matches(txn):
            outcome.kept += 1
            continue
        touched.add(txn.item_id)
        totals.add(txn.kind, txn.fiscal_period_id, txn.hours, txn.amount, -1)
        session.delete(txn)
        outcome.deleted += 1
        if posting is not None:
            wanted[posting.key] = posting
    if outcome.deleted:
        session.flush()  # deletions first: a changed transaction comes back under the same (unique) key
    to_create = []
    for posting in sorted(wanted.values(), key=lambda p: p.key):
        if calendar.locked_on(posting.date):
            outcome.blocked.append(Blocked(posting, None))
        else:
            to_create.append(posting)
    items, outcome.items_created = _ensure_items(session, {
        (p.project_id, p.resource_id, p.cost_category_id): p.resource_name for p in to_create})
    if to_create:
        # One statement for the transactions and one for their lines, whatever their number.
        ids = dict(session.execute(_transactions_insert(), [dict(
            item_id=items[(p.project_id, p.resource_id, p.cost_category_id)], kind=p.kind, date=p.date,
            hours=p.hours, amount=p.amount, fiscal_period_id=p.fiscal_period_id, timesheet_id=p.timesheet_id,
            posting_key=p.key, split_note=p.split_note, rate_type=p.rate_type,
            belongs_to_period_id=p.belongs_to_period_id) for p in to_create]).all())
        session.execute(_lines_insert(), [
            dict(transaction_id=ids[p.key], offering_id=o, hours=h, amount=a)
            for p in to_create for o, (h, a) in p.lines.items()])
        outcome.created = len(to_create)
        for p in to_create:
            totals.add(p.kind, p.fiscal_period_id, p.hours, p.amount)
    totals.apply(session)
    outcome.items_deleted = _delete_empty_items(session, touched - set(items.values()))
    return outcome


@cache
def _transactions_insert():
    # Core inserts into the tables (the ORM's bulk path adds nothing here but work).
    transactions = FinancialTransaction.__table__
    return insert(transactions).returning(transactions.c.posting_key, transactions.c.id)


@cache
def _lines_insert():
    return insert(FinancialTransactionLine.__table__)


class Totals:
    """Changes to the ledger's totals per kind and fiscal period (models.LedgerTotal), applied in one upsert."""

    def __init__(self) -> None:
        self.changes: dict[tuple[str, int], list] = defaultdict(lambda: [0, ZERO, ZERO])

    def add(self, kind: str, period_id: int | None, hours: Decimal, amount: Decimal, sign: int = 1) -> None:
        change = self.changes[(kind, period_id or 0)]
        change[0] += sign
        change[1] += sign * Decimal(hours)
        change[2] += sign * Decimal(amount)

    def apply(self, session: Session) -> None:
        rows = [dict(kind=kind, period_key=period, count=count, hours=hours, amount=amount)
                for (kind, period), (count, hours, amount) in sorted(self.changes.items()) if count or hours or amount]
        if not rows:
            return
        session.execute(_totals_upsert(session.get_bind().dialect.name), rows)


def _dialect_insert(dialect: str, table):
    """An INSERT that can say ON CONFLICT, in the dialect."""
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)


@cache
def _totals_upsert(dialect: str):
    table = LedgerTotal.__table__
    statement = _dialect_insert(dialect, table)
    return statement.on_conflict_do_update(index_elements=["kind", "period_key"], set_={
        "count": table.c.count + statement.excluded.count,
        "hours": table.c.hours + statement.excluded.hours,
        "amount": table.c.amount + statement.excluded.amount})


def rebuild_totals(session: Session) -> None:
    """Compute models.LedgerTotal from the transactions (after a bulk load that bypassed `reconcile`)."""
    period = func.coalesce(FinancialTransaction.fiscal_period_id, literal_column("0"))
    session.execute(delete(LedgerTotal))
    session.execute(insert(LedgerTotal).from_select(
        ["kind", "period_key", "count", "hours", "amount"],
        select(FinancialTransaction.kind, period, func.count(), func.sum(FinancialTransaction.hours),
               func.sum(FinancialTransaction.amount)).group_by(FinancialTransaction.kind, period)))


ItemKey = tuple[int, int, int]  # project, resource, cost category


def _ensure_items(session: Session, wanted: dict[ItemKey, str]) -> tuple[dict[ItemKey, int], int]:
    """The item ids for `wanted` (key -> the resource's name), created on first use (seed 003: "a financial item
    sharing the resource's name"). Actuals and forecasts share them; inserting with ON CONFLICT DO NOTHING
    makes concurrent first postings agree on one item. The rows are locked (PostgreSQL), so a concurrent
    posting that is about to delete an emptied item waits for us, or we for it."""
    if not wanted:
        return {}, 0

    def load() -> dict[ItemKey, int]:
        return {(p, r, c): i for p, r, c, i in session.execute(_items_statement(), {
            "projects": sorted({k[0] for k in wanted}), "resources": sorted({k[1] for k in wanted})})}

    found = load()
    missing = sorted(set(wanted) - set(found))
    if missing:
        now = utcnow()
        # RETURNING names the items this statement created; an item a concurrent posting created meanwhile
        # is skipped by ON CONFLICT and read (and locked) again, which is the only case needing a second read.
        created = session.execute(_items_insert(session.get_bind().dialect.name), [
            dict(project_id=p, resource_id=r, cost_category_id=c, name=wanted[(p, r, c)], created_at=now,
                 updated_at=now) for p, r, c in missing]).all()
        found.update({(p, r, c): i for p, r, c, i in created})
        if len(created) < len(missing):
            found = load()
        return {key: found[key] for key in wanted}, len(created)
    return {key: found[key] for key in wanted}, 0


@cache
def _items_statement():
    return (select(FinancialItem.project_id, FinancialItem.resource_id, FinancialItem.cost_category_id,
                   FinancialItem.id)
            .where(FinancialItem.project_id.in_(bindparam("projects", expanding=True)),
                   FinancialItem.resource_id.in_(bindparam("resources", expanding=True)))
            .order_by(FinancialItem.id).with_for_update())


@cache
def _items_insert(dialect: str):
    table = FinancialItem.__table__
    return (_dialect_insert(dialect, table)
            .on_conflict_do_nothing(index_elements=["project_id", "resource_id", "cost_category_id"])
            .returning(table.c.project_id, table.c.resource_id, table.c.cost_category_id, table.c.id))


def _delete_empty_items(session: Session, item_ids: set[int]) -> int:
    """Seed 003: "If no transactions remain in the parent financial item, it will also be deleted"."""
    deleted = 0
    for item_id in sorted(item_ids):
        item = session.scalar(select(FinancialItem).where(FinancialItem.id == item_id).with_for_update())
        if item is None:
            continue
        if not session.scalar(select(exists().where(FinancialTransaction.item_id == item_id))):
            session.delete(item)
            deleted += 1
    session.flush()
    return deleted
