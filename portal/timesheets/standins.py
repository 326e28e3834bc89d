"""Stand-in approvers (issue 16): while an approver is away, someone they (or an admin) name sees and decides
everything the approver could, for a range of days in the organization's timezone.

- An approver's stand-ins never overlap (ended ones aside); backwards ranges and ranges already over are
  refused with a message; a stand-in can be ended early (or cancelled before it starts).
- Rights: `principals(user)` are the approvers `user` stands in for today (where that widens their rights);
  the policy's `decides_for` and `views_for` and the approvals scope take them, so a stand-in's rights are
  exactly the approver's, never on the stand-in's own timesheet (nor the approver's).
- Each decision a stand-in takes is recorded "by X on behalf of Y" (the timesheet's `decided_for`, the audit
  log's `on_behalf_of`); naming and ending are audited and emailed to the stand-in (and to the approver when
  an admin did it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, selectinload

from portal import audit, mail
from portal.auth import policy
from portal.auth.models import User, normalize_email
from portal.columns import today, utcnow
from portal.errors import Conflict, InvalidInput, get_or_raise
from portal.projects.models import Project, ProjectManager
from portal.timesheets.models import StandIn

MAX_DAYS = 366
PAST_SHOWN = 20


def principals(session: Session, user: User, day: date | None = None) -> list[User]:
    """The approvers `user` stands in for on `day` (today by default), by name, as far as they widen the
    user's rights: not at all for someone who approves everyone in their own right (an approver's or admin's
    queue already holds every timesheet but their own, and a stand-in never acts on their own), so theirs
    are not read (the approvals queue asks on every request)."""
    if not policy.is_internal(user) or policy.approves_everyone(user):
        return []
    day = day or today()
    return list(session.scalars(
        select(User).join(StandIn, StandIn.approver_id == User.id)
        .where(StandIn.stand_in_id == user.id, StandIn.ended_at.is_(None), StandIn.starts_on <= day,
               StandIn.ends_on >= day, User.active.is_(True))
        .order_by(User.name, User.id)))


def behalf_note(actor: User | str | None, on_behalf: User | None) -> str:
    """The " (by X on behalf of Y)" of a stand-in's decision, "" otherwise: how summaries and histories say it."""
    return f" (by {actor.name} on behalf of {on_behalf.name})" if on_behalf and isinstance(actor, User) else ""


def current(session: Session, approver: User, day: date | None = None) -> list[StandIn]:
    """Who stands in for `approver` on `day` (today by default)."""
    day = day or today()
    return list(session.scalars(
        select(StandIn).where(StandIn.approver_id == approver.id, StandIn.ended_at.is_(None),
                              StandIn.starts_on <= day, StandIn.ends_on >= day)
        .options(selectinload(StandIn.stand_in)).order_by(StandIn.starts_on)))


def standing_in(session: Session, user: User) -> list[StandIn]:
    """The stand-ins `user` holds today, with their approvers (the home page says whose queue it is)."""
    day = today()
    return list(session.scalars(
        select(StandIn).join(User, StandIn.approver_id == User.id)
        .where(StandIn.stand_in_id == user.id, StandIn.ended_at.is_(None), StandIn.starts_on <= day,
               StandIn.ends_on >= day, User.active.is_(True))
        .options(selectinload(StandIn.approver)).order_by(StandIn.starts_on, StandIn.id)))


def approves_anything(session: Session, user: User) -> bool:
    """Approvers and admins approve everyone's time; a PM-team member the time on their projects."""
    if policy.approves_everyone(user):
        return True
    return policy.is_internal(user) and bool(session.scalar(select(or_(
        exists().where(Project.pm_id == user.id), exists().where(ProjectManager.user_id == user.id)))))


def _user_by_email(session: Session, email: str, field: str, what: str) -> User:
    email = normalize_email(email)
    if not email:
        raise InvalidInput(f"Enter the {what}'s email.", fields={field: "Enter an email."})
    user = session.scalar(select(User).where(User.email == email))
    if user is None or not user.active or not policy.is_internal(user):
        raise InvalidInput(f"No active staff login has the email {email}.", fields={field: "No such login."})
    return user


def _describe(stand_in: StandIn) -> str:
    return (f"{stand_in.stand_in.name} stands in for {stand_in.approver.name} from {stand_in.starts_on:%a %d %b %Y} "
            f"to {stand_in.ends_on:%a %d %b %Y}")


def _notify(session: Session, actor: User | str | None, stand_in: StandIn, template: str, subject: str) -> None:
    recipients = [stand_in.stand_in.email]
    if not (isinstance(actor, User) and actor.id == stand_in.approver_id):
        recipients.append(stand_in.approver.email)  # an admin acted for the approver: tell them too
    mail.queue_email(session, recipients, subject, template, "stand_in", stand_in=stand_in, actor=actor)


def name_stand_in(session: Session, actor: User | str | None, *, approver_email: str, stand_in_email: str,
                  starts_on: date | None, ends_on: date | None, note: str = "") -> StandIn:
    """Name someone to see and decide the approver's timesheets from `starts_on` to `ends_on` (inclusive)."""
    approver = _user_by_email(session, approver_email, "approver_email", "approver")
    if isinstance(actor, User):
        policy.require(policy.can_name_stand_in(actor, approver),
                       "You can name a stand-in for yourself only; admins name them for anyone.")
    if not approves_anything(session, approver):
        raise InvalidInput(f"{approver.name} approves no timesheets, so there is nothing to stand in for.",
                           fields={"approver_email": "Approves no timesheets."})
    deputy = _user_by_email(session, stand_in_email, "stand_in_email", "stand-in")
    if deputy.id == approver.id:
        raise InvalidInput("Name someone else: an approver cannot stand in for themselves.",
                           fields={"stand_in_email": "Someone else."})
    if starts_on is None or ends_on is None:
        raise InvalidInput("Choose the first and the last day.", fields={"starts_on": "Choose both days."})
    if ends_on < starts_on:
        raise InvalidInput(f"The last day ({ends_on:%d %b %Y}) is before the first ({starts_on:%d %b %Y}).",
                           fields={"ends_on": "Must not be before the first day."})
    if ends_on < today():
        raise InvalidInput("That range is over already; choose days from today on.",
                           fields={"ends_on": "Already over."})
    if (ends_on - starts_on).days >= MAX_DAYS:
        raise InvalidInput("A stand-in covers at most a year.", fields={"ends_on": "Too far."})
    note = (note or "").strip()
    if len(note) > 300:
        raise InvalidInput("Keep the note under 300 characters.", fields={"note": "Too long."})
    # One approver's stand-ins are named one at a time (PostgreSQL row lock), so two overlapping ones named at
    # the same moment cannot both pass the check below.
    session.scalar(select(User.id).where(User.id == approver.id).with_for_update())
    overlapping = session.scalar(
        select(StandIn).where(StandIn.approver_id == approver.id, StandIn.ended_at.is_(None),
                              StandIn.starts_on <= ends_on, StandIn.ends_on >= starts_on)
        .options(selectinload(StandIn.stand_in)).order_by(StandIn.starts_on).limit(1))
    if overlapping is not None:
        raise Conflict(f"{approver.name} already has a stand-in then: {overlapping.stand_in.name}, "
                       f"{overlapping.starts_on:%d %b} – {overlapping.ends_on:%d %b %Y}. End that one first or choose "
                       "other days.", fields={"starts_on": "Overlaps another stand-in."})
    stand_in = StandIn(approver=approver, stand_in=deputy, starts_on=starts_on, ends_on=ends_on, note=note,
                       created_by_id=actor.id if isinstance(actor, User) else None)
    session.add(stand_in)
    session.flush()
    audit.record(session, actor, "stand_in.named", stand_in,
                 after={"approver": approver.email, "stand_in": deputy.email, "starts_on": starts_on,
                        "ends_on": ends_on, "note": note}, summary=_describe(stand_in))
    _notify(session, actor, stand_in, "stand_in_named", f"{deputy.name} stands in for {approver.name}"
            f" from {starts_on:%d %b} to {ends_on:%d %b %Y}")
    return stand_in


def end_stand_in(session: Session, actor: User | str | None, stand_in_id: int) -> StandIn:
    """End a stand-in now (or cancel one that has not started): from now on the stand-in acts on their own
    rights only. Their decisions so far stay as they were."""
    stand_in = get_or_raise(session, StandIn, stand_in_id, "stand-in", with_for_update=True, populate_existing=True)
    if isinstance(actor, User):
        policy.require(policy.can_name_stand_in(actor, stand_in.approver),
                       "Only the approver or an admin can end this stand-in.")
    if stand_in.ended_at is not None:
        raise Conflict("This stand-in was ended already.")
    day = today()
    if stand_in.ends_on < day:
        raise Conflict("This stand-in is over already.")
    stand_in.ended_at = utcnow()
    stand_in.ended_by_id = actor.id if isinstance(actor, User) else None
    session.flush()
    started = stand_in.starts_on <= day
    audit.record(session, actor, "stand_in.ended", stand_in, before={"ends_on": stand_in.ends_on},
                 after={"ended_at": stand_in.ended_at},
                 summary=f"{'Ended' if started else 'Cancelled'} early: {_describe(stand_in)}")
    _notify(session, actor, stand_in, "stand_in_ended",
            f"{stand_in.stand_in.name} no longer stands in for {stand_in.approver.name}")
    return stand_in


@dataclass
class StandInLists:
    mine: list[StandIn]  # as the approver
    for_others: list[StandIn]  # as the stand-in
    everyone: list[StandIn]  # admins: current and upcoming ones of every approver


def lists_for(session: Session, user: User) -> StandInLists:
    """The stand-ins page: current and upcoming ones, then the latest few past ones; bounded whatever the
    history's length."""
    day = today()
    live = (StandIn.ended_at.is_(None), StandIn.ends_on >= day)
    options = (selectinload(StandIn.approver), selectinload(StandIn.stand_in))

    def of(*where) -> list[StandIn]:
        upcoming = list(session.scalars(select(StandIn).where(*where, *live).options(*options)
                                        .order_by(StandIn.starts_on, StandIn.id).limit(100)))
        past = list(session.scalars(select(StandIn).where(*where, ~(StandIn.ended_at.is_(None)
                                                                    & (StandIn.ends_on >= day)))
                                    .options(*options).order_by(StandIn.ends_on.desc(), StandIn.id.desc())
                                    .limit(PAST_SHOWN)))
        return upcoming + past

    everyone = list(session.scalars(select(StandIn).where(*live).options(*options)
                                    .order_by(StandIn.starts_on, StandIn.id).limit(100))) \
        if policy.is_admin(user) else []
    return StandInLists(of(StandIn.approver_id == user.id), of(StandIn.stand_in_id == user.id), everyone)


def default_range() -> tuple[date, date]:
    """The form's suggestion: today to a week from today."""
    day = today()
    return day, day + timedelta(days=6)
