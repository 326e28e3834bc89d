"""People hear about decisions on their timesheets (issue 15 item 22).

When someone else approves, rejects or recalls a person's timesheet, the person gets one email (sent by the
mail job after commit, audited) unless they turned that off on My time (User.timesheet_decision_emails); the
home page says the same for a week (`recent_decisions`). A recall that sends the timesheet on at once (back to
the approval queue, or to the person as a draft) is one email that says where it went: the follow-up
transition, in the same transaction, rewrites the recall's queued email before it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal import audit, events, mail
from portal.auth.models import User
from portal.columns import utcnow
from portal.mail import OutboundEmail
from portal.projects.models import Resource
from portal.timesheets.models import Timesheet
from portal.timesheets.models import TimesheetStatus as S

DECISIONS = {S.APPROVED: "approved", S.REJECTED: "rejected", S.RECALLED: "recalled"}
# Where a recalled timesheet went next (workflow.RECALL_NEXT), in the email's words.
AFTER_RECALL = {S.SUBMITTED: "back in the approval queue", S.DRAFT: "back with you as a draft"}
SHOWN_FOR = timedelta(days=7)  # how long the home page mentions a decision
TEMPLATE = CATEGORY = "timesheet_decision"
# session.info: timesheet id -> (the recall's queued email, its reason, the timesheet's version after the recall)
_PENDING = "timesheet_decision_emails"


def _recipient(sheet: Timesheet, actor: User | str | None) -> User | None:
    """Whom to tell: the timesheet's person, when they have an active login, someone else decided, and they
    want these emails."""
    user = sheet.resource.user if sheet.resource else None
    if user is None or not user.active or not user.timesheet_decision_emails:
        return None
    if not isinstance(actor, User) or actor.id == user.id:
        return None  # a sync's own recall is explained on the timesheet; nobody is told of their own act
    return user


def _context(session: Session, sheet: Timesheet, decision: str, actor: User, reason: str,
             then: str | None) -> dict:
    base = current_app.config["PORTAL_PUBLIC_URL"].rstrip("/")
    on_behalf = session.get(User, sheet.decided_for_id) if sheet.decided_for_id else None
    return dict(sheet=sheet, decision=decision, decider=actor, on_behalf=on_behalf, reason=reason,
                then=AFTER_RECALL.get(then), sheet_link=f"{base}/timesheets/{sheet.id}",
                week_link=f"{base}/time?week={sheet.period_start.isoformat()}", my_time_link=f"{base}/time")


def _status_changed(sheet: Timesheet, session: Session, actor=None, from_status: str = "", to_status: str = "",
                    reason: str = "", **_) -> None:
    pending: dict[int, tuple[OutboundEmail, str, int]] = session.info.setdefault(_PENDING, {})
    recall = pending.pop(sheet.id, None)
    if recall and from_status == S.RECALLED and to_status in AFTER_RECALL and recall[2] + 1 == sheet.version:
        email, recall_reason, _version = recall  # the recall's email, not sent yet: say where the timesheet went
        email.body = render_template(f"emails/{TEMPLATE}.txt",
                                     **_context(session, sheet, DECISIONS[S.RECALLED], actor, recall_reason, to_status))
        return
    decision = DECISIONS.get(to_status)
    user = _recipient(sheet, actor) if decision else None
    if user is None:
        return
    email = mail.queue_email(session, [user.email], f"Your timesheet for the week of {sheet.period_start:%d %b %Y} "
                                                    f"was {decision}", TEMPLATE, CATEGORY,
                             **_context(session, sheet, decision, actor, reason, None))
    if to_status == S.RECALLED:
        pending[sheet.id] = (email, reason, sheet.version)
    audit.record(session, actor, "timesheet.decision_emailed", sheet, after={"to": user.email, "decision": decision},
                 summary=f"Emailed {user.name} that the timesheet of the week of {sheet.period_start:%d %b %Y} "
                         f"was {decision}")


def set_own_decision_emails(session: Session, user: User, on: bool) -> bool:
    """A person turns the emails about decisions on their timesheets on or off. Returns whether it changed."""
    _, changed = audit.update(session, user, user, {"timesheet_decision_emails": on}, "user.decision_emails_changed",
                              f"{user.name} turned emails about timesheet decisions {'on' if on else 'off'}")
    return bool(changed)


@dataclass
class Decision:
    """A recent decision on one of the person's timesheets, for their home page."""

    sheet: Timesheet
    decision: str
    decider: str
    at: datetime
    reason: str


def recent_decisions(session: Session, resource: Resource, limit: int = 5) -> list[Decision]:
    """Decisions of the last `SHOWN_FOR` on the person's timesheets that still stand (a timesheet submitted again
    since is no longer rejected), newest first."""
    sheets = session.scalars(
        select(Timesheet).where(Timesheet.resource_id == resource.id, Timesheet.status.in_(DECISIONS),
                                Timesheet.decided_at >= utcnow() - SHOWN_FOR, Timesheet.decided_by_id.is_not(None))
        .options(selectinload(Timesheet.decided_by))
        .order_by(Timesheet.decided_at.desc(), Timesheet.id.desc()).limit(limit))
    return [Decision(sheet, DECISIONS[sheet.status], sheet.decided_by.name, sheet.decided_at, sheet.reason or "")
            for sheet in sheets if sheet.decided_by is not None and sheet.decided_by.id != getattr(
                resource.user, "id", None)]


def connect() -> None:
    events.timesheet_status_changed.connect(_status_changed, weak=False)
