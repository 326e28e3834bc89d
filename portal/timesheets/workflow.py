"""Timesheet decisions: submit, withdraw, approve, reject, recall, and what follows a recall.

States (issue 6): draft → submitted → approved | rejected (with a reason); approved → recalled (with a
reason) → back to submitted or to draft. A rejected timesheet is corrected and submitted again; its owner
may withdraw a submitted one to change it.

Every transition is one conditional UPDATE on (id, version, status): a form opened before the timesheet
changed (an entry edited, someone else decided) is refused as stale, and of two simultaneous approvals
exactly one succeeds. Each transition is audited and sent as events.timesheet_status_changed, which is how
finance posts the actuals of an approval and removes them on a recall.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from portal import audit, events
from portal.auth import policy
from portal.auth.models import User
from portal.columns import utcnow
from portal.errors import Conflict, InvalidInput, NotAllowed, PortalError, get_or_raise
from portal.org.services import get_settings
from portal.projects.models import Project
from portal.timesheets import standins
from portal.timesheets.models import TimeEntry, Timesheet
from portal.timesheets.models import TimesheetStatus as S


class ChangedMeanwhile(Conflict):
    """Someone else changed the timesheet between our read and our guarded update: nothing was written."""


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    verb: str  # for messages: "approve" -> "cannot be approved"
    past: str  # audit action suffix and messages
    by_owner: bool  # the timesheet's person may do it
    by_approver: bool  # whoever may decide on it may do it
    needs_reason: bool = False


TRANSITIONS = {
    "submit": Transition(frozenset({S.DRAFT, S.REJECTED}), S.SUBMITTED, "submit", "submitted", True, False),
    "withdraw": Transition(frozenset({S.SUBMITTED}), S.DRAFT, "withdraw", "withdrawn", True, False),
    "approve": Transition(frozenset({S.SUBMITTED}), S.APPROVED, "approve", "approved", False, True),
    "reject": Transition(frozenset({S.SUBMITTED}), S.REJECTED, "reject", "rejected", False, True, needs_reason=True),
    "recall": Transition(frozenset({S.APPROVED}), S.RECALLED, "recall", "recalled", False, True, needs_reason=True),
    "resubmit": Transition(frozenset({S.RECALLED}), S.SUBMITTED, "return to the approval queue", "resubmitted",
                           True, True),
    "reopen": Transition(frozenset({S.RECALLED}), S.DRAFT, "return to draft", "reopened", True, True),
}
# After a recall, where the timesheet goes next (the recall form offers both).
RECALL_NEXT = {"submitted": "resubmit", "draft": "reopen"}


def get_timesheet(session: Session, timesheet_id: int) -> Timesheet:
    return get_or_raise(session, Timesheet, timesheet_id, "timesheet")


def projects_of(session: Session, timesheet_id: int) -> list[Project]:
    """The projects a timesheet holds time on, with their PM teams (for the approval rights)."""
    return list(session.scalars(
        select(Project)
        .where(Project.id.in_(select(TimeEntry.project_id).where(TimeEntry.timesheet_id == timesheet_id)))
        .options(selectinload(Project.team)).order_by(Project.name)
    ))


def projects_of_many(session: Session, timesheet_ids: list[int]) -> dict[int, list[Project]]:
    """`projects_of` for several timesheets in three statements, whatever their number."""
    pairs = session.execute(select(TimeEntry.timesheet_id, TimeEntry.project_id).where(
        TimeEntry.timesheet_id.in_(timesheet_ids)).distinct()).all()
    projects = {p.id: p for p in session.scalars(select(Project).where(Project.id.in_({p for _, p in pairs}))
                                                 .options(selectinload(Project.team)))} if pairs else {}
    found: dict[int, list[Project]] = {i: [] for i in timesheet_ids}
    for sheet_id, project_id in pairs:
        found[sheet_id].append(projects[project_id])
    return {i: sorted(found[i], key=lambda p: p.name) for i in timesheet_ids}


def viewable_projects(session: Session, user: User, sheet: Timesheet, principals: list | None = None) -> list[Project]:
    """The timesheet's projects, once `user` may see it (in their own right, or standing in for `principals`,
    read when not given); NotAllowed otherwise."""
    projects = projects_of(session, sheet.id)
    principals = standins.principals(session, user) if principals is None else principals
    policy.require(policy.can_view_timesheet(user, sheet, projects, principals), "You cannot see this timesheet.")
    return projects


def is_owner(user: User, sheet: Timesheet) -> bool:
    return sheet.resource.user_id == user.id


def decider(session: Session, user: User, sheet: Timesheet, projects: list[Project] | None = None,
            principals: list[User] | None = None) -> User | None:
    """Whose right lets `user` decide on `sheet`: their own (`user`), an approver they stand in for today, or
    nobody (None)."""
    involved = projects if projects is not None else projects_of(session, sheet.id)
    stood_for = principals if principals is not None else standins.principals(session, user)
    return policy.decides_for(user, sheet, involved, stood_for)


def may_decide(session: Session, user: User, sheet: Timesheet, projects: list[Project] | None = None) -> bool:
    return decider(session, user, sheet, projects) is not None


def acting_for(session: Session, user: User, sheet: Timesheet, action: str, projects: list[Project] | None = None,
               principals: list[User] | None = None) -> User | None:
    """Whose right lets `user` perform `action` on `sheet` in its current state: `user`'s own, an approver's
    they stand in for, or nobody's (None)."""
    transition = TRANSITIONS[action]
    if sheet.status not in transition.sources:
        return None
    if transition.by_owner and (is_owner(user, sheet) or policy.is_admin(user)):
        return user
    if transition.by_approver:
        return decider(session, user, sheet, projects, principals)
    return None


def may(session: Session, user: User, sheet: Timesheet, action: str, projects: list[Project] | None = None,
        principals: list[User] | None = None) -> bool:
    """Whether `user` may perform `action` on `sheet` in its current state (for buttons and checks)."""
    return acting_for(session, user, sheet, action, projects, principals) is not None


def history(session: Session, timesheet_id: int) -> list[audit.AuditEvent]:
    """Every transition and posting of the timesheet, newest first."""
    return audit.history(session, Timesheet.__tablename__, timesheet_id)


def _label(sheet: Timesheet) -> str:
    return f"{sheet.resource.name}, week of {sheet.period_start:%d %b %Y}"


def transition(session: Session, actor: User | str | None, timesheet_id: int, action: str, version: int | None,
               reason: str = "", projects: list[Project] | None = None,
               principals: list[User] | None = None) -> Timesheet:
    """Move a timesheet along one transition. `version` is the one the actor's form showed; `projects`, its
    projects, and `principals`, the approvers the actor stands in for, when the caller read them already
    (`projects_of_many`, `standins.principals`)."""
    step = TRANSITIONS[action]
    sheet = get_timesheet(session, timesheet_id)
    # System actors (a sync sending a timesheet back) are trusted callers; people need the right, their own or
    # that of an approver they stand in for (issue 16: the decision is then recorded on that approver's behalf).
    on_behalf: User | None = None
    if isinstance(actor, User) and sheet.status in step.sources:
        acting = acting_for(session, actor, sheet, action, projects, principals)
        if acting is None:
            raise NotAllowed(f"You may not {step.verb} the timesheet of {_label(sheet)}.")
        on_behalf = acting if acting.id != actor.id else None
    reason = (reason or "").strip()
    if step.needs_reason and not reason:
        raise InvalidInput(f"Say why you {step.verb} it; the person will see your reason.",
                           fields={"reason": "Enter a reason."})
    if len(reason) > 2000:
        raise InvalidInput("Keep the reason under 2,000 characters.", fields={"reason": "Too long."})
    if sheet.status not in step.sources:
        raise Conflict(f"The timesheet of {_label(sheet)} is {sheet.status_label.lower()} now, so it cannot be "
                       f"{step.past}. Reload to see its current state.")
    if version is not None and version != sheet.version:
        raise Conflict(f"The timesheet of {_label(sheet)} changed since you opened it (its time or its state). "
                       "Review it again before you decide; nothing was changed.")
    if action == "submit" and not sheet.entries:
        raise InvalidInput("There is no time on this timesheet to submit.")

    now = utcnow()
    values: dict = {"status": step.target, "version": Timesheet.version + 1}
    if step.target == S.SUBMITTED:
        values.update(submitted_at=now)
    if action in ("approve", "reject", "recall"):
        values.update(decided_at=now, decided_by_id=actor.id if isinstance(actor, User) else None, reason=reason,
                      decided_for_id=on_behalf.id if on_behalf else None)
    elif action == "submit":
        values["reason"] = ""  # a new submission starts clean; the old reason stays in the history
    before = {"status": sheet.status, "version": sheet.version}
    # The row's version and status guard the update; the loaded timesheet takes the new values in Python, so
    # deciding costs no read-back. "fetch" finds it by the id the update returns; "evaluate" would test every
    # timesheet the session holds (a bulk decision holds them all: quadratic).
    changed = session.execute(
        update(Timesheet)
        .where(Timesheet.id == sheet.id, Timesheet.version == sheet.version, Timesheet.status.in_(step.sources))
        .values(**values).execution_options(synchronize_session="fetch")
    ).rowcount
    if changed != 1:  # someone else changed it between our read and our update
        session.refresh(sheet)
        raise ChangedMeanwhile(f"The timesheet of {_label(sheet)} was changed by someone else just now; nothing "
                               "was changed. Reload to see its current state.")
    behalf = standins.behalf_note(actor, on_behalf)
    audit.record(session, actor, f"timesheet.{step.past}", sheet, before=before,
                 after={"status": sheet.status, "version": sheet.version, **({"reason": reason} if reason else {})},
                 summary=f"{step.past.capitalize()} the timesheet of {_label(sheet)}{behalf}"
                         + (f": {reason[:200]}" if reason else ""), on_behalf_of=on_behalf)
    events.timesheet_status_changed.send(sheet, session=session, actor=actor, from_status=before["status"],
                                         to_status=sheet.status, reason=reason)
    return sheet


def recall(session: Session, actor: User | str | None, timesheet_id: int, version: int | None, reason: str,
           then: str | None = None) -> Timesheet:
    """Withdraw an approval (its actuals are removed, locked periods excepted), then optionally send the
    timesheet back to the approval queue ("submitted") or to its person as a draft ("draft")."""
    if then is not None and then not in RECALL_NEXT:
        raise InvalidInput("Choose where the timesheet goes after the recall.", fields={"then": "Choose one."})
    sheet = transition(session, actor, timesheet_id, "recall", version, reason)
    if then is not None:
        sheet = transition(session, actor, timesheet_id, RECALL_NEXT[then], sheet.version)
    return sheet


def return_to_submitted(session: Session, actor: User | str | None, timesheet_id: int, reason: str) -> Timesheet:
    """Put a timesheet back in front of its approver, e.g. when synced time changed after approval: an
    approved one is recalled (with `reason`) and resubmitted; a submitted one stays as it is."""
    sheet = get_timesheet(session, timesheet_id)
    if sheet.status == S.APPROVED:
        return recall(session, actor, sheet.id, sheet.version, reason, then="submitted")
    if sheet.status == S.RECALLED:
        return transition(session, actor, sheet.id, "resubmit", sheet.version)
    return sheet


@dataclass
class BulkResult:
    done: list[Timesheet] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (which timesheet, why)


def decide_many(session: Session, actor: User, action: str, selections: list[tuple[int, int]],
                reason: str = "") -> BulkResult:
    """Approve or reject several timesheets at once. Each is decided on its own (a stale or no longer
    allowed one is refused with its reason, the others go through), and each is all-or-nothing.

    A decision writes one statement, its guarded update, and everything that refuses a decision does so
    before it; the decisions' audit rows and posting requests are written together once all are decided
    (no savepoint or flush per decision: issue 14)."""
    if action not in ("approve", "reject"):
        raise InvalidInput("Choose approve or reject.")
    if not selections:
        raise InvalidInput("Select at least one timesheet.")
    if TRANSITIONS[action].needs_reason and not (reason or "").strip():
        raise InvalidInput("Say why you reject them; each person will see your reason.",
                           fields={"reason": "Enter a reason."})
    result = BulkResult()
    ids = [timesheet_id for timesheet_id, _ in selections]
    # Read every selected timesheet, its person and its projects, whom the actor stands in for and the
    # organization's settings (posting asks them) up front, in a few statements. The session holds rows weakly:
    # these references keep them alive for the loop, so no decision reads them again.
    sheets = {sheet.id: sheet for sheet in session.scalars(
        select(Timesheet).where(Timesheet.id.in_(ids)).options(joinedload(Timesheet.resource)))}
    settings = get_settings(session)
    projects = projects_of_many(session, ids)
    principals = standins.principals(session, actor)
    with session.no_autoflush:
        for timesheet_id, version in selections:
            sheet = sheets.get(timesheet_id)
            status = sheet.status if sheet is not None else None
            try:
                result.done.append(transition(session, actor, timesheet_id, action, version, reason,
                                              projects[timesheet_id], principals))
            except PortalError as error:
                if sheet is not None and sheet.status != status and not isinstance(error, ChangedMeanwhile):
                    # Refused after its own update was written (nothing does so today): without a savepoint only
                    # failing the whole batch undoes it. Changed by someone else meanwhile, it wrote nothing.
                    raise
                result.refused.append((_label(sheet) if sheet else f"Timesheet {timesheet_id}", error.message))
    session.flush()
    del settings
    return result
