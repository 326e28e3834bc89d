"""Moving a project from one stage to another, and what entering a stage does (seed 004).

Who may move: three tiers (PM team, MPE users, MAEPS users), each needing its "move from" setting on the
current stage and its "move to" on the target (policy.can_move_project). What a move does:
- entering a stage that considers projects closed sets the end date: today, or the last day of the
  future bookings that remain, never before the start date ("the earliest possible date");
- entering a stage that clears future scheduled hours deletes daily bookings after today and weekly
  bookings from next week on (a week's hours could fall on any of its days, so this week's stay);
- the stage's notification settings email subscribers and the PM team;
- `events.project_stage_changed` carries the move dialog's options to other domains (timesheet tools
  provision offerings on entering In Progress).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from portal import audit, events
from portal.auth import policy
from portal.auth.models import User
from portal.columns import today as org_today
from portal.errors import Conflict, InvalidInput, NotAllowed, get_or_raise
from portal.formatting import plural
from portal.org.services import get_settings
from portal.projects.models import Booking, BookingMode, Project
from portal.projects.services import week_start
from portal.stages import notifications
from portal.stages.models import Stage
from portal.stages.services import get_stage, require_editor


def workflow(session: Session, project: Project) -> list[Stage]:
    return list(session.scalars(select(Stage).where(Stage.engagement_type_id == project.engagement_type_id)
                                .order_by(Stage.position, Stage.id)))


def allowed_targets(session: Session, actor: User, project: Project) -> list[Stage]:
    """The stages `actor` may move the project to, in workflow order (all the move dialog offers)."""
    return [s for s in workflow(session, project) if policy.can_move_project(actor, project, s)]


def _future_bookings(project_id: int, today: date, first_weekday: int):
    """Daily bookings after today and weekly bookings from next week on."""
    next_week = week_start(today, first_weekday) + timedelta(days=7)
    return (Booking.project_id == project_id) & or_(
        (Booking.mode == BookingMode.DAY) & (Booking.on > today),
        (Booking.mode == BookingMode.WEEK) & (Booking.on >= next_week),
    )


def clear_future_bookings(session: Session, actor: User | str | None, project: Project, today: date,
                          first_weekday: int) -> int:
    """Delete the project's future scheduled hours; returns how many bookings went."""
    condition = _future_bookings(project.id, today, first_weekday)
    doomed = session.execute(select(Booking.resource_id, Booking.mode, Booking.on, Booking.hours)
                             .where(condition).order_by(Booking.on)).all()
    if not doomed:
        return 0
    session.execute(delete(Booking).where(condition).execution_options(synchronize_session="fetch"))
    audit.record(session, actor, "booking.future_cleared", project,
                 before={"bookings": [{"resource_id": r, "mode": m, "on": o, "hours": h} for r, m, o, h in doomed]},
                 after={"bookings": []},
                 summary=f"Cleared {plural(len(doomed), 'future booking')} of {project.name}")
    events.booking_changed.send(project, session=session, actor=actor, changes={"cleared": [len(doomed), 0]})
    return len(doomed)


def closing_date(session: Session, project: Project, today: date, first_weekday: int,
                 clearing: bool = False) -> date:
    """Today, or the last day still booked in the future (none once they are cleared), and never before
    the project's start."""
    last = today
    future = [] if clearing else session.execute(select(Booking.mode, Booking.on).where(
        _future_bookings(project.id, today, first_weekday)))
    for mode, on in future:
        last = max(last, on + timedelta(days=6) if mode == BookingMode.WEEK else on)
    if project.start_date and project.start_date > last:
        last = project.start_date
    return last


def _enter(session: Session, actor: User | str | None, project: Project, stage: Stage) -> dict[str, Any]:
    """What entering `stage` does to the project; returns a summary for the confirmation."""
    done: dict[str, Any] = {}
    today = org_today()
    first_weekday = get_settings(session).week_start
    if stage.flag("clear_future_hours"):
        done["bookings_cleared"] = clear_future_bookings(session, actor, project, today, first_weekday)
    if stage.is_closed:
        end = closing_date(session, project, today, first_weekday)
        if project.end_date != end:
            audit.record(session, actor, "project.end_date_set", project, before={"end_date": project.end_date},
                         after={"end_date": end}, summary=f"{project.name} closed: end date {end}")
            project.end_date = end
        done["end_date"] = end
    return done


def apply_move(session: Session, actor: User | str | None, project: Project, target: Stage,
               options: dict[str, Any]) -> dict[str, Any]:
    """Move without the tier check: the rules of entering `target`, the audit, emails and the event."""
    source = project.stage
    project.stage_id = target.id
    project.stage = target
    session.flush()
    audit.record(session, actor, "project.stage_changed", project, before={"stage": source.name},
                 after={"stage": target.name}, summary=f"{project.name} moved from {source.name} to {target.name}")
    done = _enter(session, actor, project, target)
    session.flush()
    done["notified"] = notifications.notify_stage_move(session, actor, project, source, target)
    events.project_stage_changed.send(project, session=session, actor=actor, from_stage=source, to_stage=target,
                                      options=options)
    return done


def move_project_to_stage(session: Session, actor: User | str | None, project_id: int, stage_id: int | None,
                          options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Move a project to another stage of its workflow, if the actor's tier allows it (see the module doc).

    `options` are the move dialog's choices, passed on untouched in `events.project_stage_changed`.
    Returns what the move did: bookings cleared, end date set, who was emailed.
    """
    # Locked and read fresh: two people moving one project at once apply one move after the other.
    project = get_or_raise(session, Project, project_id, "project", with_for_update=True, populate_existing=True)
    if stage_id is None:
        raise InvalidInput("Choose the stage to move the project to.", fields={"stage_id": "Choose a stage."})
    target = session.get(Stage, stage_id)
    if target is None or target.engagement_type_id != project.engagement_type_id:
        raise InvalidInput("Choose a stage of this project's workflow.", fields={"stage_id": "Choose a stage."})
    if target.id == project.stage_id:
        raise InvalidInput(f"{project.name} is already in {target.name}.", fields={"stage_id": "Already there."})
    if isinstance(actor, User) and not policy.can_move_project(actor, project, target):
        raise NotAllowed(f"You cannot move {project.name} from {project.stage.name} to {target.name}.")
    return apply_move(session, actor, project, target, dict(options or {}))


def reassign_projects(session: Session, actor: User | str | None, stage_id: int, target_id: int | None) -> int:
    """Move every project out of a stage (to delete it): an administrative move by the stage editor, so
    the tiers do not apply, but entering the target does everything a move does. Returns the count."""
    require_editor(actor)  # the editor's permission, not a mover's tier
    stage = get_stage(session, stage_id)
    if target_id is None:
        raise InvalidInput("Choose where the projects go.", fields={"target_id": "Choose a stage."})
    target = get_stage(session, target_id)
    if target.engagement_type_id != stage.engagement_type_id or target.id == stage.id:
        raise InvalidInput("Choose another stage of the same workflow.", fields={"target_id": "Choose a stage."})
    projects = list(session.scalars(select(Project).where(Project.stage_id == stage.id).order_by(Project.id)))
    if not projects:
        raise Conflict(f"No project is in {stage.name}.")
    for project in projects:
        apply_move(session, actor, project, target, {})
    return len(projects)


def preview(session: Session, project: Project, target: Stage) -> dict[str, Any]:
    """What moving to `target` would do, for the dialog (nothing is changed)."""
    today = org_today()
    first_weekday = get_settings(session).week_start
    clearing = bool(target.flag("clear_future_hours"))
    to_clear = session.scalar(select(func.count()).select_from(Booking).where(
        _future_bookings(project.id, today, first_weekday))) if clearing else 0
    end = closing_date(session, project, today, first_weekday, clearing) if target.is_closed else None
    source = project.stage
    return {
        "closes": target.is_closed, "end_date": end, "bookings_to_clear": to_clear,
        "open_for_time": policy.entry_open(project, "open_for_time", target),
        "open_for_cost": policy.entry_open(project, "open_for_cost", target),
        "notify_subscribers": bool(source.flag("notify_list_moved_from") or target.flag("notify_list_moved_to")),
        "notify_pm_team": bool(source.flag("notify_pm_moved_from") or target.flag("notify_pm_moved_to")),
    }


def describe(project: Project, source: str, done: dict[str, Any]) -> str:
    parts = [f"Moved {project.name} from {source} to {project.stage.name}."]
    if done.get("bookings_cleared"):
        parts.append(f"Cleared {plural(done['bookings_cleared'], 'future booking')}.")
    if done.get("end_date"):
        parts.append(f"End date set to {done['end_date']:%d %b %Y}.")
    if done.get("notified"):
        parts.append(f"Emailed {len(done['notified'])} people.")
    return " ".join(parts)
