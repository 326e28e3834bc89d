"""What waits for a person, on their home page: each item says how many and links where to act.

- their own timesheets sent back (rejected, recalled to draft) and this week's, while still a draft; for a
  week, each decision on one of them (approved, rejected with the reason, recalled), as its email says;
- for approvers and PM teams: timesheets waiting for approval, and approved ones with changes from a
  timesheet tool held for a decision;
- issue 16: the person's last week when it is missing, short or not submitted (what the reminder says);
  people escalated after a reminder; a stand-in's queue per approver, and the approver's stand-in;
- for admins: per connected tool, people whose time waits for a match, and failed sync messages.
Counts only, a query or two each, so the page stays cheap whatever the backlog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from portal.auth import policy
from portal.auth.models import User
from portal.columns import utcnow
from portal.formatting import hours
from portal.integrations.models import Connection, PersonLink, WaitingTimeEntry
from portal.integrations.registry import connector_class
from portal.projects.models import Project, Resource
from portal.runs.models import MessageStatus, SyncMessage
from portal.timesheets import approvals, notifications, reminders, standins
from portal.timesheets.models import Timesheet, TimesheetStatus

FAILED_SINCE = timedelta(days=7)


@dataclass
class Waiting:
    text: str
    endpoint: str
    args: dict[str, Any] = field(default_factory=dict)
    urgent: bool = False


def _plural(count: int, one: str, many: str) -> str:
    return f"{approvals.count_label(count)} {one if count == 1 else many}"


def _decisions(session: Session, resource: Resource) -> list[Waiting]:
    """Issue 15 item 22: what the decision emails say, for a week after each decision."""
    items = []
    for told in notifications.recent_decisions(session, resource):
        reason = f": {told.reason}" if told.reason else ""
        next_step = " Fix it and submit again." if told.decision == "rejected" else ""
        items.append(Waiting(f"Your timesheet for the week of {told.sheet.period_start:%d %b} was {told.decision} by "
                             f"{told.decider}{reason}{'' if reason.endswith(('.', '!', '?')) else '.'}{next_step}",
                             "timesheets.my_time", {"week": told.sheet.period_start.isoformat()},
                             urgent=told.decision != "approved"))
    return items


def _own_timesheets(session: Session, resource: Resource, week_start: date) -> list[Waiting]:
    items = _decisions(session, resource)
    told = {item.args["week"] for item in items}
    sent_back = [sheet for sheet in session.scalars(
        select(Timesheet).where(Timesheet.resource_id == resource.id, Timesheet.status == TimesheetStatus.REJECTED)
        .order_by(Timesheet.period_start)) if sheet.period_start.isoformat() not in told]
    if sent_back:
        items.append(Waiting(f"{_plural(len(sent_back), 'timesheet was', 'timesheets were')} sent back to you: "
                             f"fix and submit again (the first: week of {sent_back[0].period_start:%d %b})",
                             "timesheets.my_time", {"week": sent_back[0].period_start.isoformat()}, urgent=True))
    current = session.scalar(select(Timesheet).where(Timesheet.resource_id == resource.id,
                                                     Timesheet.period_start == week_start))
    if current is None or current.status == TimesheetStatus.DRAFT:
        items.append(Waiting("This week's timesheet is not submitted yet", "timesheets.my_time"))
    last_week = reminders.own_week_fact(session, resource)  # issue 16: what the reminder email says
    if last_week is not None:
        items.append(Waiting(f"Your timesheet for the week of {last_week.week_start:%d %b} "
                             f"{'holds fewer hours than expected' if last_week.submitted else 'is not submitted'}: "
                             f"{hours(last_week.hours)} h of {hours(last_week.expected)} h", "timesheets.my_time",
                             {"week": last_week.week_start.isoformat()}, urgent=True))
    return items


def _approvals(session: Session, user: User) -> list[Waiting]:
    items = []
    waiting = approvals.waiting_count(session, user)
    deputies = standins.current(session, user)  # issue 16: both home pages say whose queue it is
    covered = "; ".join(f"{s.stand_in.name} stands in for you until {s.ends_on:%a %d %b}" for s in deputies)
    if waiting:
        items.append(Waiting(f"{_plural(waiting, 'timesheet waits', 'timesheets wait')} for approval"
                             + (f" ({covered})" if covered else ""), "approvals.approvals_page"))
    elif covered:
        items.append(Waiting(covered, "approvals.stand_ins"))
    for stand_in in standins.standing_in(session, user):
        count = approvals.waiting_count(session, user, stood_in_for=stand_in.approver)
        items.append(Waiting(f"{_plural(count, 'timesheet waits', 'timesheets wait')} for approval in "
                             f"{stand_in.approver.name}'s queue (you stand in for them until "
                             f"{stand_in.ends_on:%a %d %b})", "approvals.approvals_page", urgent=bool(count)))
    for week, count in approvals.escalated_weeks(session, user):
        items.append(Waiting(f"{_plural(count, 'person has', 'people have')} not submitted the week of {week:%d %b} "
                             "after a reminder", "approvals.approvals_page",
                             {"status": "unsubmitted", "week_from": week.isoformat(), "week_to": week.isoformat()},
                             urgent=True))
    held = approvals.held_count(session, user)
    if held:
        items.append(Waiting(f"{_plural(held, 'timesheet has', 'timesheets have')} changes from a timesheet tool "
                             "held for a decision", "approvals.approvals_page", {"status": "", "held": "1"},
                             urgent=True))
    return items


def _connections(session: Session) -> list[Waiting]:
    items = []
    since = utcnow() - FAILED_SINCE
    for connection in session.scalars(select(Connection).order_by(Connection.id)):
        tool = connector_class(connection.kind)
        label = tool.display_name()
        # Where its sync messages are: the sync log of a tool time comes from, else the tool's own page.
        log = (tool.sync_log_endpoint, {"connection_id": connection.id}) if tool.sync_log_endpoint \
            else (tool.settings_endpoint, {})
        unmatched = session.scalar(select(func.count(distinct(WaitingTimeEntry.person_link_id))).join(
            PersonLink, PersonLink.id == WaitingTimeEntry.person_link_id).where(
            WaitingTimeEntry.connection_id == connection.id, PersonLink.resource_id.is_(None))) or 0
        if unmatched:
            items.append(Waiting(f"{_plural(unmatched, 'person', 'people')} in {label} with time waiting for a "
                                 "matching resource", *log))
        failed = session.scalar(select(func.count()).select_from(SyncMessage).where(
            SyncMessage.connection_id == connection.id, SyncMessage.status == MessageStatus.FAILED,
            SyncMessage.created_at >= since)) or 0
        if failed:
            items.append(Waiting(f"{_plural(failed, 'failed sync message', 'failed sync messages')} with {label} "
                                 "this week", *log, urgent=True))
    return items


def managed_projects(session: Session, user: User) -> list[Project]:
    """The open projects `user` is the PM of."""
    return [p for p in session.scalars(select(Project).where(Project.pm_id == user.id).order_by(Project.name))
            if not p.is_closed]


def waiting_for(session: Session, user: User, resource: Resource | None, week_start: date) -> list[Waiting]:
    items = _own_timesheets(session, resource, week_start) if resource is not None else []
    items += _approvals(session, user)
    if policy.can_manage_connections(user):
        items += _connections(session)
    return items
