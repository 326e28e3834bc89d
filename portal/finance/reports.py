"""What the finance pages read: a project's items and offerings against budget, the ledger's transactions
(filtered, paged, exported as CSV) and the portions that could not be posted."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Select, case, exists, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from portal import paging
from portal.errors import InvalidInput
from portal.finance.models import (
    CostCategory,
    FinancialItem,
    FinancialTransaction,
    FiscalPeriod,
    LedgerTotal,
    TransactionKind,
    UnpostedPortion,
)
from portal.formatting import hours_plain
from portal.projects.models import Project
from portal.timesheets.models import PostingStatus, TimeEntry, Timesheet

ZERO = Decimal("0")
PAGE_SIZE = 100


def _sum_if(column, kind: str):
    return func.coalesce(func.sum(case((FinancialTransaction.kind == kind, column), else_=0)), 0)


@dataclass
class ItemRow:
    item: FinancialItem
    forecast: Decimal
    actual: Decimal
    actual_hours: Decimal


@dataclass
class ProjectFinance:
    """The project's part of the ledger: its items, what could not be posted, postings under way."""

    items: list[ItemRow]
    unposted: list[UnpostedPortion]
    pending: int
    held: int
    # Posted actuals by the rate type they were posted at: two keys after the organization's rate type changed.
    actual_by_rate_type: dict[str, Decimal] = field(default_factory=dict)

    @property
    def actual(self) -> Decimal:
        return sum((r.actual for r in self.items), ZERO)

    @property
    def forecast(self) -> Decimal:
        return sum((r.forecast for r in self.items), ZERO)


def _timesheets_on(project_id: int, posting_status: str):
    return (select(func.count()).select_from(Timesheet)
            .where(Timesheet.posting_status == posting_status,
                   exists().where(TimeEntry.timesheet_id == Timesheet.id, TimeEntry.project_id == project_id)))


def project_finance(session: Session, project: Project) -> ProjectFinance:
    items = [ItemRow(item, Decimal(forecast), Decimal(actual), Decimal(hours)) for item, forecast, actual, hours in
             session.execute(
                 select(FinancialItem, _sum_if(FinancialTransaction.amount, TransactionKind.FORECAST),
                        _sum_if(FinancialTransaction.amount, TransactionKind.ACTUAL),
                        _sum_if(FinancialTransaction.hours, TransactionKind.ACTUAL))
                 .outerjoin(FinancialTransaction, FinancialTransaction.item_id == FinancialItem.id)
                 .where(FinancialItem.project_id == project.id)
                 .options(joinedload(FinancialItem.cost_category), joinedload(FinancialItem.resource))
                 .group_by(FinancialItem.id).order_by(FinancialItem.name, FinancialItem.id)
             ).unique()]
    unposted = list(session.scalars(
        select(UnpostedPortion).where(UnpostedPortion.project_id == project.id)
        .options(selectinload(UnpostedPortion.resource), selectinload(UnpostedPortion.fiscal_period))
        .order_by(UnpostedPortion.start_date, UnpostedPortion.id)
    ))
    result = ProjectFinance(items, unposted,
                            pending=session.scalar(_timesheets_on(project.id, PostingStatus.PENDING)),
                            held=session.scalar(_timesheets_on(project.id, PostingStatus.HELD)))
    result.actual_by_rate_type = {rate_type: Decimal(amount) for rate_type, amount in session.execute(
        select(FinancialTransaction.rate_type, func.sum(FinancialTransaction.amount)).join(FinancialItem)
        .where(FinancialItem.project_id == project.id, FinancialTransaction.kind == TransactionKind.ACTUAL)
        .group_by(FinancialTransaction.rate_type).order_by(FinancialTransaction.rate_type))}
    return result


# Rate types (issue 15 items 11 and 16) -----------------------------------------------------------------
@dataclass
class Holding:
    """Transactions at a rate type other than the organization's now: in open periods (re-postable), or in
    one locked period (kept as they are: the period says what it holds)."""

    rate_type: str
    kind: str
    period: FiscalPeriod | None  # the locked period; None for the open periods together
    count: int
    hours: Decimal
    amount: Decimal


@dataclass
class RateTypes:
    current: str
    holdings: list[Holding]

    @property
    def open(self) -> list[Holding]:
        return [h for h in self.holdings if h.period is None]

    @property
    def locked(self) -> list[Holding]:
        return [h for h in self.holdings if h.period is not None]


def rate_types(session: Session, current: str, project_id: int | None = None) -> RateTypes:
    """What the ledger (or a project's part of it) holds at a rate type other than `current`."""
    query = (select(FinancialTransaction.rate_type, FinancialTransaction.kind, FinancialTransaction.fiscal_period_id,
                    func.count(), func.sum(FinancialTransaction.hours), func.sum(FinancialTransaction.amount))
             .join(FinancialItem).where(FinancialTransaction.rate_type != current)
             .group_by(FinancialTransaction.rate_type, FinancialTransaction.kind,
                       FinancialTransaction.fiscal_period_id))
    if project_id:
        query = query.where(FinancialItem.project_id == project_id)
    rows = session.execute(query).all()
    periods = {p.id: p for p in session.scalars(select(FiscalPeriod).where(
        FiscalPeriod.id.in_({r[2] for r in rows if r[2]}), FiscalPeriod.locked.is_(True)))} if rows else {}
    merged: dict[tuple, Holding] = {}
    for rate_type, kind, period_id, count, hours, amount in rows:
        period = periods.get(period_id)
        key = (rate_type, kind, period.id if period else None)
        holding = merged.setdefault(key, Holding(rate_type, kind, period, 0, ZERO, ZERO))
        holding.count += count
        holding.hours += Decimal(hours)
        holding.amount += Decimal(amount)
    return RateTypes(current, sorted(merged.values(), key=lambda h: (
        h.period is not None, h.period.start_date if h.period else None, h.kind, h.rate_type)))


# The ledger's transactions ------------------------------------------------------------------------------
@dataclass
class LedgerFilters:
    project_id: int | None = None
    period_id: int | None = None
    kind: str = TransactionKind.ACTUAL  # "" for both
    timesheet_id: int | None = None

    def as_args(self) -> dict[str, str]:
        values = {"project": self.project_id, "period": self.period_id, "kind": self.kind}
        return {k: "" if v is None else str(v) for k, v in values.items()}


def _ledger_query(filters: LedgerFilters) -> Select:
    query = (select(FinancialTransaction).join(FinancialItem)
             .options(joinedload(FinancialTransaction.item).joinedload(FinancialItem.project),
                      joinedload(FinancialTransaction.item).joinedload(FinancialItem.cost_category),
                      joinedload(FinancialTransaction.fiscal_period), joinedload(FinancialTransaction.timesheet)))
    return query.where(*_ledger_conditions(filters))


def _ledger_conditions(filters: LedgerFilters) -> list:
    if filters.kind and filters.kind not in set(TransactionKind):
        raise InvalidInput("Choose actual or forecast.")
    conditions = []
    if filters.kind:
        conditions.append(FinancialTransaction.kind == filters.kind)
    if filters.project_id:
        conditions.append(FinancialItem.project_id == filters.project_id)
    if filters.period_id:
        conditions.append(FinancialTransaction.fiscal_period_id == filters.period_id)
    if filters.timesheet_id:
        conditions.append(FinancialTransaction.timesheet_id == filters.timesheet_id)
    return conditions


def transactions(session: Session, filters: LedgerFilters, after: str | None = None,
                 limit: int = PAGE_SIZE) -> tuple[list[FinancialTransaction], str | None]:
    """Newest first, a page at a time (keyset on date and id)."""
    query = _ledger_query(filters)
    position = paging.after(FinancialTransaction.date, FinancialTransaction.id, after, descending=True)
    if position is not None:
        query = query.where(position)
    rows = session.scalars(query.order_by(FinancialTransaction.date.desc(), FinancialTransaction.id.desc())
                           .limit(limit + 1)).unique().all()
    return paging.page(rows, limit, lambda txn: (txn.date, txn.id))


def totals(session: Session, filters: LedgerFilters) -> tuple[int, Decimal, Decimal]:
    """Count, hours and amount of the filtered ledger: summed from a project's or a timesheet's transactions,
    else read from the totals kept per kind and fiscal period (a few rows, whatever the ledger holds)."""
    if filters.project_id or filters.timesheet_id:
        query = (select(func.count(FinancialTransaction.id), func.coalesce(func.sum(FinancialTransaction.hours), 0),
                        func.coalesce(func.sum(FinancialTransaction.amount), 0))
                 .join(FinancialItem).where(*_ledger_conditions(filters)))
    else:
        _ledger_conditions(filters)  # refuses an unknown kind
        query = select(func.coalesce(func.sum(LedgerTotal.count), 0), func.coalesce(func.sum(LedgerTotal.hours), 0),
                       func.coalesce(func.sum(LedgerTotal.amount), 0))
        if filters.kind:
            query = query.where(LedgerTotal.kind == filters.kind)
        if filters.period_id:
            query = query.where(LedgerTotal.period_key == filters.period_id)
    count, hours, amount = session.execute(query).one()
    return int(count), Decimal(hours), Decimal(amount)


def unposted_portions(session: Session, project_id: int | None = None, period_id: int | None = None,
                      timesheet_id: int | None = None, limit: int | None = None) -> list[UnpostedPortion]:
    query = select(UnpostedPortion).options(
        selectinload(UnpostedPortion.project), selectinload(UnpostedPortion.resource),
        selectinload(UnpostedPortion.fiscal_period), selectinload(UnpostedPortion.timesheet))
    if project_id:
        query = query.where(UnpostedPortion.project_id == project_id)
    if period_id:
        query = query.where(UnpostedPortion.fiscal_period_id == period_id)
    if timesheet_id:
        query = query.where(UnpostedPortion.timesheet_id == timesheet_id)
    return list(session.scalars(query.order_by(UnpostedPortion.start_date, UnpostedPortion.id).limit(limit)))


# rate_type last: spreadsheets built on the earlier columns keep working.
CSV_HEADER = ["date", "project", "item", "cost_category", "kind", "hours", "amount", "fiscal_period",
              "timesheet_week", "posting_key", "split_note", "rate_type"]


def _cell(value: str) -> str:
    # Spreadsheet formula injection: a name starting with = + - @ would run as a formula when opened.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def transactions_csv(session: Session, filters: LedgerFilters) -> Iterator[str]:
    """The filtered transactions as CSV, oldest first, streamed in chunks (no page limit)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    query = (select(FinancialTransaction.date, Project.name, FinancialItem.name, CostCategory.name,
                    FinancialTransaction.kind, FinancialTransaction.hours, FinancialTransaction.amount,
                    FiscalPeriod.name, Timesheet.period_start, FinancialTransaction.posting_key,
                    FinancialTransaction.split_note, FinancialTransaction.rate_type)
             .join(FinancialItem, FinancialTransaction.item_id == FinancialItem.id)
             .join(Project, FinancialItem.project_id == Project.id)
             .join(CostCategory, FinancialItem.cost_category_id == CostCategory.id)
             .outerjoin(FiscalPeriod, FinancialTransaction.fiscal_period_id == FiscalPeriod.id)
             .outerjoin(Timesheet, FinancialTransaction.timesheet_id == Timesheet.id)
             .where(*_ledger_conditions(filters))
             .order_by(FinancialTransaction.date, FinancialTransaction.id)
             .execution_options(yield_per=500))
    for index, (day, project, item, category, kind, hours, amount, period, week, key, note, rate_type) in enumerate(
            session.execute(query)):
        writer.writerow([day.isoformat(), _cell(project), _cell(item), _cell(category), kind, hours_plain(hours),
                         f"{amount:.2f}", _cell(period or ""), week.isoformat() if week else "", key, _cell(note),
                         rate_type])
        if index % 500 == 499:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def fiscal_periods(session: Session) -> list[FiscalPeriod]:
    """Every fiscal period, newest first, for the filter list (a few a year)."""
    return list(session.scalars(select(FiscalPeriod).order_by(FiscalPeriod.start_date.desc())))



@dataclass
class PostingSummary:
    """What finance holds of one timesheet, in hours (no money: its person sees this too).

    `posted` are the hours in its actual transactions; `held` the portions kept out (a locked period, no
    cost category); `note` the hours the last posting skipped without an error (no rate, a rate of 0).
    """

    hours: Decimal
    posted: Decimal
    held: list[UnpostedPortion]
    note: str

    @property
    def complete(self) -> bool:
        return self.posted == self.hours and not self.held and not self.note


def posting_summary(session: Session, sheet: Timesheet) -> PostingSummary:
    posted = session.scalar(select(func.coalesce(func.sum(FinancialTransaction.hours), 0)).where(
        FinancialTransaction.timesheet_id == sheet.id, FinancialTransaction.kind == TransactionKind.ACTUAL))
    return PostingSummary(hours=sheet.total_hours, posted=Decimal(posted),
                          held=unposted_portions(session, timesheet_id=sheet.id), note=sheet.posting_note)
