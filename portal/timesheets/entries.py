"""Time entries people type into the portal, and the weekly timesheet every entry belongs to.

An entry joins the timesheet of its resource's week (the week start is an organization setting). A
submitted, approved or recalled timesheet is frozen: its time changes once it is rejected, withdrawn or
returned to draft. Whether a project takes time, and from whom, is its stage's and its own options' decision
(policy.time_entry_refusal, seed 004); entries may name one of the project's tasks.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import audit, events
from portal.auth import policy
from portal.auth.models import User
from portal.errors import Conflict, InvalidInput, NotAllowed, NotFound, get_or_raise
from portal.formatting import hours_text
from portal.org.services import get_settings
from portal.planning.tasks import task_for_entry
from portal.projects.models import Offering, Resource
from portal.timesheets.models import EntrySource, TimeEntry, Timesheet, TimesheetStatus

MAX_HOURS_PER_DAY = Decimal("24")
# Recalled too: after a recall the timesheet goes back to submitted or to draft, and only a draft changes.
FROZEN = (TimesheetStatus.SUBMITTED, TimesheetStatus.APPROVED, TimesheetStatus.RECALLED)
ENTRY_FIELDS = ["resource_id", "offering_id", "project_id", "work_date", "hours", "billable", "description",
                "task_id", "bill_rate"]
KEEP = object()  # "leave this field as it is" for optional arguments where None is a value


@lru_cache(maxsize=4096)  # a sync asks for the same few weeks a hundred thousand times
def week_of(day: date, first_weekday: int) -> tuple[date, date]:
    start = day - timedelta(days=(day.weekday() - first_weekday) % 7)
    return start, start + timedelta(days=6)


def timesheet_for(session: Session, resource_id: int, day: date) -> Timesheet:
    """The resource's timesheet for the week of `day`, created on first use (safe under concurrency)."""
    start, end = week_of(day, get_settings(session).week_start)
    found = session.scalar(select(Timesheet).where(Timesheet.resource_id == resource_id,
                                                   Timesheet.period_start == start))
    if found is not None:
        return found
    try:
        with session.begin_nested():
            sheet = Timesheet(resource_id=resource_id, period_start=start, period_end=end)
            session.add(sheet)
        return sheet
    except IntegrityError:
        return session.scalar(select(Timesheet).where(Timesheet.resource_id == resource_id,
                                                      Timesheet.period_start == start))


def ensure_editable(sheet: Timesheet) -> None:
    if sheet.status in FROZEN:
        raise Conflict(f"The timesheet for the week of {sheet.period_start:%d %b %Y} is {sheet.status}; "
                       "its time can change once it is rejected, withdrawn or returned to draft.")


def resource_of(session: Session, user: User) -> Resource | None:
    return session.scalar(select(Resource).where(Resource.user_id == user.id))


def _check_actor(session: Session, actor: User | str | None, resource_id: int) -> None:
    """People enter their own time; admins may enter anyone's."""
    if not isinstance(actor, User) or policy.is_admin(actor):
        return
    own = resource_of(session, actor)
    if own is None or own.id != resource_id:
        raise NotAllowed("You can enter time only for yourself.")


def parse_hours(text: str | None) -> Decimal | None:
    """Hours as people type them: 7.5, 7,5 or 7:30 (hours and minutes); None when blank."""
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    hours, colon, minutes = (part.strip() for part in text.partition(":"))
    if not colon:
        try:
            value = Decimal(text)
            if not value.is_finite():  # NaN, Infinity: no number of hours (and NaN cannot even be compared)
                raise ArithmeticError(text)
            return value
        except ArithmeticError:
            raise InvalidInput("Enter hours as a number, like 7.5 or 7:30.",
                               fields={"hours": "Enter a number, like 7.5 or 7:30."}) from None
    if not (hours.isdigit() or not hours) or not minutes.isdigit() or int(minutes) >= 60:
        raise InvalidInput("Enter hours and minutes like 7:30.", fields={"hours": "Like 7:30."})
    return Decimal(int(hours or 0)) + Decimal(int(minutes)) / 60


def clean_hours(hours: Any) -> Decimal:
    if isinstance(hours, str):
        hours = parse_hours(hours)
        if hours is None:
            raise InvalidInput("Enter the hours, like 7.5 or 7:30.", fields={"hours": "Enter the hours."})
    try:
        value = Decimal(str(hours)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (ArithmeticError, ValueError):
        raise InvalidInput("Enter hours as a number, like 7.5.", fields={"hours": "Enter a number."}) from None
    if value <= 0 or value > MAX_HOURS_PER_DAY:
        raise InvalidInput("Hours must be more than 0 and at most 24.", fields={"hours": "More than 0, at most 24."})
    return value


def check_day_total(session: Session, resource_id: int, work_date: date, hours: Decimal,
                     excluding: int | None = None) -> None:
    query = select(func.coalesce(func.sum(TimeEntry.hours), 0)).where(
        TimeEntry.resource_id == resource_id, TimeEntry.work_date == work_date)
    if excluding is not None:
        query = query.where(TimeEntry.id != excluding)
    total = Decimal(str(session.scalar(query))) + hours
    if total > MAX_HOURS_PER_DAY:
        raise InvalidInput(f"That makes {hours_text(total)} on {work_date:%d %b %Y}; a day has 24.",
                           fields={"hours": "More than 24 hours that day."})


def check_project_rules(session: Session, offering: Offering, resource_id: int, description: str,
                        task_id: int | None) -> None:
    """The project's time entry rules (seed 004): open for time, who may enter time, descriptions, task."""
    project = offering.project
    refusal = policy.time_entry_refusal(project, offering, resource_id)
    if refusal:
        raise NotAllowed(refusal)
    if policy.time_entry_refusal(project, description=description or ""):
        raise InvalidInput(f"Time entries on {project.name} need a description.",
                           fields={"description": "Describe the work."})
    task_for_entry(session, project.id, task_id)


def assignment_rate(offering: Offering, resource_id: int):
    """The bill rate an entry is valued at when entered: the person's assignment rate on the offering."""
    return next((a.bill_rate for a in offering.assignments if a.resource_id == resource_id), None)


def add_entry(session: Session, actor: User | str | None, *, resource_id: int, offering_id: int,
              work_date: date, hours: Any, description: str = "", billable: bool | None = None,
              task_id: int | None = None) -> TimeEntry:
    """Record native time. Refused when the project does not take time from this person now (its stage,
    its own options), when a required description or a wrong task is given, or when the week is frozen."""
    offering = session.get(Offering, offering_id)
    if offering is None:
        raise InvalidInput("Choose what you worked on.", fields={"offering_id": "Choose an offering."})
    if session.get(Resource, resource_id) is None:
        raise NotFound("That person does not exist.")
    _check_actor(session, actor, resource_id)
    check_project_rules(session, offering, resource_id, description, task_id)
    value = clean_hours(hours)
    check_day_total(session, resource_id, work_date, value)
    sheet = timesheet_for(session, resource_id, work_date)
    ensure_editable(sheet)
    entry = TimeEntry(resource_id=resource_id, offering_id=offering.id, project_id=offering.project_id,
                      work_date=work_date, hours=value, description=(description or "").strip(),
                      billable=offering.is_billable if billable is None else billable, source=EntrySource.NATIVE,
                      timesheet=sheet, created_by_id=actor.id if isinstance(actor, User) else None,
                      task_id=task_id, bill_rate=assignment_rate(offering, resource_id))
    record_new(session, actor, entry, "time_entry.created", f"{value} h on {offering.name} ({work_date})")
    return entry


def record_new(session: Session, actor: User | str | None, entry: TimeEntry, action: str, summary: str) -> None:
    """Add an entry to its timesheet (whose version moves on), audited, and tell other domains."""
    session.add(entry)
    entry.timesheet.version += 1
    session.flush()
    audit.record(session, actor, action, entry, after=audit.snapshot(entry, ENTRY_FIELDS), summary=summary)
    events.time_entry_changed.send(entry, session=session, actor=actor, changes={})


def native_entry(session: Session, entry_id: int) -> TimeEntry:
    """A native entry by id; synced entries are read-only here."""
    entry = get_or_raise(session, TimeEntry, entry_id, "time entry")
    if entry.is_synced:
        raise NotAllowed("Time synced from a timesheet tool is read-only here; change it in the tool.")
    return entry


def update_entry(session: Session, actor: User | str | None, entry_id: int, *, work_date: date, hours: Any,
                 description: str, billable: bool, task_id: int | None | object = KEEP) -> TimeEntry:
    """Change one's own native entry, under the same project rules as adding it (`task_id` KEEP: as is)."""
    entry = native_entry(session, entry_id)
    _check_actor(session, actor, entry.resource_id)
    task_id = entry.task_id if task_id is KEEP else task_id
    # The task it already has may have closed since; only a newly chosen task must be open.
    check_project_rules(session, entry.offering, entry.resource_id, description,
                        None if task_id == entry.task_id else task_id)
    value = clean_hours(hours)
    check_day_total(session, entry.resource_id, work_date, value, excluding=entry.id)
    ensure_editable(entry.timesheet)
    target = timesheet_for(session, entry.resource_id, work_date)
    ensure_editable(target)
    before = audit.snapshot(entry, ENTRY_FIELDS)
    entry.work_date, entry.hours, entry.billable = work_date, value, billable
    entry.description, entry.task_id = (description or "").strip(), task_id
    for sheet in {entry.timesheet, target}:
        sheet.version += 1
    entry.timesheet = target
    session.flush()
    record_change(session, actor, entry, before, "time_entry.updated", f"Time entry on {entry.work_date} changed")
    return entry


def record_change(session: Session, actor: User | str | None, entry: TimeEntry, before: dict[str, Any], action: str,
                  summary: str, fields: list[str] = ENTRY_FIELDS) -> None:
    """Audit what changed on an entry since `before` (its snapshot of `fields`) and tell other domains."""
    old, new = audit.changes(before, audit.snapshot(entry, fields))
    if new:
        audit.record(session, actor, action, entry, before=old, after=new, summary=summary)
        events.time_entry_changed.send(entry, session=session, actor=actor,
                                       changes={k: [old.get(k), v] for k, v in new.items()})


def delete_entry(session: Session, actor: User | str | None, entry_id: int) -> None:
    entry = native_entry(session, entry_id)
    _check_actor(session, actor, entry.resource_id)
    ensure_editable(entry.timesheet)
    entry.timesheet.version += 1
    events.time_entry_changed.send(entry, session=session, actor=actor, changes={"deleted": [False, True]})
    audit.record(session, actor, "time_entry.deleted", entry, before=audit.snapshot(entry, ENTRY_FIELDS),
                 summary=f"Deleted {hours_text(entry.hours)} on {entry.work_date:%d %b %Y}")
    session.delete(entry)
    session.flush()
