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
    from portal.projects.models import Offering, Project
    from portal.stages.models import Stage

ADMIN_ROLES = {Role.ADMIN, Role.SUPER_ADMIN}


def require(allowed: bool, message: str = "You are not allowed to do that.") -> None:
    if not allowed:
        raise NotAllowed(message)


def refuse(reason: str | None) -> None:
    """Raise NotAllowed with a refusal function's reason, when it gives one (`*_refusal` below)."""
    if reason:
        raise NotAllowed(reason)


def is_authenticated(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def is_admin(user: Any) -> bool:
    return is_authenticated(user) and user.role in ADMIN_ROLES


def is_super_admin(user: Any) -> bool:
    return is_authenticated(user) and user.role == Role.SUPER_ADMIN


def is_internal(user: Any) -> bool:
    """Anyone but a client user: staff, approvers, PMs, admins."""
    return is_authenticated(user) and user.role != Role.CLIENT


def is_client_user(user: Any) -> bool:
    """A client's user: sees the workspaces of their client's projects only."""
    return is_authenticated(user) and user.role == Role.CLIENT


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


def pm_right_refusal(user: Any, project: Project, flag: str, what: str) -> str | None:
    """Why `user` may not `what` (a verb phrase) under the stage's "Project managers can" setting `flag`, or
    None. MPE users may whatever the stage; the PM team while the stage allows it. A refused control shows
    this reason (issue 15), and the service refuses with the same words."""
    if is_mpe(user) or pm_may(user, project, flag):
        return None
    if is_pm_of(user, project):
        return f"{project.stage.name} does not let project managers {what}; a user with the MPE permission can."
    return f"Only the PM team of {project.name} and users with the MPE permission can {what}."


# Administration
def can_manage_users(user: Any) -> bool:
    return is_admin(user)


def can_manage_user(user: Any, target: Any) -> bool:
    """Change a login (its role, password, activity, links): admins; super-admins' only by super-admins."""
    return can_manage_users(user) and (target.role != Role.SUPER_ADMIN or is_super_admin(user))


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


def project_info_refusal(user: Any, project: Project) -> str | None:
    return pm_right_refusal(user, project, "pm_edit_project_info", "edit the project info")


def can_edit_project_info(user: Any, project: Project) -> bool:
    return project_info_refusal(user, project) is None


def can_change_pm_team(user: Any, project: Project) -> bool:
    return is_mpe(user) or pm_may(user, project, "pm_change_pm_team")


def cost_plan_refusal(user: Any, project: Project) -> str | None:
    return pm_right_refusal(user, project, "pm_edit_cost_plans", "add or change offerings")


def can_edit_cost_plans(user: Any, project: Project) -> bool:
    """Create offerings and change their budgets (sold/planned hours, fee, budget)."""
    return cost_plan_refusal(user, project) is None


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
def time_entry_refusal(project: Project, offering: Offering | None = None, resource_id: int | None = None,
                       description: str | None = None) -> str | None:
    """Why time cannot be reported to `project` now, or None.

    Seed 004: a closed stage, a project not open for time (the stage's setting or the project's override),
    a project taking time from assigned people only (checked when the offering and resource are given),
    descriptions required (checked when a description is given). The same answer applies to native
    entries and to time synced from a timesheet tool.
    """
    stage = project.stage
    if stage.is_closed:
        return f"{project.name} is closed ({stage.name}); time cannot be reported to it."
    if not entry_open(project, "open_for_time"):
        if project.open_for_time is False and stage.flag("allow_open_for_time_changes"):
            return f"{project.name} is not open for time (a project setting)."
        return f"{project.name} is in {stage.name}, which is not open for time."
    if project.time_entry_by == "assigned" and offering is not None and resource_id is not None \
            and not is_assigned(offering, resource_id):
        return f"Only people assigned to {offering.name} may report time to it."
    if description is not None and project.time_descriptions_required and not description.strip():
        return f"Time entries on {project.name} need a description."
    return None


# Stage editor (issue 3) ---------------------------------------------------------------------------------
# Project options a stage may let people change (seed 004 "Allow changes to ..."): option -> stage flag.
ENTRY_OVERRIDES = {
    "open_for_time": "allow_open_for_time_changes",
    "open_for_time_transfer": "allow_open_for_time_changes",
    "open_for_cost": "allow_open_for_cost_changes",
    "open_for_cost_transfer": "allow_open_for_cost_changes",
}
# Groups of project entry settings and the stage flag that lets them change.
ENTRY_SETTING_GROUPS = {
    "open_for_time": "allow_open_for_time_changes",
    "open_for_cost": "allow_open_for_cost_changes",
    "time_entry": "allow_time_entry_settings_changes",
    "cost_entry": "allow_cost_entry_settings_changes",
}


def entry_open(project: Project, key: str, stage: Stage | None = None) -> bool:
    """The project's effective open-for-time/cost(-transfer) option (in `stage`, by default its own).

    A closed stage closes the project for time and cost entry whatever the options say; transfers follow
    the stage (a closed stage may still accept transfers for corrections). A project's own value counts
    only while its stage allows changing it.
    """
    stage = stage or project.stage
    if stage.is_closed and key in ("open_for_time", "open_for_cost"):
        return False
    override = getattr(project, key)
    if override is not None and stage.flag(ENTRY_OVERRIDES[key]):
        return bool(override)
    return bool(stage.flag(key))


def is_assigned(offering: Offering, resource_id: int) -> bool:
    """On the offering's team for real: passive assignments (added because someone logged time) do not count."""
    return any(a.resource_id == resource_id and not a.passive for a in offering.assignments)


def is_assigned_to_project(project: Project, resource_id: int) -> bool:
    return any(is_assigned(o, resource_id) for o in project.offerings)


def cost_entry_refusal(project: Project, resource_id: int | None = None,
                       cost_category_id: int | None = None, allowed_category_ids: set[int] | None = None) -> str | None:
    """Why a cost (expense) cannot be reported to `project` now, or None (seed 004 "open for cost")."""
    stage = project.stage
    if stage.is_closed:
        return f"{project.name} is closed ({stage.name}); costs cannot be reported to it."
    if not entry_open(project, "open_for_cost"):
        if project.open_for_cost is False and stage.flag("allow_open_for_cost_changes"):
            return f"{project.name} is not open for cost (a project setting)."
        return f"{project.name} is in {stage.name}, which is not open for cost."
    if project.cost_entry_by == "assigned" and resource_id is not None \
            and not is_assigned_to_project(project, resource_id):
        return f"Only people assigned to {project.name} may report costs to it."
    if cost_category_id is not None and allowed_category_ids and cost_category_id not in allowed_category_ids:
        return f"{project.name} does not take expenses in that cost category."
    return None


def transfer_refusal(target: Project, kind: str) -> str | None:
    """Why time or cost entries (kind "time" | "cost") cannot be transferred onto `target`, or None."""
    if not entry_open(target, f"open_for_{kind}_transfer"):
        return f"{target.name} is not open for {kind} transfers ({target.stage.name})."
    return None


def entry_settings_stage_refusal(project: Project, group: str) -> str | None:
    """Why the stage keeps a project's time/cost entry options (`group`) as they are, or None. Closed projects'
    options are greyed out (seed 004): closing decides them."""
    stage = project.stage
    if stage.is_closed:
        return f"{stage.name} closes projects, which decides their time and cost entry options."
    if not stage.flag(ENTRY_SETTING_GROUPS[group]):
        return f"{stage.name} does not let projects change these options (a stage setting)."
    return None


def entry_settings_refusal(user: Any, project: Project, group: str) -> str | None:
    """Why `user` cannot change the options: the stage's reason, else the project-info right's."""
    return entry_settings_stage_refusal(project, group) or project_info_refusal(user, project)


def can_edit_entry_settings(user: Any, project: Project, group: str) -> bool:
    return entry_settings_refusal(user, project, group) is None


# Moving projects: three tiers (seed 004), each needing "move from" on the current stage and "move to" on
# the target. MPE users edit anything else whatever the stage, but move projects only under their flags.
MOVE_TIERS = (("pm", is_pm_of), ("mpe", lambda user, project: is_mpe(user)),
              ("maeps", lambda user, project: is_maeps(user)))
TIER_WORDS = {"pm": "project managers", "mpe": "users with the MPE permission",
              "maeps": "users with the MAEPS permission"}


def can_move_project(user: Any, project: Project, target: Stage) -> bool:
    if target.id == project.stage_id or target.engagement_type_id != project.engagement_type_id:
        return False
    source = project.stage
    return any(member(user, project) and source.flag(f"{tier}_move_from") and target.flag(f"{tier}_move_to")
               for tier, member in MOVE_TIERS)


def move_refusal(user: Any, project: Project) -> str | None:
    """Why the user may not move the project out of its stage (the Move button says so), or None."""
    tiers = [tier for tier, member in MOVE_TIERS if member(user, project)]
    if not tiers:
        return f"Only the PM team of {project.name} and users with the MPE or MAEPS permission move projects."
    if any(project.stage.flag(f"{tier}_move_from") for tier in tiers):
        return None
    return f"{project.stage.name} does not let {' or '.join(TIER_WORDS[t] for t in tiers)} move projects out of it."


def can_move_project_from(user: Any, project: Project) -> bool:
    """Whether any tier lets the user move the project out of its stage (shows the Move button)."""
    return move_refusal(user, project) is None


# Planning, transfers and adjustments
def can_create_baselines(user: Any, project: Project) -> bool:
    return is_mpe(user) or pm_may(user, project, "pm_create_baselines")


def can_edit_baselines(user: Any, project: Project) -> bool:
    """Change or delete earlier baselines: separate from creating them, so history is not rewritten."""
    return is_mpe(user) or pm_may(user, project, "pm_edit_baselines")


def can_edit_tasks(user: Any, project: Project) -> bool:
    return is_mpe(user) or pm_may(user, project, "pm_edit_tasks")


def can_edit_task_types(user: Any, project: Project) -> bool:
    return is_mpe(user) or pm_may(user, project, "pm_edit_task_types")


def can_adjust_time_cost(user: Any, project: Project) -> bool:
    """Write entries up or down, revalue them, change their task; seed 004: this includes transfers."""
    return is_mpe(user) or pm_may(user, project, "pm_adjust_time_cost")


def can_transfer(user: Any, project: Project, kind: str) -> bool:
    """Transfer time or cost entries (kind "time" | "cost") off `project`."""
    return can_adjust_time_cost(user, project) or pm_may(user, project, f"pm_transfer_{kind}")


def can_transfer_onto(user: Any, project: Project) -> bool:
    """A PM transfers only to projects they manage (seed 004); MPE users to any project."""
    return is_mpe(user) or is_pm_of(user, project)


TRANSFERRED = {"time": "time", "cost": "costs"}  # what a transfer of each kind moves, in a sentence


def transfer_onto_refusal(user: Any, target: Project, kind: str) -> str | None:
    """Why `user` cannot move time or costs (kind "time" | "cost") onto `target`, or None: its stage takes
    none, or it is not a project they manage. System actors (not users) are held to the stage only."""
    refusal = transfer_refusal(target, kind)
    if refusal is None and is_authenticated(user) and not can_transfer_onto(user, target):
        refusal = f"You can transfer {TRANSFERRED[kind]} only to projects you manage; {target.name} is not one."
    return refusal


def transfer_off_refusal(user: Any, source: Project, kind: str) -> str | None:
    """Why `user` cannot move time or costs off `source` (its stage and their rights), or None."""
    if is_authenticated(user) and not can_transfer(user, source, kind):
        return f"You cannot transfer {TRANSFERRED[kind]} off {source.name} while it is in {source.stage.name}."
    return None


def can_revalue_time(user: Any, project: Project) -> bool:
    return is_mpe(user) or pm_may(user, project, "pm_revalue_time")


# Client workspaces
def can_create_client_users(user: Any, project: Project) -> bool:
    return is_mpe(user) or pm_may(user, project, "pm_create_client_users")


def can_configure_workspace(user: Any, project: Project) -> bool:
    return is_mpe(user) or pm_may(user, project, "pm_configure_workspace")


def can_configure_workspace_permissions(user: Any, project: Project) -> bool:
    return is_mpe(user) or pm_may(user, project, "pm_configure_workspace_permissions")


def workspace_refusal(user: Any, project: Project) -> str | None:
    """Why `user` cannot open the project's workspace, or None (seed 004 "access workspaces", "clients can")."""
    if not is_authenticated(user):
        return "Please log in."
    stage = project.stage
    if not stage.flag("allow_workspace_access"):
        return f"The workspace of {project.name} is turned off while it is in {stage.name}."
    if user.role == Role.CLIENT:
        if user.client_id != project.client_id:
            return "This workspace belongs to another client."
        if not stage.flag("clients_login_workspaces"):
            return f"The workspace of {project.name} is not open to clients while it is in {stage.name}."
    return None


# Forecasts
def can_view_forecast(user: Any) -> bool:
    """Projected revenue is money: those who see it everywhere, and PMs (their projects' rows only)."""
    return can_see_money(user) or (is_internal(user) and user.role == Role.PM)

# Timesheet tools (issue 4: connections, client mapping, the project Integrations tab) ------------------
def can_manage_connections(user: Any) -> bool:
    """Connect, validate and disconnect the organization's timesheet tools."""
    return is_admin(user)


def can_map_timesheet_clients(user: Any) -> bool:
    """Provision, connect and unlink the tools' clients (who maintains clients maps them)."""
    return can_manage_reference_data(user)


def can_link_timesheets(user: Any, project: Project) -> bool:
    """Provision, connect and disconnect the timesheet projects of a project's offerings."""
    return is_admin(user) or is_mpe(user) or is_pm_of(user, project)


def can_resync_timesheet_tools(user: Any) -> bool:
    """Re-push every linked project, offered after Assignment Level Budgeting / Hours Source changes."""
    return is_super_admin(user)

# Timesheets, approvals and finance (issue 6) ---------------------------------------------------------
def approves_everyone(user: Any) -> bool:
    """Users with the approver role, and admins, may approve anyone's timesheet."""
    return is_admin(user) or (is_internal(user) and user.role == Role.APPROVER)


def approves_in_own_right(user: Any) -> bool:
    """Roles whose work includes deciding on timesheets (approvers, project managers, admins); others reach
    the approvals queue only while they stand in for an approver."""
    return is_internal(user) and user.role in (Role.APPROVER, Role.PM, *ADMIN_ROLES)


def _decides_in_own_right(user: Any, timesheet: Any, projects: list[Project]) -> bool:
    if not is_internal(user):
        return False
    if timesheet.resource.user_id == user.id and not is_super_admin(user):
        return False
    if approves_everyone(user):
        return True
    return bool(projects) and all(is_pm_of(user, p) for p in projects)


def _stands_in_for(user: Any, timesheet: Any, principals: Any, right) -> Any | None:
    """The first approver `user` stands in for whose `right` covers the timesheet (issue 16). A stand-in never
    acts on their own timesheet, nor on the approver's."""
    if not is_internal(user) or timesheet.resource.user_id == user.id:
        return None
    return next((p for p in principals
                 if is_internal(p) and timesheet.resource.user_id != p.id and right(p, timesheet)), None)


def decides_for(user: Any, timesheet: Any, projects: list[Project], principals: Any = ()) -> Any | None:
    """Whose right lets `user` approve, reject or recall the timesheet: `user` themselves, else an approver
    they stand in for today (`principals`), else None. The rule: approvers and admins, or a member of the PM
    team of every project the timesheet holds time on; nobody decides on their own time but a super-admin."""
    if _decides_in_own_right(user, timesheet, projects):
        return user
    return _stands_in_for(user, timesheet, principals, lambda p, t: _decides_in_own_right(p, t, projects))


def can_decide_timesheet(user: Any, timesheet: Any, projects: list[Project], principals: Any = ()) -> bool:
    return decides_for(user, timesheet, projects, principals) is not None


def can_name_stand_in(user: Any, approver: Any) -> bool:
    """An approver names (and ends) their own stand-ins; admins anyone's."""
    return is_admin(user) or (is_internal(user) and user.id == approver.id)


def can_see_money(user: Any, project: Project | None = None) -> bool:
    """Who sees money (people's cost and sell rates, bill rates, fees, budgets, deal amounts, estimates, actuals,
    forecasts): admins, approvers (their approvals make the actuals) and MPE users everywhere; a project's PM
    team on that project. Not staff, not MAEPS-only users, not client users (a client sees only the budget use
    a project's PM team shares in its workspace). Without a project: money that belongs to no one project."""
    if approves_everyone(user) or is_mpe(user):
        return True
    return project is not None and is_pm_of(user, project)


def can_view_finance(user: Any) -> bool:
    """The organization's actuals, cost categories and fiscal periods."""
    return is_admin(user) or is_mpe(user)


def can_lock_fiscal_periods(user: Any) -> bool:
    return is_admin(user)


def _views_in_own_right(user: Any, timesheet: Any, projects: list[Project]) -> bool:
    if not is_internal(user):
        return False
    return (timesheet.resource.user_id == user.id or approves_everyone(user)
            or any(is_pm_of(user, p) for p in projects))


def views_for(user: Any, timesheet: Any, projects: list[Project], principals: Any = ()) -> Any | None:
    """Whose right lets `user` see the timesheet: their own (its person, approvers and admins, the PM team of
    any project it holds time on), else an approver they stand in for, else None."""
    if _views_in_own_right(user, timesheet, projects):
        return user
    return _stands_in_for(user, timesheet, principals, lambda p, t: _views_in_own_right(p, t, projects))


def can_view_timesheet(user: Any, timesheet: Any, projects: list[Project], principals: Any = ()) -> bool:
    return views_for(user, timesheet, projects, principals) is not None
