"""Timesheet to Finance Sync (seed 003): approved hours become actual transactions on the project.

The rules, each applied by `post_timesheet`:
- amount = hours × the resource's rate of the organization's rate type (cost or sell) effective on the
  work date; entries without such a rate are skipped without an error (and noted on the timesheet);
- the cost category is the project's default, else the resource's, else the organization's;
- all of a timesheet's entries on one project roll into one transaction per fiscal period the timesheet
  touches, dated the last day of that period, the final one the timesheet's finish date, each noting why
  it is split; a portion that computes to 0 creates no transaction;
- the transaction goes on the project's item for the resource and cost category (created on first use);
- nothing is added, changed or deleted in a locked period: such a portion is kept as an unposted portion;
- a timesheet that is no longer approved has no transactions outside locked periods.

`post_timesheet` computes the state the ledger should have from the current data and reconciles it, so
it is idempotent and approve → recall → approve leaves exactly what one approval leaves.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Row, delete, select
from sqlalchemy.orm import Session, joinedload, selectinload

from portal import audit
from portal.columns import utcnow
from portal.errors import NotFound
from portal.finance.ledger import ZERO, Blocked, FiscalCalendar, Outcome, Posting, Segment, reconcile
from portal.finance.models import (
    FinancialTransaction,
    TransactionKind,
    UnpostedPortion,
    UnpostedReason,
)
from portal.formatting import hours_text, money, plural
from portal.org.models import OrgSettings
from portal.org.services import get_settings
from portal.projects.models import Project, Resource
from portal.projects.rates import RateBook, to_cents
from portal.timesheets.models import PostingStatus, TimeEntry, Timesheet, TimesheetStatus

ACTOR = "finance posting"


def cost_category_for(project_category_id: int | None, resource: Resource, settings: OrgSettings) -> int | None:
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


def _split_note(sheet: Timesheet, segments: list[Segment], parts: list[int], index: int) -> str:
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


def _worked(session: Session, timesheet_id: int) -> list[Row]:
    """The timesheet's entries as plain rows, with their project's default cost category."""
    return list(session.execute(
        select(TimeEntry.project_id, TimeEntry.offering_id, TimeEntry.work_date, TimeEntry.hours,
               Project.default_cost_category_id.label("project_category_id"))
        .join(Project, TimeEntry.project_id == Project.id).where(TimeEntry.timesheet_id == timesheet_id)
    ).all())


def plan_actuals(sheet: Timesheet, entries: list[Row], rates: RateBook, settings: OrgSettings,
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


def _held(value: Posting | FinancialTransaction) -> str:
    return f"{hours_text(value.hours)} / {money(value.amount)} at {value.rate_type} rates"


def _locked_portion(blocked: Blocked, segments: list[Segment]) -> Unposted:
    """What a locked period keeps from changing, in words and money (negative: the ledger holds too much)."""
    posting, locked = blocked.posting, blocked.locked
    day = posting.date if posting else locked.date
    segment = segments[_segment_index(segments, day)]
    period = segment.period.name
    if locked is None:
        detail = f"{period} is locked; this portion was not posted."
        hours, amount = posting.hours, posting.amount
    elif posting is None:
        detail = (f"{period} is locked: the timesheet is no longer approved, but its {_held(locked)} stay in "
                  "the ledger there.")
        hours, amount = -locked.hours, -locked.amount
    else:
        detail = (f"{period} is locked and holds {_held(locked)} for this portion; the timesheet now says "
                  f"{_held(posting)}.")
        hours, amount = posting.hours - locked.hours, posting.amount - locked.amount
    project_id = posting.project_id if posting else locked.item.project_id
    category = posting.cost_category_id if posting else locked.item.cost_category_id
    key = posting.key if posting else locked.posting_key
    return Unposted(key, project_id, category, segment, hours, amount, UnpostedReason.PERIOD_LOCKED, detail)


def _replace_unposted(session: Session, sheet: Timesheet, portions: list[Unposted]) -> bool:
    """Unposted portions are the current state, not a log: the timesheet's rows become `portions`.
    Returns whether anything differs from before."""
    current = session.scalars(select(UnpostedPortion).where(UnpostedPortion.timesheet_id == sheet.id)).all()
    before = {(u.posting_key, u.reason, u.hours, u.amount, u.detail) for u in current}
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


def post_timesheet(session: Session, timesheet_id: int, actor: str = ACTOR) -> Outcome:
    """Bring the timesheet's actuals in line with its state: posted while approved, removed otherwise.

    The timesheet row is locked for the duration, so concurrent jobs for one timesheet run one after the
    other; the second finds the ledger already right and changes nothing.
    """
    sheet = session.scalar(select(Timesheet).where(Timesheet.id == timesheet_id)
                           .options(joinedload(Timesheet.resource, innerjoin=True))
                           .with_for_update(of=Timesheet).execution_options(populate_existing=True))
    if sheet is None:
        raise NotFound("That timesheet does not exist.")
    settings = get_settings(session)
    approved = sheet.status == TimesheetStatus.APPROVED
    existing = list(session.scalars(
        select(FinancialTransaction).where(FinancialTransaction.timesheet_id == sheet.id)
        .options(selectinload(FinancialTransaction.item), selectinload(FinancialTransaction.lines))
    ))
    if approved and not settings.finance_sync_enabled:
        # Sync off: nothing new is posted; what an earlier posting wrote stays until a recall.
        sheet.posting_status = PostingStatus.POSTED if existing else PostingStatus.HELD
        return Outcome(kept=len(existing))

    entries = _worked(session, sheet.id) if approved else []
    days = [sheet.period_start, sheet.period_end, *(e.work_date for e in entries), *(t.date for t in existing)]
    calendar = FiscalCalendar.load(session, min(days), max(days), share_lock=True)
    segments = calendar.segments(min(days), max(days))
    plan = Plan([], [], "")
    if approved:
        rates = RateBook.load(session, [sheet.resource_id], settings.finance_rate_type)
        plan = plan_actuals(sheet, entries, rates, settings, segments)
    outcome = reconcile(session, plan.postings, existing, calendar)
    unposted = plan.unposted + [_locked_portion(b, segments) for b in outcome.blocked]
    unposted_changed = _replace_unposted(session, sheet, unposted)

    status = PostingStatus.POSTED if approved else PostingStatus.NONE
    if outcome.changed or sheet.posting_status != status:
        sheet.posted_at = utcnow() if approved else None
    sheet.posting_status, sheet.posting_note = status, plan.note
    if outcome.changed or unposted_changed:
        summary = (f"Actual transactions: {outcome.created} posted, {outcome.deleted} removed"
                   + (f"; {plural(len(unposted), 'portion')} not posted" if unposted else ""))
        audit.record(session, actor, "timesheet.actuals_posted" if approved else "timesheet.actuals_removed", sheet,
                     after={**outcome.as_dict(), "unposted": len(unposted)}, summary=summary)
    session.flush()
    return outcome
