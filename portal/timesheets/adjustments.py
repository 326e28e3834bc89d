"""PM adjustments of time entries (seed 004): transfers to another project, write up/down, revalue.

- Transfer: a PM whose project's stage lets PMs transfer time (or adjust time and cost) moves entries to
  an offering of another project they manage; the target must be open for time transfers.
- Adjust: write hours up or down, change the bill rate, task or billable flag ("adjust time and cost").
- Revalue: when an assignment's bill rate changes, its entries take the new rate ("revalue time").
Synced entries belong to their tool and are refused; entries of a submitted or approved week are frozen.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit, events
from portal.auth import policy
from portal.auth.models import User
from portal.errors import InvalidInput
from portal.formatting import hours_text
from portal.planning.tasks import task_for_entry
from portal.projects.models import Assignment, Offering
from portal.projects.services import update_assignment
from portal.timesheets.entries import (
    ENTRY_FIELDS,
    assignment_rate,
    check_day_total,
    clean_hours,
    ensure_editable,
    native_entry,
)
from portal.timesheets.models import TimeEntry

MAX_RATE = Decimal("100000")


def _changed(session: Session, actor: User | str | None, entry: TimeEntry, before: dict[str, Any], action: str,
             summary: str) -> None:
    old, new = audit.changes(before, audit.snapshot(entry, ENTRY_FIELDS))
    if new:
        entry.timesheet.version += 1
        audit.record(session, actor, action, entry, before=old, after=new, summary=summary)
        events.time_entry_changed.send(entry, session=session, actor=actor,
                                       changes={k: [old.get(k), v] for k, v in new.items()})


def transfer_time_entries(session: Session, actor: User | str | None, entry_ids: list[int],
                          target_offering_id: int | None) -> list[TimeEntry]:
    """Move native entries onto another offering (of this or another project); all or none."""
    if not entry_ids:
        raise InvalidInput("Tick the time entries to transfer.", fields={"entry_ids": "Tick at least one."})
    target = session.get(Offering, target_offering_id) if target_offering_id else None
    if target is None:
        raise InvalidInput("Choose the offering to transfer to.", fields={"target_offering_id": "Choose one."})
    policy.refuse(policy.transfer_onto_refusal(actor, target.project, "time"))
    moved = []
    for entry_id in entry_ids:
        entry = native_entry(session, entry_id)
        source = entry.project
        policy.refuse(policy.transfer_off_refusal(actor, source, "time"))
        if entry.offering_id == target.id:
            continue
        ensure_editable(entry.timesheet)
        before = audit.snapshot(entry, ENTRY_FIELDS)
        if entry.project_id != target.project_id:
            entry.task_id = None  # tasks belong to their project
        entry.project_id, entry.offering_id = target.project_id, target.id
        entry.bill_rate = assignment_rate(target, entry.resource_id)
        session.flush()
        session.expire(entry, ["project", "offering"])
        _changed(session, actor, entry, before, "time_entry.transferred",
                 f"{hours_text(entry.hours)} of {entry.work_date:%d %b %Y} transferred from {source.name} to "
                 f"{target.project.name}")
        moved.append(entry)
    return moved


def adjust_time_entry(session: Session, actor: User | str | None, entry_id: int, *, hours: Any,
                      bill_rate: Decimal | None, task_id: int | None, billable: bool) -> TimeEntry:
    """Write an entry up or down, revalue it, change its task or billable flag."""
    entry = native_entry(session, entry_id)
    project = entry.project
    if isinstance(actor, User):
        policy.require(policy.can_adjust_time_cost(actor, project),
                       f"You cannot adjust time while {project.name} is in {project.stage.name}.")
    ensure_editable(entry.timesheet)
    value = clean_hours(hours)
    check_day_total(session, entry.resource_id, entry.work_date, value, excluding=entry.id)
    if bill_rate is not None and not 0 <= bill_rate <= MAX_RATE:
        raise InvalidInput("A bill rate is between 0 and 100,000.", fields={"bill_rate": "Out of range."})
    task_for_entry(session, project.id, task_id)
    before = audit.snapshot(entry, ENTRY_FIELDS)
    entry.hours, entry.bill_rate, entry.task_id, entry.billable = value, bill_rate, task_id, billable
    session.flush()
    _changed(session, actor, entry, before, "time_entry.adjusted",
             f"Time entry of {entry.work_date} on {project.name} adjusted")
    return entry


def change_assignment(session: Session, actor: User | str | None, assignment_id: int, *, bill_rate: Decimal | None,
                      planned_hours: Decimal, role: str, revalue: bool = False) -> Assignment:
    """Change an assignment (the Team tab). `revalue` also gives its existing time entries the (new) bill
    rate, which needs the stage's "revalue time on rate change" right (seed 004)."""
    assignment = update_assignment(session, actor, assignment_id, bill_rate=bill_rate, planned_hours=planned_hours,
                                   role=role)
    if revalue:
        revalue_time(session, actor, assignment)
    return assignment


def revalue_time(session: Session, actor: User | str | None, assignment: Assignment) -> int:
    """Give every entry of the assignment (its person on its offering) the assignment's bill rate."""
    project = assignment.offering.project
    if isinstance(actor, User):
        policy.require(policy.can_revalue_time(actor, project),
                       f"You cannot revalue time while {project.name} is in {project.stage.name}.")
    entries = list(session.scalars(select(TimeEntry).where(
        TimeEntry.offering_id == assignment.offering_id, TimeEntry.resource_id == assignment.resource_id,
        TimeEntry.bill_rate.is_(None) | (TimeEntry.bill_rate != assignment.bill_rate))))
    for entry in entries:
        before = entry.bill_rate
        entry.bill_rate = assignment.bill_rate
        events.time_entry_changed.send(entry, session=session, actor=actor,
                                       changes={"bill_rate": [before, assignment.bill_rate]})
    if entries:
        session.flush()
        audit.record(session, actor, "time_entry.revalued", assignment,
                     after={"bill_rate": assignment.bill_rate, "entries": [e.id for e in entries]},
                     summary=f"{len(entries)} time entries of {assignment.resource.name} on "
                             f"{assignment.offering.name} revalued at {assignment.bill_rate}")
    return len(entries)
