"""Reminders for missing and unsubmitted time (issue 16).

- Weekly: on the organization's reminder weekday, from its hour on (in PORTAL_TIMEZONE; the cron runs hourly
  in UTC and asks `plan` whether it is time), each active resource with a staff login whose previous week is
  not submitted, or holds fewer hours than expected (the organization's hours a week, or the resource's own;
  0: never logs time), gets one email naming the week, the hours found and a link. Each reminder is claimed
  by a row unique per (resource, week, kind), so a second cron process, a retry or the command never sends
  it twice. A person who turned reminders off gets no email, but still counts for the escalation.
- Escalation: N days (the organization's setting) after the reminder, people whose week is still not
  submitted are listed in one digest per approver: everyone who would see the timesheet (approvers and
  admins, the PM teams of its projects) and whoever stands in for them today.
- Remind: an approver presses Remind on a not-submitted row of the approvals list; once a day per person.
- The week a reminder is about gets its (empty, draft) timesheet, so approvers find it in the queue.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from portal import audit, mail
from portal.auth import policy
from portal.auth.models import Role, User
from portal.columns import today, utcnow
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.formatting import hours_text, plural
from portal.org.models import OrgSettings
from portal.org.services import get_settings
from portal.projects.models import Project, ProjectManager, Resource
from portal.timesheets import standins, workflow
from portal.timesheets.entries import timesheet_for, week_of
from portal.timesheets.models import (
    STATUS_LABELS,
    ReminderKind,
    StandIn,
    TimeEntry,
    Timesheet,
    TimesheetReminder,
    TimesheetStatus,
)

log = logging.getLogger(__name__)

ACTOR = "timesheet reminders"
DONE = (TimesheetStatus.SUBMITTED, TimesheetStatus.APPROVED)
# Reminders older than this (past the escalation delay) are not escalated any more: turning reminders on,
# or shortening the delay, does not flood approvers with old weeks.
ESCALATION_WINDOW = timedelta(days=7)


@dataclass
class Due:
    """One person's week that is missing, short or not submitted."""

    resource: Resource
    user: User
    week_start: date
    week_end: date
    hours: Decimal
    expected: Decimal
    sheet: Timesheet | None

    @property
    def status(self) -> str:
        return self.sheet.status if self.sheet else ""

    @property
    def submitted(self) -> bool:
        return self.status in DONE

    @property
    def state(self) -> str:
        """In words: "not started", "draft", "submitted, short"."""
        if self.sheet is None:
            return "not started"
        label = STATUS_LABELS[TimesheetStatus(self.status)].lower()
        return f"{label}, short" if self.submitted else label

    @property
    def emailed(self) -> bool:
        return self.user.timesheet_reminders


@dataclass
class Digest:
    approver: User
    people: list[Due]
    stands_in_for: list[User] = field(default_factory=list)


@dataclass
class Plan:
    week_start: date | None  # the week of the weekly reminders; None: not the time for them
    reminders: list[Due]
    escalations: list[Due]
    digests: list[Digest]


def local_now(now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(current_app.config.get("PORTAL_TIMEZONE", "UTC")))


def previous_week(settings: OrgSettings, day: date) -> date:
    """The week before the one holding `day` (the week start is an organization setting)."""
    return week_of(day - timedelta(days=7), settings.week_start)[0]


def weekly_due(settings: OrgSettings, local: datetime) -> bool:
    """The cron's question each hour: is it the reminder weekday, at or after the reminder hour?"""
    return local.weekday() == settings.reminder_weekday and local.hour >= settings.reminder_hour


def short_weeks(session: Session, settings: OrgSettings, week_start: date,
                resource_ids: list[int] | None = None) -> list[Due]:
    """Active resources with an active staff login and hours expected whose week `week_start` is not
    submitted or holds fewer hours than expected (one query, whatever the number of people)."""
    expected = func.coalesce(Resource.expected_hours_per_week, settings.expected_hours_per_week)
    logged = (select(func.coalesce(func.sum(TimeEntry.hours), 0)).where(TimeEntry.timesheet_id == Timesheet.id)
              .scalar_subquery())
    query = (select(Resource, User, Timesheet, logged, expected)
             .join(User, Resource.user_id == User.id)
             .outerjoin(Timesheet, (Timesheet.resource_id == Resource.id) & (Timesheet.period_start == week_start))
             .where(Resource.active.is_(True), User.active.is_(True), User.role != Role.CLIENT, expected > 0)
             .order_by(Resource.name, Resource.id))
    if resource_ids is not None:
        query = query.where(Resource.id.in_(resource_ids))
    week_end = week_start + timedelta(days=6)
    due = []
    for resource, user, sheet, hours, wanted in session.execute(query):
        item = Due(resource, user, week_start, week_end, Decimal(hours if sheet is not None else 0),
                   Decimal(wanted), sheet)
        if not item.submitted or item.hours < item.expected:
            due.append(item)
    return due


def _escalations(session: Session, settings: OrgSettings, now: datetime, week_start: date | None) -> list[Due]:
    """People reminded N days ago (or more) whose week is still not submitted, not yet escalated."""
    cutoff = now - timedelta(days=settings.reminder_escalate_days)
    escalated = TimesheetReminder.__table__.alias("escalated")
    reminded = (select(TimesheetReminder.resource_id, TimesheetReminder.week_start)
                .where(TimesheetReminder.kind == ReminderKind.WEEKLY, TimesheetReminder.created_at <= cutoff,
                       TimesheetReminder.created_at >= cutoff - ESCALATION_WINDOW,
                       ~exists().where(escalated.c.kind == ReminderKind.ESCALATION,
                                       escalated.c.resource_id == TimesheetReminder.resource_id,
                                       escalated.c.week_start == TimesheetReminder.week_start)))
    if week_start is not None:
        reminded = reminded.where(TimesheetReminder.week_start == week_start)
    by_week: dict[date, list[int]] = defaultdict(list)
    for resource_id, week in session.execute(reminded):
        by_week[week].append(resource_id)
    due = []
    for week, resource_ids in sorted(by_week.items()):
        due += [d for d in short_weeks(session, settings, week, resource_ids) if not d.submitted]
    return due


def _approvers(session: Session, people: list[Due]) -> list[Digest]:
    """One digest per approver of the people: whoever would see their timesheet (approvers and admins, the PM
    teams of the projects it holds time on) and whoever stands in for one of them today."""
    everyone = list(session.scalars(select(User).where(
        User.active.is_(True), User.role.in_((Role.APPROVER, Role.ADMIN, Role.SUPER_ADMIN))).order_by(User.id)))
    sheet_ids = [d.sheet.id for d in people if d.sheet is not None]
    pm_rows = session.execute(
        select(TimeEntry.timesheet_id, User).distinct()
        .join(Project, TimeEntry.project_id == Project.id)
        .join(User, or_(User.id == Project.pm_id,
                        User.id.in_(select(ProjectManager.user_id).where(ProjectManager.project_id == Project.id))))
        .where(TimeEntry.timesheet_id.in_(sheet_ids), User.active.is_(True), User.role != Role.CLIENT)
    ).all() if sheet_ids else []
    pms: dict[int, list[User]] = defaultdict(list)
    for sheet_id, user in pm_rows:
        pms[sheet_id].append(user)
    digests: dict[int, Digest] = {}
    for person in people:
        seeing = {u.id: u for u in [*everyone, *(pms[person.sheet.id] if person.sheet else [])]}
        for approver in seeing.values():
            if approver.id != person.user.id:
                digests.setdefault(approver.id, Digest(approver, [])).people.append(person)
    day = today()
    stand_ins = session.execute(
        select(StandIn.approver_id, User).join(User, StandIn.stand_in_id == User.id)
        .where(StandIn.approver_id.in_(list(digests)), StandIn.ended_at.is_(None), StandIn.starts_on <= day,
               StandIn.ends_on >= day, User.active.is_(True))
    ).all() if digests else []
    for approver_id, deputy in stand_ins:
        principal = digests[approver_id]
        digest = digests.setdefault(deputy.id, Digest(deputy, []))
        digest.stands_in_for.append(principal.approver)
        known = {(d.resource.id, d.week_start) for d in digest.people}
        digest.people += [p for p in principal.people if (p.resource.id, p.week_start) not in known
                          and p.user.id != deputy.id]
    return [d for d in sorted(digests.values(), key=lambda d: d.approver.email) if d.people]


def plan(session: Session, now: datetime, week: date | None = None, by_hand: bool = False) -> Plan:
    """What a run would send now: the weekly reminders about last week when it is the reminder day and hour
    (or whenever, `by_hand`), or about `week` when given (its escalations only, then); and the digests of the
    escalations that are due. Nothing is written."""
    settings = get_settings(session)
    local = local_now(now)
    week_start = week_of(week, settings.week_start)[0] if week else (
        previous_week(settings, local.date()) if by_hand or weekly_due(settings, local) else None)
    reminders: list[Due] = []
    if week_start is not None:
        sent = set(session.scalars(select(TimesheetReminder.resource_id).where(
            TimesheetReminder.week_start == week_start, TimesheetReminder.kind == ReminderKind.WEEKLY)))
        reminders = [d for d in short_weeks(session, settings, week_start) if d.resource.id not in sent]
    escalations = _escalations(session, settings, now, week_of(week, settings.week_start)[0] if week else None)
    return Plan(week_start, reminders, escalations, _approvers(session, escalations))


def _claim(session: Session, due: Due, kind: str, recipients: list[str], sent_by: User | None = None) -> bool:
    """Insert the reminder row unless one exists (its unique index decides between concurrent runs)."""
    dialect_insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    manual = kind == ReminderKind.MANUAL
    statement = dialect_insert(TimesheetReminder).values(
        resource_id=due.resource.id, week_start=due.week_start, kind=kind, sent_on=today(), created_at=utcnow(),
        hours=due.hours, expected=due.expected, status=due.status, recipients=recipients,
        sent_by_id=sent_by.id if sent_by else None,
    ).on_conflict_do_nothing(
        index_elements=["resource_id", "sent_on"] if manual else ["resource_id", "week_start", "kind"],
        index_where=TimesheetReminder.kind == ReminderKind.MANUAL if manual
        else TimesheetReminder.kind != ReminderKind.MANUAL,
    ).returning(TimesheetReminder.id)
    return session.execute(statement).scalar() is not None


def _links(due: Due) -> dict[str, str]:
    base = current_app.config["PORTAL_PUBLIC_URL"].rstrip("/")
    return {"week_link": f"{base}/time?week={due.week_start.isoformat()}", "my_time_link": f"{base}/time",
            "sheet_link": f"{base}/timesheets/{due.sheet.id}" if due.sheet else f"{base}/approvals"}


def _email_person(session: Session, due: Due, sent_by: User | None = None) -> None:
    subject = (f"Your timesheet for the week of {due.week_start:%d %b %Y} "
               + (f"holds {hours_text(due.hours)} of {hours_text(due.expected)}" if due.submitted
                  else "is not submitted"))
    mail.queue_email(session, [due.user.email], subject, "timesheet_reminder", "timesheet_reminder", due=due,
                     sent_by=sent_by, **_links(due))


@dataclass
class Sent:
    week_start: date | None
    reminded: list[Due] = field(default_factory=list)
    escalated: list[Due] = field(default_factory=list)
    digests: list[Digest] = field(default_factory=list)


def send(session: Session, now: datetime, week: date | None = None, by_hand: bool = False,
         actor: User | str | None = ACTOR) -> Sent:
    """Send what `plan` says is due, each reminder at most once (flushes; the caller commits)."""
    settings = session.scalar(select(OrgSettings).where(OrgSettings.id == get_settings(session).id)
                              .with_for_update())  # concurrent runs (two cron processes) queue up here
    if not settings.reminders_enabled:
        return Sent(None)
    planned = plan(session, now, week, by_hand)
    sent = Sent(planned.week_start)
    for due in planned.reminders:
        if _claim(session, due, ReminderKind.WEEKLY, [due.user.email] if due.emailed else []):
            if due.emailed:
                _email_person(session, due)
            if due.sheet is None:  # approvers find the week in the queue, as a draft with no time
                due.sheet = timesheet_for(session, due.resource.id, due.week_start)
            sent.reminded.append(due)
    escalated = [d for d in planned.escalations if _claim(session, d, ReminderKind.ESCALATION, [])]
    if escalated:
        sent.escalated = escalated
        sent.digests = _approvers(session, escalated)
        listed: dict[tuple[int, date], list[str]] = defaultdict(list)
        for digest in sent.digests:
            for person in digest.people:
                listed[(person.resource.id, person.week_start)].append(digest.approver.email)
            mail.queue_email(session, [digest.approver.email],
                             f"{len(digest.people)} {'person has' if len(digest.people) == 1 else 'people have'} "
                             "not submitted their timesheet", "timesheet_digest", "timesheet_reminder",
                             digest=digest, base=current_app.config["PORTAL_PUBLIC_URL"].rstrip("/"),
                             days=settings.reminder_escalate_days)
        for row in session.scalars(select(TimesheetReminder).where(
                TimesheetReminder.kind == ReminderKind.ESCALATION,
                TimesheetReminder.resource_id.in_({d.resource.id for d in escalated}))):
            if (row.resource_id, row.week_start) in listed:
                row.recipients = sorted(listed[(row.resource_id, row.week_start)])
    if sent.reminded or sent.escalated:
        audit.record(session, actor, "timesheet.reminders_sent", subject_type="timesheet_reminders",
                     after={"week_start": sent.week_start,
                            "reminded": [d.user.email for d in sent.reminded if d.emailed],
                            "turned_off": [d.user.email for d in sent.reminded if not d.emailed],
                            "escalated": [f"{d.user.email} ({d.week_start})" for d in sent.escalated],
                            "digests": [d.approver.email for d in sent.digests]},
                     summary=f"Timesheet reminders: {plural(len(sent.reminded), 'person', 'people')} reminded, "
                             f"{len(sent.escalated)} escalated to {plural(len(sent.digests), 'approver')}")
    session.flush()
    log.info("timesheet reminders: %s reminded, %s escalated", len(sent.reminded), len(sent.escalated))
    return sent


def reminded_today(session: Session, resource_ids: list[int]) -> set[int]:
    """Of these people, those an approver reminded today (the approvals list marks them)."""
    if not resource_ids:
        return set()
    return set(session.scalars(select(TimesheetReminder.resource_id).where(
        TimesheetReminder.kind == ReminderKind.MANUAL, TimesheetReminder.sent_on == today(),
        TimesheetReminder.resource_id.in_(resource_ids))))


def remind_now(session: Session, actor: User, timesheet_id: int) -> TimesheetReminder:
    """An approver's Remind on the approvals list: email the person about this week now; once a day per person."""
    sheet = workflow.get_timesheet(session, timesheet_id)
    projects = workflow.projects_of(session, sheet.id)
    whose = policy.views_for(actor, sheet, projects, standins.principals(session, actor))
    if whose is None or workflow.is_owner(actor, sheet):
        raise NotAllowed("Only someone who sees this timesheet in their approvals can remind its person.")
    resource = sheet.resource
    if resource.user is None or not resource.user.active:
        raise InvalidInput(f"{resource.name} has no active login, so there is nobody to email.")
    if sheet.status in DONE:
        raise Conflict(f"The timesheet of {resource.name} for the week of {sheet.period_start:%d %b} is "
                       f"{sheet.status_label.lower()}; there is nothing to remind them of.")
    if not resource.user.timesheet_reminders:
        raise Conflict(f"{resource.name} turned timesheet reminders off; ask them directly.")
    settings = get_settings(session)
    expected = resource.expected_hours_per_week
    due = Due(resource, resource.user, sheet.period_start, sheet.period_end, sheet.total_hours,
              settings.expected_hours_per_week if expected is None else expected, sheet)
    if not _claim(session, due, ReminderKind.MANUAL, [resource.user.email], sent_by=actor):
        earlier = session.scalar(select(TimesheetReminder).where(
            TimesheetReminder.kind == ReminderKind.MANUAL, TimesheetReminder.resource_id == resource.id,
            TimesheetReminder.sent_on == today()))
        by = f" by {earlier.sent_by.name}" if earlier and earlier.sent_by else ""
        raise Conflict(f"{resource.name} was reminded today{by}; you can remind them again tomorrow.")
    _email_person(session, due, sent_by=actor)
    on_behalf = whose if whose.id != actor.id else None
    audit.record(session, actor, "timesheet.reminded", sheet, after={"to": resource.user.email},
                 summary=f"Reminded {resource.name} to submit the week of {sheet.period_start:%d %b %Y}"
                         f"{standins.behalf_note(actor, on_behalf)}", on_behalf_of=on_behalf)
    return session.scalar(select(TimesheetReminder).where(
        TimesheetReminder.kind == ReminderKind.MANUAL, TimesheetReminder.resource_id == resource.id,
        TimesheetReminder.sent_on == today()))


def set_own_reminders(session: Session, user: User, on: bool) -> bool:
    """A person turns their weekly reminder email on or off. Returns whether anything changed."""
    _, changed = audit.update(session, user, user, {"timesheet_reminders": on}, "user.reminders_changed",
                              f"{user.name} turned timesheet reminders {'on' if on else 'off'}")
    return bool(changed)


# The home page ("Waiting for you") shows the same facts the emails do.
def own_week_fact(session: Session, resource: Resource) -> Due | None:
    """The person's previous week, when it is missing, short or not submitted (and reminders are on)."""
    settings = get_settings(session)
    if not settings.reminders_enabled:
        return None
    found = short_weeks(session, settings, previous_week(settings, today()), [resource.id])
    return found[0] if found else None
