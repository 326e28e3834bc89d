"""Client workspaces (seed 004): which sections a project's workspace has, which of them client users see,
the client logins a PM creates, and what each section shows.

Reaching a workspace at all is the stage's decision (policy.workspace_refusal): "access workspaces" turns
it off for everyone, "clients can log in to project workspaces" opens it to client users.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal import audit
from portal.auth import policy
from portal.auth.models import Role, User
from portal.auth.services import add_user
from portal.errors import InvalidInput, NotAllowed
from portal.org.services import get_settings
from portal.projects.models import Booking, Project
from portal.projects.services import get_project, week_start
from portal.timesheets.actuals import budget_use, offering_actuals

# (key, label, what it shows)
SECTIONS = [
    ("home", "Home", "Stage, dates, description and the project manager"),
    ("progress", "Progress", "Hours reported on each offering against the plan"),
    ("schedule", "Schedule", "Hours booked for the coming weeks"),
    ("team", "Team", "Who works on the project"),
    ("budget", "Budget", "What has been used of each offering's budget"),
]
SECTION_KEYS = [key for key, _, _ in SECTIONS]
DEFAULT_CLIENT_SECTIONS = ["home", "progress", "schedule"]
SCHEDULE_WEEKS = 6


def sections(project: Project) -> list[str]:
    """The sections the workspace has (for everyone who may open it)."""
    return [k for k in SECTION_KEYS if k in (project.workspace_sections or SECTION_KEYS)]


def client_sections(project: Project) -> list[str]:
    chosen = project.workspace_client_sections
    chosen = DEFAULT_CLIENT_SECTIONS if chosen is None else chosen
    return [k for k in sections(project) if k in chosen]


def visible_sections(user: User, project: Project) -> list[str]:
    """Client users see what the PM team shares with them (the Budget section too, when shared); internal users
    see every section, but the budget only if they may see the project's money."""
    if user.role == Role.CLIENT:
        return client_sections(project)
    return [k for k in sections(project) if k != "budget" or policy.can_see_money(user, project)]


def _check_keys(keys: list[str], field: str) -> list[str]:
    unknown = set(keys) - set(SECTION_KEYS)
    if unknown:
        raise InvalidInput("Choose among the listed sections.", fields={field: "Unknown section."})
    return [k for k in SECTION_KEYS if k in keys]


def configure_workspace(session: Session, actor: User | str | None, project_id: int, enabled: list[str]) -> Project:
    """Seed 004 "Configure workspace": which sections the workspace has."""
    project = get_project(session, project_id)
    if isinstance(actor, User):
        policy.require(policy.can_configure_workspace(actor, project),
                       f"You cannot configure the workspace while {project.name} is in {project.stage.name}.")
    enabled = _check_keys(enabled, "sections")
    before = sections(project)
    if enabled != before:
        project.workspace_sections = enabled
        session.flush()
        audit.record(session, actor, "workspace.configured", project, before={"sections": before},
                     after={"sections": enabled}, summary=f"Workspace sections of {project.name} changed")
    return project


def configure_client_access(session: Session, actor: User | str | None, project_id: int,
                            visible: list[str]) -> Project:
    """Seed 004 "Configure workspace permissions": which sections client users may see."""
    project = get_project(session, project_id)
    if isinstance(actor, User):
        policy.require(policy.can_configure_workspace_permissions(actor, project),
                       f"You cannot change what clients see while {project.name} is in {project.stage.name}.")
    visible = _check_keys(visible, "client_sections")
    before = client_sections(project)
    chosen = DEFAULT_CLIENT_SECTIONS if project.workspace_client_sections is None else project.workspace_client_sections
    if visible != chosen:
        project.workspace_client_sections = visible
        session.flush()
        audit.record(session, actor, "workspace.client_access_changed", project, before={"client_sections": before},
                     after={"client_sections": client_sections(project)},
                     summary=f"What {project.client.name}'s users see of {project.name} changed")
    return project


def create_client_user(session: Session, actor: User | str | None, project_id: int, *, email: str, name: str,
                       password: str | None) -> User:
    """A login for someone at the project's client (seed 004 "Create user accounts for clients"); without
    a password, they are emailed a link to set their own."""
    project = get_project(session, project_id)
    if isinstance(actor, User):
        policy.require(policy.can_create_client_users(actor, project),
                       f"You cannot create client logins while {project.name} is in {project.stage.name}.")
    user = add_user(session, actor, email=email, name=name, role=Role.CLIENT, password=password,
                    client_id=project.client_id)
    audit.record(session, actor, "workspace.client_user_created", project, after={"email": user.email},
                 summary=f"Client login {user.email} created from the workspace of {project.name}")
    return user


def client_users(session: Session, client_id: int) -> list[User]:
    return list(session.scalars(select(User).where(User.role == Role.CLIENT, User.client_id == client_id)
                                .order_by(User.name)))


def open_workspace(user: User, project: Project) -> list[str]:
    """The sections `user` sees, or NotAllowed with the stage's reason."""
    refusal = policy.workspace_refusal(user, project)
    if refusal:
        raise NotAllowed(refusal)
    return visible_sections(user, project)


def workspaces_of(session: Session, user: User) -> list[Project]:
    """The workspaces a client user may open now."""
    if user.role != Role.CLIENT or user.client_id is None:
        return []
    projects = session.scalars(select(Project).where(Project.client_id == user.client_id)
                               .options(selectinload(Project.stage)).order_by(Project.name))
    return [p for p in projects if policy.workspace_refusal(user, p) is None]


def section_data(session: Session, project: Project, shown: list[str], today: date,
                 first_weekday: int) -> dict[str, Any]:
    """What the shown sections display (only what they need is computed)."""
    data: dict[str, Any] = {}
    offerings = [o for o in project.offerings if not o.archived]
    if {"progress", "budget"} & set(shown):
        actuals = offering_actuals(session, [o.id for o in offerings])
        hours_source = get_settings(session).timesheet_hours_source
        data["offerings"] = [{"offering": o, "actuals": actuals[o.id],
                              "use": budget_use(o, actuals[o.id], hours_source)} for o in offerings]
    if "schedule" in shown:
        start = week_start(today, first_weekday)
        end = start + timedelta(days=7 * SCHEDULE_WEEKS - 1)
        weeks: dict[date, Decimal] = defaultdict(Decimal)
        for booking in session.scalars(select(Booking).where(Booking.project_id == project.id,
                                                             Booking.on >= start, Booking.on <= end)):
            weeks[week_start(booking.on, first_weekday)] += booking.hours
        data["schedule"] = [(start + timedelta(days=7 * i), weeks.get(start + timedelta(days=7 * i), Decimal("0")))
                            for i in range(SCHEDULE_WEEKS)]
    if "team" in shown:
        data["team"] = sorted({a.resource.name: a.role for o in offerings for a in o.assignments
                               if not a.passive}.items())
    return data
