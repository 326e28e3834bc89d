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
    FinancialTransactionLine,
    FiscalPeriod,
    TransactionKind,
    UnpostedPortion,
)
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
class OfferingRow:
    name: str
    budget: Decimal | None
    actual: Decimal
    forecast: Decimal
    actual_hours: Decimal

    @property
    def over_budget(self) -> bool:
        return self.budget is not None and self.actual > self.budget

    @property
    def used_percent(self) -> int | None:
        return int(self.actual * 100 / self.budget) if self.budget else None


@dataclass
class ProjectFinance:
    items: list[ItemRow]
    offerings: list[OfferingRow]
    unposted: list[UnpostedPortion]
    pending: int
    held: int
    scale: Decimal = field(default=ZERO)  # the chart's 100 %

    @property
    def actual(self) -> Decimal:
        return sum((r.actual for r in self.items), ZERO)

    @property
    def forecast(self) -> Decimal:
        return sum((r.forecast for r in self.items), ZERO)

    @property
    def budget(self) -> Decimal:
        return sum((r.budget or ZERO for r in self.offerings), ZERO)

    def width(self, value: Decimal | None) -> float:
        """A bar's length in percent of the chart."""
        return 0.0 if not value or not self.scale else round(float(value * 100 / self.scale), 2)


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
    sums: dict[int | None, dict[str, Decimal]] = {}
    for offering_id, kind, hours, amount in session.execute(
        select(FinancialTransactionLine.offering_id, FinancialTransaction.kind,
               func.sum(FinancialTransactionLine.hours), func.sum(FinancialTransactionLine.amount))
        .join(FinancialTransaction).join(FinancialItem)
        .where(FinancialItem.project_id == project.id)
        .group_by(FinancialTransactionLine.offering_id, FinancialTransaction.kind)
    ):
        row = sums.setdefault(offering_id, {})
        row[kind], row[f"{kind}_hours"] = Decimal(amount), Decimal(hours)
    offerings = [OfferingRow(o.name, o.budget_amount, sums.get(o.id, {}).get("actual", ZERO),
                             sums.get(o.id, {}).get("forecast", ZERO), sums.get(o.id, {}).get("actual_hours", ZERO))
                 for o in project.offerings if not o.archived or o.id in sums]
    if None in sums:  # time whose offering was deleted since
        offerings.append(OfferingRow("No offering", None, sums[None].get("actual", ZERO),
                                     sums[None].get("forecast", ZERO), sums[None].get("actual_hours", ZERO)))
    unposted = list(session.scalars(
        select(UnpostedPortion).where(UnpostedPortion.project_id == project.id)
        .options(selectinload(UnpostedPortion.resource), selectinload(UnpostedPortion.fiscal_period))
        .order_by(UnpostedPortion.start_date, UnpostedPortion.id)
    ))
    result = ProjectFinance(items, offerings, unposted,
                            pending=session.scalar(_timesheets_on(project.id, PostingStatus.PENDING)),
                            held=session.scalar(_timesheets_on(project.id, PostingStatus.HELD)))
    result.scale = max([ZERO, *(v for r in offerings for v in (r.budget or ZERO, r.actual, r.forecast))])
    return result


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
    count, hours, amount = session.execute(
        select(func.count(FinancialTransaction.id), func.coalesce(func.sum(FinancialTransaction.hours), 0),
               func.coalesce(func.sum(FinancialTransaction.amount), 0))
        .join(FinancialItem).where(*_ledger_conditions(filters))
    ).one()
    return count, Decimal(hours), Decimal(amount)


def unposted_portions(session: Session, project_id: int | None = None, period_id: int | None = None,
                      timesheet_id: int | None = None) -> list[UnpostedPortion]:
    query = select(UnpostedPortion).options(
        selectinload(UnpostedPortion.project), selectinload(UnpostedPortion.resource),
        selectinload(UnpostedPortion.fiscal_period), selectinload(UnpostedPortion.timesheet))
    if project_id:
        query = query.where(UnpostedPortion.project_id == project_id)
    if period_id:
        query = query.where(UnpostedPortion.fiscal_period_id == period_id)
    if timesheet_id:
        query = query.where(UnpostedPortion.timesheet_id == timesheet_id)
    return list(session.scalars(query.order_by(UnpostedPortion.start_date, UnpostedPortion.id)))


CSV_HEADER = ["date", "project", "item", "cost_category", "kind", "hours", "amount", "fiscal_period",
              "timesheet_week", "posting_key", "split_note"]


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
                    FinancialTransaction.split_note)
             .join(FinancialItem, FinancialTransaction.item_id == FinancialItem.id)
             .join(Project, FinancialItem.project_id == Project.id)
             .join(CostCategory, FinancialItem.cost_category_id == CostCategory.id)
             .outerjoin(FiscalPeriod, FinancialTransaction.fiscal_period_id == FiscalPeriod.id)
             .outerjoin(Timesheet, FinancialTransaction.timesheet_id == Timesheet.id)
             .where(*_ledger_conditions(filters))
             .order_by(FinancialTransaction.date, FinancialTransaction.id)
             .execution_options(yield_per=500))
    for index, (day, project, item, category, kind, hours, amount, period, week, key, note) in enumerate(
            session.execute(query)):
        writer.writerow([day.isoformat(), _cell(project), _cell(item), _cell(category), kind, f"{hours:f}",
                         f"{amount:.2f}", _cell(period or ""), week.isoformat() if week else "", key, _cell(note)])
        if index % 500 == 499:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def filter_choices(session: Session) -> tuple[list[tuple[int, str]], list[FiscalPeriod]]:
    """Projects that have financial items, and every fiscal period, for the filter lists."""
    projects = session.execute(select(Project.id, Project.name).where(
        exists().where(FinancialItem.project_id == Project.id)).order_by(Project.name)).all()
    periods = list(session.scalars(select(FiscalPeriod).order_by(FiscalPeriod.start_date.desc())))
    return [(p.id, p.name) for p in projects], periods



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
