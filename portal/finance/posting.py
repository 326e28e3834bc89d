"""Timesheet to Finance Sync (seed 003): approved hours become actual transactions on the project.

The rules, each applied by `post_timesheet`:
- amount = hours × the resource's rate of the organization's rate type (cost or sell) effective on the
  work date; entries without such a rate are skipped without an error (and noted on the timesheet);
- the cost category is the project's default, else the resource's, else the organization's;
- all of a timesheet's entries on one project roll into one transaction per fiscal period the timesheet
  touches, dated the last day of that period, the final one the timesheet's finish date, each noting why
  it is split; a portion that computes to 0 creates no transaction;
- the transaction goes on the project's item for the resource and cost category (created on first use);
- nothing is added, changed or deleted in a locked period (on hold or closed): what should change there is
  kept as an unposted portion until the period is reopened, or posted late on the first open day after it
  (a closed period always; one on hold under the organization's `locked_period_actuals` rule);
- a timesheet that is no longer approved has no transactions outside locked periods, late reversals aside.

`post_timesheet` computes the state the ledger should have from the current data and reconciles it, so
it is idempotent and approve → recall → approve leaves exactly what one approval leaves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache

from sqlalchemy import Row, and_, bindparam, cast, delete, literal, null, select, union_all
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.util import identity_key

from portal import audit
from portal.columns import utcnow
from portal.errors import NotFound
from portal.finance.ledger import ZERO, FiscalCalendar, Outcome, Posting, Segment, reconcile
from portal.finance.models import (
    FinancialTransaction,
    LockedPeriodActuals,
    TransactionKind,
    UnpostedPortion,
    UnpostedReason,
)
from portal.formatting import hours_text, money, plural
from portal.org.models import SINGLETON_ID, OrgSettings
from portal.org.services import get_settings
from portal.projects.models import Project, Resource, ResourceRate
from portal.projects.rates import RateBook, to_cents
from portal.timesheets.models import PostingStatus, TimeEntry, Timesheet, TimesheetStatus

ACTOR = "finance posting"


def cost_category_for(project_category_id: int | None, resource: Resource | Person,
                      settings: OrgSettings | FinanceSettings) -> int | None:
    """Seed 003: the project's default cost category, else the resource's, else the system default."""
    return project_category_id or resource.default_cost_category_id or settings.default_cost_category_id


@dataclass
class Unposted:
    key: str
    project_id: int
    cost_category_id: int | None
    segment: Segment
    hours: Decimal
    amount: Decimal
    reason: str
    detail: str


@dataclass
class Plan:
    postings: list[Posting]
    unposted: list[Unposted]
    note: str


# What a posting reads of the timesheet, its person and the organization's settings: plain values from the
# statement that locks the timesheet, not ORM objects (loading those cost a posting more than all its other
# reads; issue 14). The names are the models' own.
@dataclass(frozen=True)
class Person:
    id: int
    name: str
    default_cost_category_id: int | None


@dataclass(frozen=True)
class Sheet:
    id: int
    resource_id: int
    period_start: date
    period_end: date
    status: str
    posting_status: str
    posting_note: str
    posted_at: datetime | None
    resource: Person


@dataclass(frozen=True)
class FinanceSettings:
    finance_sync_enabled: bool
    finance_rate_type: str
    default_cost_category_id: int | None
    locked_period_actuals: str

    @classmethod
    def of(cls, settings: OrgSettings) -> FinanceSettings:
        return cls(settings.finance_sync_enabled, settings.finance_rate_type, settings.default_cost_category_id,
                   settings.locked_period_actuals)


def _split_note(sheet: Sheet, segments: list[Segment], parts: list[int], index: int) -> str:
    """Why a transaction is one part of several: the project's time in the week falls into more than one
    fiscal period (`parts`: the segments holding some of it). Time all in one period is not split."""
    if len(parts) < 2:
        return ""
    segment = segments[index]
    names = ", ".join(segments[i].period_name for i in parts)
    return (f"Split transaction, part {parts.index(index) + 1} of {len(parts)}: the time of the week "
            f"{sheet.period_start:%d %b} – {sheet.period_end:%d %b %Y} falls into fiscal periods ({names}). "
            f"This part covers {segment.start:%d %b} – {segment.end:%d %b %Y} ({segment.period_name}).")


def _segment_index(segments: list[Segment], day: date) -> int:
    return next(i for i, s in enumerate(segments) if s.start <= day <= s.end)


def plan_actuals(sheet: Sheet, entries: list[Row], rates: RateBook, settings: FinanceSettings,
                 segments: list[Segment]) -> Plan:
    """The transactions and unposted portions an approved timesheet should have, and what it skipped."""
    resource = sheet.resource
    sums: dict[tuple[int, int], dict[int | None, list[Decimal]]] = defaultdict(
        lambda: defaultdict(lambda: [ZERO, ZERO]))
    project_categories: dict[int, int | None] = {}
    skipped: list[Row] = []
    for entry in entries:
        rate = rates.on(resource.id, entry.work_date)
        if rate is None:
            skipped.append(entry)  # seed 003: no rate, no actual; not an error
            continue
        line = sums[(entry.project_id, _segment_index(segments, entry.work_date))][entry.offering_id]
        line[0] += entry.hours
        line[1] += entry.hours * rate
        project_categories[entry.project_id] = entry.project_category_id

    postings: list[Posting] = []
    unposted: list[Unposted] = []
    portions = {}
    worth_nothing = ZERO
    for (project_id, index), by_offering in sorted(sums.items()):
        lines = {offering: (hours, to_cents(amount)) for offering, (hours, amount) in by_offering.items()}
        if sum(a for _, a in lines.values()) == ZERO:
            worth_nothing += sum(h for h, _ in lines.values())
            continue  # seed 003: a period that computes to 0 creates no transaction (the note says so)
        portions[(project_id, index)] = lines
    parts: dict[int, list[int]] = defaultdict(list)
    for project_id, index in portions:
        parts[project_id].append(index)
    for (project_id, index), lines in portions.items():
        segment = segments[index]
        hours, amount = sum(h for h, _ in lines.values()), sum(a for _, a in lines.values())
        key = f"actual:{sheet.id}:{project_id}:{segment.start:%Y%m%d}"
        category = cost_category_for(project_categories[project_id], resource, settings)
        if category is None:
            unposted.append(Unposted(key, project_id, None, segment, hours, amount, UnpostedReason.NO_COST_CATEGORY,
                                     "No cost category: set one on the project, the resource or in the "
                                     "organization settings, then post again."))
            continue
        postings.append(Posting(
            key=key, kind=TransactionKind.ACTUAL, project_id=project_id, resource_id=resource.id,
            resource_name=resource.name, cost_category_id=category, date=segment.end,
            fiscal_period_id=segment.period.id if segment.period else None, lines=lines,
            rate_type=settings.finance_rate_type,
            split_note=_split_note(sheet, segments, parts[project_id], index), timesheet_id=sheet.id,
        ))
    notes = []
    if skipped:
        days = ", ".join(f"{d:%d %b}" for d in sorted({e.work_date for e in skipped}))
        notes.append(f"{hours_text(sum(e.hours for e in skipped))} not posted: {resource.name} has no "
                     f"{settings.finance_rate_type} rate effective on {days}. Add the rate and post again.")
    if worth_nothing:
        notes.append(f"{hours_text(worth_nothing)} not posted: at {resource.name}'s {settings.finance_rate_type} "
                     "rate of 0 they come to nothing.")
    return Plan(postings, unposted, " ".join(notes))


Lines = dict[int | None, tuple[Decimal, Decimal]]
LATE = "@"  # a late posting's key: the portion's key, "@", the day it is posted on


def _portion(posting_key: str) -> str:
    """The portion a transaction stands for (a timesheet's project in one period): its key without "@day"."""
    return posting_key.partition(LATE)[0]


def _portion_start(portion: str) -> date:
    return datetime.strptime(portion.rsplit(":", 1)[1], "%Y%m%d").date()


def _net(want: Posting | None, frozen: list[FinancialTransaction]) -> Lines:
    """What a portion still needs: its lines less what locked periods already hold for it."""
    net: dict[int | None, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for offering, (hours, amount) in (want.lines.items() if want else ()):
        net[offering][0] += hours
        net[offering][1] += amount
    for txn in frozen:
        for line in txn.lines:
            net[line.offering_id][0] -= line.hours
            net[line.offering_id][1] -= line.amount
    return {offering: (hours, amount) for offering, (hours, amount) in net.items() if hours or amount}


def _like(sheet: Sheet, want: Posting | None, frozen: list[FinancialTransaction], **changes) -> Posting:
    """A posting for the same project, person and cost category as the portion's (wanted or already held)."""
    if want is not None:
        return replace(want, **changes)
    item = frozen[0].item
    return Posting(kind=TransactionKind.ACTUAL, project_id=item.project_id, resource_id=item.resource_id,
                   resource_name=item.name, cost_category_id=item.cost_category_id, timesheet_id=sheet.id,
                   rate_type=frozen[0].rate_type, **changes)


def _totals(lines: Iterable[tuple[Decimal, Decimal]]) -> tuple[Decimal, Decimal]:
    lines = list(lines)
    return sum((h for h, _ in lines), ZERO), sum((a for _, a in lines), ZERO)


def _held(hours: Decimal, amount: Decimal, rate_types: set[str]) -> str:
    """Money held, as details say it: "8 h / 400.00 at cost rates" (the rate type when there is only one)."""
    return f"{hours_text(hours)} / {money(amount)}" + (f" at {min(rate_types)} rates" if len(rate_types) == 1 else "")


def settle_locked(sheet: Sheet, wanted: list[Posting], existing: list[FinancialTransaction],
                  calendar: FiscalCalendar, segments: list[Segment], rule: str,
                  ) -> tuple[list[Posting], list[FinancialTransaction], list[Unposted]]:
    """Actuals around locked periods (issue 16), portion by portion. What a locked period (on hold or closed)
    holds stays there; what the portion still needs goes
    - to its own period while that is open (less what was posted late elsewhere and is locked there now);
    - after a closed period, or one on hold under the "post late" rule: to the first open day after it, as a
      late posting naming the period it belongs to (a recall posts a negative one: the reversal);
    - otherwise (on hold, "hold" rule): to an unposted portion, posted once the period is reopened.
    Returns the postings the movable (not locked) transactions are reconciled with, those transactions, and
    the unposted portions."""
    by_key = {p.key: p for p in wanted}
    held: dict[str, list[FinancialTransaction]] = defaultdict(list)
    for txn in existing:
        held[_portion(txn.posting_key)].append(txn)
    postings: list[Posting] = []
    movable: list[FinancialTransaction] = []
    unposted: list[Unposted] = []
    for key in sorted(set(by_key) | set(held)):
        want = by_key.get(key)
        frozen = [t for t in held[key] if calendar.locked_on(t.date)]
        movable += [t for t in held[key] if not calendar.locked_on(t.date)]
        home = segments[_segment_index(segments, _portion_start(key))]
        period = home.period
        if not frozen and (period is None or not period.locked):
            if want is not None:
                postings.append(want)  # the ordinary case: nothing locked in the way
            continue
        net = _net(want, frozen)
        if not net:
            continue
        hours, amount = _totals(net.values())
        kept = _held(*_totals((t.hours, t.amount) for t in frozen), {t.rate_type for t in frozen})
        where = ", ".join(sorted({t.fiscal_period.name for t in frozen if t.fiscal_period}))
        if period is None or not period.locked:
            taken = any(t.posting_key == key for t in frozen)  # the period was created after posting
            note = (f"Net of {kept} of this portion already in {where} (locked). "
                    + (want.split_note if want else "")).strip()
            postings.append(_like(sheet, want, frozen, key=f"{key}{LATE}{home.end:%Y%m%d}" if taken else key,
                                  date=home.end, fiscal_period_id=period.id if period else None, lines=net,
                                  split_note=note))
        elif period.closed or rule == LockedPeriodActuals.NEXT_OPEN:
            day = calendar.first_open_day(period.end_date + timedelta(days=1))
            target = calendar.period_on(day)
            note = (f"Posted late: belongs to {period.name} ({period.state_label.lower()}), "
                    f"{home.start:%d %b} – {home.end:%d %b %Y}; posted on {day:%d %b %Y}, the first open day "
                    f"after it{f' ({target.name})' if target else ''}. " + (want.split_note if want else "")).strip()
            postings.append(_like(sheet, want, frozen, key=f"{key}{LATE}{day:%Y%m%d}", date=day,
                                  fiscal_period_id=target.id if target else None, lines=net, split_note=note,
                                  belongs_to_period_id=period.id))
        else:
            elsewhere = f" (in {where})" if where != period.name else ""
            if not frozen:
                detail = f"{period.name} is on hold; this portion is posted when it is reopened."
            elif want is None:
                detail = (f"{period.name} is on hold: the timesheet is no longer approved, but its {kept} stay in "
                          f"the ledger{elsewhere}.")
            else:
                detail = (f"{period.name} is on hold and holds {kept} for this portion{elsewhere}; the timesheet "
                          f"now says {_held(want.hours, want.amount, {want.rate_type})}.")
            category = want.cost_category_id if want else frozen[0].item.cost_category_id
            project_id = want.project_id if want else frozen[0].item.project_id
            unposted.append(Unposted(key, project_id, category, home, hours, amount, UnpostedReason.PERIOD_LOCKED,
                                     detail))
    return postings, movable, unposted


def _replace_unposted(session: Session, sheet: Sheet, portions: list[Unposted], before: set[tuple]) -> bool:
    """Unposted portions are the current state, not a log: the timesheet's rows (`before`, as `Contents` holds
    them) become `portions`. Returns whether anything differs from before."""
    after = {(p.key, p.reason, p.hours, p.amount, p.detail) for p in portions}
    if before == after:
        return False
    session.execute(delete(UnpostedPortion).where(UnpostedPortion.timesheet_id == sheet.id)
                    .execution_options(synchronize_session="fetch"))
    for p in portions:
        session.add(UnpostedPortion(
            timesheet_id=sheet.id, project_id=p.project_id, resource_id=sheet.resource_id,
            cost_category_id=p.cost_category_id, fiscal_period_id=p.segment.period.id if p.segment.period else None,
            start_date=p.segment.start, end_date=p.segment.end, hours=p.hours, amount=p.amount, reason=p.reason,
            detail=p.detail, posting_key=p.key,
        ))
    return True


@dataclass
class Contents:
    """What the timesheet's lock guards: its entries (with their project's default cost category), the
    transactions the ledger holds for it (with their items, lines and periods) and its unposted portions, as
    (key, reason, hours, amount, detail)."""

    entries: list[Row]
    transactions: list[FinancialTransaction]
    unposted: set[tuple]


# The statements every posting runs are built once (functools.cache), with the timesheet as a parameter: building
# one and deriving its cache key cost a posting about as much as running it (issue 14).
TIMESHEET = bindparam("timesheet_id")


@cache
def _contents_statement():
    def blank(column):  # another branch's column: a NULL of its type, so the union's rows come back typed
        return cast(null(), column.type).label(column.key)

    portion, transaction = UnpostedPortion, FinancialTransaction
    return union_all(
        select(literal("entry").label("kind"), TimeEntry.project_id, TimeEntry.offering_id, TimeEntry.work_date,
               TimeEntry.hours, Project.default_cost_category_id.label("project_category_id"),
               blank(portion.posting_key), blank(portion.reason), blank(portion.amount), blank(portion.detail))
        .join(Project, TimeEntry.project_id == Project.id).where(TimeEntry.timesheet_id == TIMESHEET),
        select(literal("unposted"), null(), null(), null(), portion.hours, null(), portion.posting_key, portion.reason,
               portion.amount, portion.detail).where(portion.timesheet_id == TIMESHEET),
        select(literal("transaction"), null(), null(), null(), null(), null(), transaction.posting_key, null(), null(),
               null()).where(transaction.timesheet_id == TIMESHEET),
    )


@cache
def _transactions_statement():
    # Their items and periods are joined, their lines too: one statement whatever their number.
    transaction = FinancialTransaction
    return (select(transaction).where(transaction.timesheet_id == TIMESHEET)
            .options(joinedload(transaction.item, innerjoin=True), joinedload(transaction.lines),
                     joinedload(transaction.fiscal_period)))


def _contents(session: Session, timesheet_id: int) -> Contents:
    """Read after taking the lock. One statement reads the three (a union whose branches fill their own
    columns); the transactions are then loaded in full when there are some (a first posting has none)."""
    rows = session.execute(_contents_statement(), {"timesheet_id": timesheet_id}).all()
    contents = Contents([row for row in rows if row.kind == "entry"], [], {
        (row.posting_key, row.reason, row.hours, row.amount, row.detail) for row in rows if row.kind == "unposted"})
    if any(row.kind == "transaction" for row in rows):
        contents.transactions = list(session.scalars(_transactions_statement(),
                                                     {"timesheet_id": timesheet_id}).unique())
    return contents


@cache
def _lock_statement():
    return (select(Timesheet.id, Timesheet.resource_id, Timesheet.period_start, Timesheet.period_end,
                   Timesheet.status, Timesheet.posting_status, Timesheet.posting_note, Timesheet.posted_at,
                   Resource.name, Resource.default_cost_category_id, OrgSettings.id, OrgSettings.finance_sync_enabled,
                   OrgSettings.finance_rate_type, OrgSettings.default_cost_category_id,
                   OrgSettings.locked_period_actuals, ResourceRate.effective_from, ResourceRate.amount)
            .join(Resource, Resource.id == Timesheet.resource_id)
            .outerjoin(OrgSettings, OrgSettings.id == SINGLETON_ID)
            .outerjoin(ResourceRate, and_(ResourceRate.resource_id == Timesheet.resource_id,
                                          ResourceRate.rate_type == OrgSettings.finance_rate_type))
            .where(Timesheet.id == TIMESHEET).with_for_update(of=Timesheet))


def _locked(session: Session, timesheet_id: int) -> tuple[Sheet, FinanceSettings, RateBook]:
    """The timesheet (locked) with its person, the organization's finance settings and the person's rates of the
    settings' rate type, in one statement.

    A statement that waits for the lock returns the timesheet as it is once the lock is granted, but the rows it
    joins as they were when it started waiting. That is fine for the settings and rates: nothing serializes their
    changes with postings, so a change could as well have committed just after a read of their own. What the
    lock does guard (entries, transactions, unposted portions) is read by the next statement, after it
    (`_contents`)."""
    rows = session.execute(_lock_statement(), {"timesheet_id": timesheet_id}).all()
    if not rows:
        raise NotFound("That timesheet does not exist.")
    ident, resource_id, start, end, status, posting_status, note, posted_at, name, category, *found = rows[0][:15]
    sheet = Sheet(ident, resource_id, start, end, status, posting_status, note, posted_at,
                  Person(resource_id, name, category))
    if found[0] is None:  # no settings yet: their defaults, stored
        settings = FinanceSettings.of(get_settings(session))
        return sheet, settings, RateBook.load(session, [resource_id], settings.finance_rate_type)
    return sheet, FinanceSettings(*found[1:]), RateBook(
        (resource_id, day, amount) for *_, day, amount in rows if day is not None)


def _set_posting_state(session: Session, sheet: Sheet, **values) -> None:
    """Write the values (posting status, note, time) that differ from what `sheet` read. A Core update (the
    ORM's would look for the timesheet among those the session holds); one the session holds reads them back
    when next asked."""
    changed = {name: value for name, value in values.items() if getattr(sheet, name) != value}
    if not changed:
        return
    table = Timesheet.__table__
    session.execute(table.update().where(table.c.id == sheet.id).values(**changed))  # and updated_at
    held = session.identity_map.get(identity_key(Timesheet, sheet.id))
    if held is not None:
        session.expire(held, [*changed, "updated_at"])


def post_timesheet(session: Session, timesheet_id: int, actor: str = ACTOR) -> Outcome:
    """Bring the timesheet's actuals in line with its state: posted while approved, removed otherwise.

    The timesheet row is locked for the duration, so concurrent jobs for one timesheet run one after the
    other; the second finds the ledger already right and changes nothing.
    """
    sheet, settings, rates = _locked(session, timesheet_id)
    approved = sheet.status == TimesheetStatus.APPROVED
    contents = _contents(session, sheet.id)
    existing = contents.transactions
    if approved and not settings.finance_sync_enabled:
        # Sync off: nothing new is posted; what an earlier posting wrote stays until a recall.
        _set_posting_state(session, sheet, posting_status=PostingStatus.POSTED if existing else PostingStatus.HELD)
        return Outcome(kept=len(existing))

    entries = contents.entries if approved else []
    days = [sheet.period_start, sheet.period_end, *(e.work_date for e in entries), *(t.date for t in existing)]
    # Every later period too: a late posting goes to the first open day after a locked period.
    calendar = FiscalCalendar.load(session, min(days), None, share_lock=True)
    segments = calendar.segments(min(days), max(days))
    plan = Plan([], [], "")
    if approved:
        plan = plan_actuals(sheet, entries, rates, settings, segments)
    postings, movable, held_back = settle_locked(sheet, plan.postings, existing, calendar, segments,
                                                 settings.locked_period_actuals)
    outcome = reconcile(session, postings, movable, calendar)
    unposted = plan.unposted + held_back
    unposted_changed = _replace_unposted(session, sheet, unposted, contents.unposted)

    status = PostingStatus.POSTED if approved else PostingStatus.NONE
    values = dict(posting_status=status, posting_note=plan.note)
    if outcome.changed or sheet.posting_status != status:
        values["posted_at"] = utcnow() if approved else None
    _set_posting_state(session, sheet, **values)
    if outcome.changed or unposted_changed:
        late = sum(1 for p in postings if p.belongs_to_period_id is not None)
        summary = (f"Actual transactions: {outcome.created} posted, {outcome.deleted} removed"
                   + (f"; {late} posted late for locked periods" if late else "")
                   + (f"; {plural(len(unposted), 'portion')} not posted" if unposted else ""))
        audit.record(session, actor, "timesheet.actuals_posted" if approved else "timesheet.actuals_removed",
                     subject_type=Timesheet.__tablename__, subject_id=sheet.id,
                     after={**outcome.as_dict(), "unposted": len(unposted), "late": late}, summary=summary)
    session.flush()
    return outcome
