"""What waits for a person, on their home page: each item says how many and links where to act.

- their own timesheets sent back (rejected, recalled to draft) and this week's, while still a draft;
- for approvers and PM teams: timesheets waiting for approval, and approved ones with changes from a
  timesheet tool held for a decision;
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
from portal.integrations.models import Connection, PersonLink, WaitingTimeEntry
from portal.integrations.registry import connector_class
from portal.projects.models import Project, Resource
from portal.runs.models import MessageStatus, SyncMessage
from portal.timesheets import approvals
from portal.timesheets.models import Timesheet, TimesheetStatus

FAILED_SINCE = timedelta(days=7)


@dataclass
class Waiting:
    text: str
    endpoint: str
    args: dict[str, Any] = field(default_factory=dict)
    urgent: bool = False


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _own_timesheets(session: Session, resource: Resource, week_start: date) -> list[Waiting]:
    items = []
    sent_back = list(session.scalars(
        select(Timesheet).where(Timesheet.resource_id == resource.id, Timesheet.status == TimesheetStatus.REJECTED)
        .order_by(Timesheet.period_start)))
    if sent_back:
        items.append(Waiting(f"{_plural(len(sent_back), 'timesheet was', 'timesheets were')} sent back to you: "
                             f"fix and submit again (the first: week of {sent_back[0].period_start:%d %b})",
                             "timesheets.my_time", {"week": sent_back[0].period_start.isoformat()}, urgent=True))
    current = session.scalar(select(Timesheet).where(Timesheet.resource_id == resource.id,
                                                     Timesheet.period_start == week_start))
    if current is None or current.status == TimesheetStatus.DRAFT:
        items.append(Waiting("This week's timesheet is not submitted yet", "timesheets.my_time"))
    return items


def _approvals(session: Session, user: User) -> list[Waiting]:
    items = []
    waiting = approvals.waiting_count(session, user)
    if waiting:
        items.append(Waiting(f"{_plural(waiting, 'timesheet waits', 'timesheets wait')} for approval",
                             "timesheets.approvals_page"))
    held = approvals.held_count(session, user)
    if held:
        items.append(Waiting(f"{_plural(held, 'timesheet has', 'timesheets have')} changes from a timesheet tool "
                             "held for a decision", "timesheets.approvals_page", {"status": "", "held": "1"},
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
