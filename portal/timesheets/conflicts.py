"""Changes a timesheet tool made to approved time, held for the approver ("changed in Toggl after approval"),
and `apply_change`, the one way every tool's sync writes a change of a synced entry.

No tool changes an approved (or recalled) timesheet: the change is recorded here, one open conflict per
synced entry (a later change replaces the proposal; a change back to the approved values, or one that finds
the timesheet open again, closes it). The approver sees them on the timesheet's page and
- accepts: the timesheet goes back to submitted (an approval is recalled first, so finance removes its
  actuals; approving again posts the new ones) and the change is applied;
- rejects: the approved time stays; the tool's version is remembered, so the same change is not raised
  again (a later one is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit
from portal.auth import policy
from portal.auth.models import User
from portal.columns import utcnow
from portal.errors import Conflict, get_or_raise
from portal.formatting import hours
from portal.timesheets import standins, synced, workflow
from portal.timesheets.entries import timesheet_for
from portal.timesheets.models import ConflictStatus, TimeEntry, Timesheet, TimesheetConflict
from portal.timesheets.synced import SyncedValues


@dataclass
class Applied:
    """What became of a tool's change: "created", "updated", "deleted", "unchanged" (the portal has it
    already), "held" (approved time: a conflict waits for the approver) or "kept" (the approver rejected
    this very change before). `text` says it for the sync's log."""

    outcome: str
    text: str
    entry_id: int | None = None
    conflict: TimesheetConflict | None = None

    @property
    def changed(self) -> bool:
        return self.outcome in ("created", "updated", "deleted")


def apply_change(session: Session, actor: User | str | None, *, connection_id: int, source: str, external_id: str,
                 entry: TimeEntry | None, values: SyncedValues | None, bill_rate: Decimal | None = None,
                 why: str = "") -> Applied:
    """Bring the portal's copy of a tool's entry in line with the tool: create it (no `entry`), change it, or
    delete it (no `values`; `why` says why). Applied while every timesheet involved is open (draft,
    submitted, rejected; their versions move on); held for the approver when one is approved or recalled.
    The caller has locked `entry` and checked the project's rules."""
    label = synced.source_label(source)
    if entry is not None and values is not None and not values.differs_from(entry):
        entry.external_updated_at = values.external_updated_at
        _close_open(session, connection_id, external_id, f"changed back in {label}")
        return Applied("unchanged", "Already up to date.", entry.id)
    sheets = [s for s in (entry.timesheet if entry is not None else None,
                          timesheet_for(session, values.resource_id, values.work_date) if values else None) if s]
    statuses = synced.lock_timesheets(session, {s.id for s in sheets})
    held = next((s for s in sheets if synced.is_held(statuses[s.id])), None)
    if held is not None:
        conflict = hold(session, actor, connection_id=connection_id, external_id=external_id, source=source,
                        sheet=held, entry=entry, values=values, bill_rate=bill_rate)
        if conflict is None:
            return Applied("kept", "The approver kept the approved time against this very change.",
                           entry.id if entry else None)
        return Applied("held", f"{conflict.summary}. Held for the approver on the timesheet of "
                               f"{held.resource.name}, week of {held.period_start:%d %b %Y}.",
                       entry.id if entry else None, conflict)
    if values is None:
        _close_open(session, connection_id, external_id, "removed once the timesheet was open again")
        text = f"Removed {hours(entry.hours)} h on {entry.work_date:%d %b %Y}: {why}"
        entry_id = entry.id
        synced.delete_entry(session, actor, entry, why)
        return Applied("deleted", text, entry_id)
    _close_open(session, connection_id, external_id, "applied once the timesheet was open again")
    if entry is None:
        created = synced.create_entry(session, actor, connection_id, source, external_id, values, bill_rate)
        return Applied("created", f"Imported {hours(values.hours)} h on {values.work_date:%d %b %Y}.", created.id)
    change = synced.describe(values, entry)
    synced.update_entry(session, actor, entry, values)
    return Applied("updated", f"Updated: {change}", entry.id)


def _close_open(session: Session, connection_id: int, external_id: str, why: str) -> None:
    conflict = open_conflict(session, connection_id, external_id)
    if conflict is not None:
        close(session, conflict, why)


def open_conflict(session: Session, connection_id: int, external_id: str) -> TimesheetConflict | None:
    return session.scalar(select(TimesheetConflict).where(
        TimesheetConflict.connection_id == connection_id, TimesheetConflict.external_id == external_id,
        TimesheetConflict.status == ConflictStatus.OPEN))


def was_rejected(session: Session, connection_id: int, external_id: str, action: str,
                 external_updated_at: datetime | None) -> bool:
    """Whether the approver already rejected this change: any deletion of the entry, or this version of it."""
    stamps = session.scalars(select(TimesheetConflict.external_updated_at).where(
        TimesheetConflict.connection_id == connection_id, TimesheetConflict.external_id == external_id,
        TimesheetConflict.status == ConflictStatus.REJECTED, TimesheetConflict.action == action)).all()
    if action == "delete":
        return bool(stamps)
    return any(s is not None and external_updated_at is not None and s >= external_updated_at for s in stamps)


def hold(session: Session, actor: User | str | None, *, connection_id: int, external_id: str, source: str,
         sheet: Timesheet, entry: TimeEntry | None, values: SyncedValues | None,
         bill_rate: Decimal | None = None) -> TimesheetConflict | None:
    """Hold a change to approved time (create: no `entry`; delete: no `values`). Returns the open conflict,
    or None when the approver already rejected this change."""
    action = "create" if entry is None else "delete" if values is None else "update"
    stamp = values.external_updated_at if values else None
    if was_rejected(session, connection_id, external_id, action, stamp):
        return None
    label = synced.source_label(source)
    summary = f"Changed in {label} after approval: {synced.describe(values, entry)}"
    proposed = {**values.plain(), "source": source,
                "bill_rate": str(bill_rate) if bill_rate is not None else None} if values else None
    current = audit.snapshot(entry, synced.SYNCED_FIELDS) if entry is not None else None
    conflict = open_conflict(session, connection_id, external_id)
    if conflict is None:
        conflict = TimesheetConflict(connection_id=connection_id, external_id=external_id)
        session.add(conflict)
    elif (conflict.action, conflict.proposed) == (action, proposed):
        return conflict
    conflict.timesheet_id, conflict.time_entry_id = sheet.id, entry.id if entry else None
    conflict.action, conflict.proposed, conflict.current = action, proposed, current
    conflict.external_updated_at, conflict.summary = stamp, summary[:500]
    session.flush()
    audit.record(session, actor, "timesheet.conflict_held", sheet, after={
        "external_id": external_id, "action": action, "proposed": proposed}, summary=summary)
    return conflict


def close(session: Session, conflict: TimesheetConflict, why: str) -> None:
    """The change no longer waits for a decision: the tool changed it back, or it applied by itself."""
    conflict.status = ConflictStatus.SUPERSEDED
    conflict.summary = f"{conflict.summary} ({why})"[:500]
    session.flush()


def for_timesheet(session: Session, timesheet_id: int) -> list[TimesheetConflict]:
    """The timesheet's conflicts: open ones first, then the decided ones, newest first."""
    rows = session.scalars(select(TimesheetConflict).where(TimesheetConflict.timesheet_id == timesheet_id)
                           .order_by(TimesheetConflict.id.desc())).all()
    return sorted(rows, key=lambda c: c.status != ConflictStatus.OPEN)


def _decidable(session: Session, actor: User | str | None, conflict_id: int) -> tuple[TimesheetConflict, User | None]:
    """The open conflict, and the approver the actor decides for when standing in (None: their own right)."""
    conflict = get_or_raise(session, TimesheetConflict, conflict_id, "change", with_for_update=True,
                            populate_existing=True)
    sheet = conflict.timesheet
    on_behalf = None
    if isinstance(actor, User):
        decider = workflow.decider(session, actor, sheet)
        policy.require(decider is not None, "Only someone who may approve this timesheet decides on its changes.")
        on_behalf = decider if decider.id != actor.id else None
    if conflict.status != ConflictStatus.OPEN:
        raise Conflict(f"This change was already {conflict.status}. Reload to see the timesheet as it is.")
    return conflict, on_behalf


def accept(session: Session, actor: User | str | None, conflict_id: int) -> TimesheetConflict:
    """Send the timesheet(s) back to submitted and apply the tool's change."""
    conflict, on_behalf = _decidable(session, actor, conflict_id)
    entry = conflict.time_entry
    values = SyncedValues.from_plain(conflict.proposed, conflict.external_updated_at) if conflict.proposed else None
    held = {conflict.timesheet}
    if entry is not None and entry.timesheet is not None:
        held.add(entry.timesheet)
    if values is not None:
        held.add(timesheet_for(session, values.resource_id, values.work_date))
    for sheet in sorted(held, key=lambda s: s.id):
        if synced.is_held(sheet.status):
            workflow.return_to_submitted(session, actor, sheet.id, conflict.summary)
    if conflict.action == "create":
        rate = conflict.proposed.get("bill_rate")
        synced.create_entry(session, actor, conflict.connection_id, conflict.proposed["source"],
                            conflict.external_id, values, Decimal(rate) if rate is not None else None)
    elif entry is None:
        pass  # the entry went meanwhile (deleted with its offering): nothing left to change
    elif values is None:
        synced.delete_entry(session, actor, entry, "deleted in the tool after approval; the approver accepted")
    else:
        synced.update_entry(session, actor, entry, values)
    return _decide(session, actor, conflict, ConflictStatus.ACCEPTED, on_behalf)


def reject(session: Session, actor: User | str | None, conflict_id: int) -> TimesheetConflict:
    """Keep the approved time; this version of the tool's change is not raised again."""
    conflict, on_behalf = _decidable(session, actor, conflict_id)
    entry = conflict.time_entry
    if entry is not None and conflict.external_updated_at is not None:
        entry.external_updated_at = max(entry.external_updated_at or conflict.external_updated_at,
                                        conflict.external_updated_at)
    return _decide(session, actor, conflict, ConflictStatus.REJECTED, on_behalf)


def _decide(session: Session, actor: User | str | None, conflict: TimesheetConflict, status: str,
            on_behalf: User | None = None) -> TimesheetConflict:
    conflict.status, conflict.decided_at = status, utcnow()
    conflict.decided_by_id = actor.id if isinstance(actor, User) else None
    session.flush()
    behalf = standins.behalf_note(actor, on_behalf)
    audit.record(session, actor, f"timesheet.conflict_{status}", conflict.timesheet,
                 after={"external_id": conflict.external_id, "action": conflict.action},
                 summary=f"{status.capitalize()}{behalf}: {conflict.summary}", on_behalf_of=on_behalf)
    return conflict

