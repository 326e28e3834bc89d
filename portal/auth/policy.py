"""Who may do what: pure predicates over a user and a subject, read by views, templates and services.

`can_*` answers; `require` turns a False into NotAllowed with the reason. Stage-governed rights read the
project's stage through the stage registry (seed 004): a PM may do X on a project when they are on its
PM team and its stage allows PMs to do X; users with the MPE permission may edit any part of any
project whatever its stage. Nothing here imports Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portal.auth.models import Permission, Role
from portal.errors import NotAllowed

if TYPE_CHECKING:
    from portal.projects.models import Project
    from portal.stages.models import Stage

ADMIN_ROLES = {Role.ADMIN, Role.SUPER_ADMIN}


def require(allowed: bool, message: str = "You are not allowed to do that.") -> None:
    if not allowed:
        raise NotAllowed(message)


def is_authenticated(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def is_admin(user: Any) -> bool:
    return is_authenticated(user) and user.role in ADMIN_ROLES


def is_super_admin(user: Any) -> bool:
    return is_authenticated(user) and user.role == Role.SUPER_ADMIN


def is_internal(user: Any) -> bool:
    """Anyone but a client user: staff, approvers, PMs, admins."""
    return is_authenticated(user) and user.role != Role.CLIENT


def has_permission(user: Any, permission: Permission | str) -> bool:
    if not is_internal(user):
        return False
    return user.role == Role.SUPER_ADMIN or str(permission) in user.permissions


def is_mpe(user: Any) -> bool:
    return has_permission(user, Permission.MAINTAIN_PROJECTS)


def is_maeps(user: Any) -> bool:
    return has_permission(user, Permission.MAINTAIN_ADVANCED_PROJECTS)


def is_pm_of(user: Any, project: Project) -> bool:
    return is_internal(user) and user.id in project.pm_team_ids()


def pm_may(user: Any, project: Project, flag: str) -> bool:
    """A PM-team member acting under one of the stage's "Project managers can" settings."""
    return is_pm_of(user, project) and bool(project.stage.flag(flag))


# Administration
def can_manage_users(user: Any) -> bool:
    return is_admin(user)


def can_view_audit_log(user: Any) -> bool:
    return is_admin(user)


def can_manage_reference_data(user: Any) -> bool:
    """Clients, resources and their rates, cost categories."""
    return is_admin(user) or is_mpe(user)


def can_edit_org_settings(user: Any) -> bool:
    return is_super_admin(user)


def can_edit_stages(user: Any) -> bool:
    return has_permission(user, Permission.SYSTEM_SETTINGS)


# Projects
def can_view_projects(user: Any) -> bool:
    return is_internal(user)


def can_create_project_in(user: Any, stage: Stage) -> bool:
    return has_permission(user, Permission.CREATE_PROJECTS) and bool(stage.flag("allow_create_projects"))


def can_create_projects(user: Any) -> bool:
    return has_permission(user, Permission.CREATE_PROJECTS)


def can_manage_deals(user: Any) -> bool:
    return is_admin(user) or is_mpe(user) or has_permission(user, Permission.CREATE_PROJECTS)


def can_edit_project_info(user: Any, project: Project) -> bool:
    return is_mpe(user) or pm_may(user, project, "pm_edit_project_info")


def can_change_pm_team(user: Any, project: Project) -> bool:
    return is_mpe(user) or pm_may(user, project, "pm_change_pm_team")


def can_edit_cost_plans(user: Any, project: Project) -> bool:
    """Create offerings and change their budgets (sold/planned hours, fee, budget)."""
    return is_mpe(user) or pm_may(user, project, "pm_edit_cost_plans")


def can_create_roles(user: Any, project: Project) -> bool:
    """Add people to offerings. Seed 004: PMs also need request or schedule resources."""
    return is_mpe(user) or (
        pm_may(user, project, "pm_create_roles")
        and (pm_may(user, project, "pm_request_resources") or pm_may(user, project, "pm_schedule_resources"))
    )


def can_edit_rates(user: Any, project: Project) -> bool:
    return is_mpe(user) or pm_may(user, project, "pm_edit_rates")


def can_schedule_resources(user: Any, project: Project) -> bool:
    """Book hours: schedulers (permission or PM right) in a stage that allows scheduling."""
    if is_mpe(user):
        return True
    scheduler = has_permission(user, Permission.SCHEDULE_RESOURCES) or pm_may(user, project, "pm_schedule_resources")
    return scheduler and bool(project.stage.flag("allow_schedule_resources"))


def can_request_resources(user: Any, project: Project) -> bool:
    if is_mpe(user):
        return True
    requester = (has_permission(user, Permission.REQUEST_RESOURCES)
                 or has_permission(user, Permission.SCHEDULE_RESOURCES)
                 or pm_may(user, project, "pm_request_resources"))
    return requester and bool(project.stage.flag("allow_request_resources"))


# Background work
def can_watch_run(user: Any, run: Any) -> bool:
    """A sync run's progress: admins, whoever started it, and internal users for project-level runs."""
    return is_admin(user) or (is_authenticated(user) and run.initiated_by_id == user.id) or (
        run.project_id is not None and is_internal(user)
    )


# Time and cost entry
def time_entry_refusal(project: Project) -> str | None:
    """Why time cannot be reported to `project` now (seed 004 "open for time", "consider closed"), or None.

    The same answer applies to native entries and to time synced from a timesheet tool.
    """
    stage = project.stage
    if stage.is_closed:
        return f"{project.name} is closed ({stage.name}); time cannot be reported to it."
    if not stage.flag("open_for_time"):
        return f"{project.name} is in {stage.name}, which is not open for time."
    return None


# Timesheets, approvals and finance (issue 6) ---------------------------------------------------------
def approves_everyone(user: Any) -> bool:
    """Users with the approver role, and admins, may approve anyone's timesheet."""
    return is_admin(user) or (is_internal(user) and user.role == Role.APPROVER)


def can_decide_timesheet(user: Any, timesheet: Any, projects: list[Project]) -> bool:
    """Approve, reject or recall a timesheet holding time on `projects`: approvers and admins, or a member
    of the PM team of every one of those projects. Nobody decides on their own time but a super-admin."""
    if not is_internal(user):
        return False
    if timesheet.resource.user_id == user.id and not is_super_admin(user):
        return False
    if approves_everyone(user):
        return True
    return bool(projects) and all(is_pm_of(user, p) for p in projects)


def can_view_project_finance(user: Any, project: Project) -> bool:
    """Money (rates, actuals) is for admins, MPE users, approvers (their approvals make it) and the PM team."""
    return approves_everyone(user) or is_mpe(user) or is_pm_of(user, project)


def can_view_finance(user: Any) -> bool:
    """The organization's actuals, cost categories and fiscal periods."""
    return is_admin(user) or is_mpe(user)


def can_lock_fiscal_periods(user: Any) -> bool:
    return is_admin(user)


def can_view_timesheet(user: Any, timesheet: Any, projects: list[Project]) -> bool:
    """Its person, approvers and admins, and the PM team of any project it holds time on."""
    if not is_internal(user):
        return False
    return (timesheet.resource.user_id == user.id or approves_everyone(user)
            or any(is_pm_of(user, p) for p in projects))
