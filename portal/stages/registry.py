"""Every stage setting of seed 004, defined once.

The stage editor is generated from this list and the policy reads stage values through it, so a
setting cannot exist in one place and not the other. `used=False` marks settings whose feature the
portal does not have yet (invoicing, RDC): they are stored, shown and audited, and the editor says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BOOL, PERCENT, CHOICE = "bool", "percent", "choice"


@dataclass(frozen=True)
class StageSetting:
    key: str
    group: str
    label: str
    help: str
    kind: str = BOOL
    default: Any = False
    choices: tuple[tuple[str, str], ...] = ()
    used: bool = True


GROUPS: list[tuple[str, str]] = [
    ("portal", "Portal"),
    ("time_cost", "Time and cost"),
    ("pm", "Project managers can"),
    ("mpe", "Users with MPE permission can"),
    ("maeps", "Users with MAEPS permission can"),
    ("permissions", "Users with permissions can"),
    ("clients", "Clients can"),
    ("likelihood", "Percent likelihood"),
    ("projections", "Base projections on"),
    ("crm", "CRM"),
    ("notify_list", "Notify cost-centre list users"),
    ("notify_pm", "Notify PM team when"),
    ("email_alerts", "Email alerts"),
]

S = StageSetting

SETTINGS: list[StageSetting] = [
    S("in_progress", "portal", "In Progress (delivery stage)",
      "Entering this stage offers to provision timesheets for the project's offerings, and sold offerings of "
      "projects in it show a green dot."),
    # Time and cost
    S("consider_closed", "time_cost", "Consider projects closed",
      "Projects in this stage are closed: hidden from lists and dashboards unless a filter asks for them, "
      "closed for time and cost, and their end date is set when they enter the stage."),
    S("open_for_time", "time_cost", "Open for time", "People may report time to projects in this stage.", default=True),
    S("open_for_cost", "time_cost", "Open for cost", "People may report costs (expenses) to projects in this stage.",
      default=True),
    S("open_for_time_transfer", "time_cost", "Open for time transfer",
      "Time entries may be transferred onto projects in this stage (the source project needs nothing).",
      default=True),
    S("open_for_cost_transfer", "time_cost", "Open for cost transfer",
      "Cost entries may be transferred onto projects in this stage.", default=True),
    S("allow_open_for_time_changes", "time_cost", "Allow changes to \"open for time\" settings",
      "A project in this stage may override its open-for-time and open-for-time-transfer options."),
    S("allow_open_for_cost_changes", "time_cost", "Allow changes to \"open for cost\" settings",
      "A project in this stage may override its open-for-cost and open-for-cost-transfer options."),
    S("allow_time_entry_settings_changes", "time_cost", "Allow changes to other time entry settings",
      "A project in this stage may change who may enter time and whether descriptions are required."),
    S("allow_cost_entry_settings_changes", "time_cost", "Allow changes to other cost entry settings",
      "A project in this stage may change who may enter costs and which cost categories are available."),
    S("allow_time_card_invoicing", "time_cost", "Allow time card invoicing",
      "Time entries of projects in this stage may be added to invoices.", used=False),
    S("allow_cost_card_invoicing", "time_cost", "Allow cost card invoicing",
      "Cost entries of projects in this stage may be added to invoices.", used=False),
    S("display_booked_roles", "time_cost", "Display booked roles on dashboard",
      "Bookings on projects in this stage appear on each person's home page.", default=True),
    S("clear_future_hours", "time_cost", "Clear future scheduled hours",
      "Entering this stage deletes bookings after today (daily bookings from tomorrow, weekly bookings "
      "from next week, since a week's hours could fall on any of its days)."),
    # Project managers can
    S("pm_edit_project_info", "pm", "Edit project info",
      "Name, code, likelihood, dates, description and the other project details, but not the PM team."),
    S("pm_change_pm_team", "pm", "Change PM and PM team", "Change the project manager and the PM team."),
    S("pm_create_roles", "pm", "Create roles",
      "Add people to offerings (assignments). Also needs request or schedule resources."),
    S("pm_request_resources", "pm", "Request resources", "Ask for people to be booked on the project."),
    S("pm_schedule_resources", "pm", "Schedule resources", "Book people's hours on the project."),
    S("pm_edit_rates", "pm", "Edit rates", "Change assignment bill rates."),
    S("pm_edit_rdc", "pm", "Edit RDC", "Change RDC rates of roles.", used=False),
    S("pm_edit_cost_plans", "pm", "Edit cost plans", "Change offering budgets: sold and planned hours, fees."),
    S("pm_create_baselines", "pm", "Create baselines", "Take a new budget baseline (a snapshot)."),
    S("pm_edit_baselines", "pm", "Edit and delete baselines",
      "Change or delete earlier baselines: separate from creating them so history is not rewritten."),
    S("pm_edit_tasks", "pm", "Edit tasks", "Maintain the project's task list."),
    S("pm_edit_task_types", "pm", "Edit task types", "Maintain the task types used by the task list."),
    S("pm_move_from", "pm", "Move projects from this stage", "A PM may move a project out of this stage."),
    S("pm_move_to", "pm", "Move projects to this stage",
      "A PM may move a project into this stage (with \"move from\" on its current stage)."),
    S("pm_create_client_users", "pm", "Create user accounts for clients",
      "Create client logins for the project's workspace."),
    S("pm_configure_workspace", "pm", "Configure workspace", "Choose which workspace sections exist."),
    S("pm_configure_workspace_permissions", "pm", "Configure workspace permissions",
      "Choose which workspace sections client users may see."),
    S("pm_transfer_time", "pm", "Transfer time among projects",
      "Move time entries to another project the PM manages that is open for time transfer."),
    S("pm_transfer_cost", "pm", "Transfer cost among projects",
      "Move cost entries to another project the PM manages that is open for cost transfer."),
    S("pm_revalue_time", "pm", "Revalue time on rate change",
      "When a rate changes, offer to revalue existing time entries at the new rate."),
    S("pm_adjust_time_cost", "pm", "Adjust time and cost",
      "Write time and cost entries up or down, change their task, or move them to another project."),
    # Three tiers of moving projects
    S("mpe_move_from", "mpe", "Move projects from this stage",
      "Users with the MPE permission may move a project out of this stage.", default=True),
    S("mpe_move_to", "mpe", "Move projects to this stage",
      "Users with the MPE permission may move a project into this stage.", default=True),
    S("maeps_move_from", "maeps", "Move projects from this stage",
      "Users with the MAEPS permission may move a project out of this stage.", default=True),
    S("maeps_move_to", "maeps", "Move projects to this stage",
      "Users with the MAEPS permission may move a project into this stage.", default=True),
    # Users with permissions can
    S("allow_schedule_resources", "permissions", "Schedule resources",
      "Schedulers (schedule-resources permission, or PMs allowed above) may book hours in this stage.",
      default=True),
    S("allow_request_resources", "permissions", "Request resources",
      "Requesters (request-resources permission, or PMs allowed above) may request people in this stage.",
      default=True),
    S("allow_create_projects", "permissions", "Create projects",
      "Users with the create-projects permission may create new projects in this stage."),
    S("allow_workspace_access", "permissions", "Access workspaces",
      "The project's client workspace is reachable at all in this stage.", default=True),
    S("clients_login_workspaces", "clients", "Log in to project workspaces",
      "Client users may log in and see this project's workspace."),
    S("percent_likelihood", "likelihood", "Percent likelihood",
      "How likely projects in this stage are to happen (0–100). It is each project's default; a PM may "
      "override it. Forecasts weight projected value by it.", kind=PERCENT, default=100),
    S("projection_basis", "projections", "Base projections on",
      "Bookings: booked hours × rates. Estimates: the CRM deal amount spread over the deal's dates.",
      kind=CHOICE, default="bookings", choices=(("bookings", "Bookings"), ("estimates", "Estimates"))),
    S("allow_crm_updates", "crm", "Allow updates from the CRM",
      "Changes to the project's deal (name, amount, dates) update the project. Otherwise they are "
      "recorded as skipped."),
    S("notify_list_moved_to", "notify_list", "When a project is moved to this stage",
      "Email users who subscribed to \"projects moved to or from a stage\"."),
    S("notify_list_moved_from", "notify_list", "When a project is moved from this stage",
      "Email users who subscribed to \"projects moved to or from a stage\"."),
    S("notify_pm_moved_to", "notify_pm", "Moved to this stage", "Email the project's PM team."),
    S("notify_pm_moved_from", "notify_pm", "Moved from this stage", "Email the project's PM team."),
    S("send_budget_alerts", "email_alerts", "Send budget alert emails",
      "Email the PM team when an offering's actuals reach 80 % and 100 % of its budget.", default=True),
    S("send_project_created_emails", "email_alerts", "Send project created emails",
      "Email the PM team and subscribers when a project is created in this stage."),
]

BY_KEY: dict[str, StageSetting] = {s.key: s for s in SETTINGS}


def defaults() -> dict[str, Any]:
    return {s.key: s.default for s in SETTINGS}


def settings_in(group: str) -> list[StageSetting]:
    return [s for s in SETTINGS if s.group == group]


def describe(setting: StageSetting, value: Any) -> str:
    """A stored value as the editor shows it (for confirmations and the audit summary)."""
    if setting.kind == BOOL:
        return "on" if value else "off"
    if setting.kind == PERCENT:
        return f"{value} %"
    return dict(setting.choices).get(value, str(value))


def describe_changes(changed: dict[str, list[Any]]) -> str:
    """`Open for time off → on; Percent likelihood 60 % → 75 %` (confirmations and audit summaries)."""
    return "; ".join(f"{BY_KEY[key].label} {describe(BY_KEY[key], before)} → {describe(BY_KEY[key], after)}"
                     for key, (before, after) in changed.items())


def coerce(setting: StageSetting, raw: Any) -> Any:
    """Turn a submitted value into the stored one; raises ValueError with a user-facing message."""
    if setting.kind == BOOL:
        return raw in (True, "y", "on", "true", "1", 1)
    if setting.kind == PERCENT:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValueError(f"{setting.label} must be a whole number from 0 to 100.") from None
        if not 0 <= value <= 100:
            raise ValueError(f"{setting.label} must be between 0 and 100.")
        return value
    if raw not in {c for c, _ in setting.choices}:
        raise ValueError(f"{setting.label}: choose one of {', '.join(label for _, label in setting.choices)}.")
    return raw


# The default workflow (seed 004's "Opportunity, Planning, Delivery, Pre-Close and Closed").
_PM_DELIVERY = {k: True for k in (
    "pm_edit_project_info", "pm_change_pm_team", "pm_create_roles", "pm_request_resources",
    "pm_schedule_resources", "pm_edit_rates", "pm_edit_cost_plans", "pm_create_baselines", "pm_edit_tasks",
    "pm_edit_task_types", "pm_move_from", "pm_move_to", "pm_create_client_users", "pm_configure_workspace",
    "pm_configure_workspace_permissions", "pm_transfer_time", "pm_transfer_cost", "pm_adjust_time_cost",
)}
DEFAULT_STAGES: list[tuple[str, dict[str, Any]]] = [
    ("Opportunity", {
        "open_for_time": False, "open_for_cost": False, "open_for_time_transfer": False,
        "open_for_cost_transfer": False, "display_booked_roles": False, "percent_likelihood": 25,
        "projection_basis": "estimates", "allow_crm_updates": True, "allow_create_projects": True,
        "send_budget_alerts": False, "send_project_created_emails": True, "pm_edit_project_info": True,
        "pm_create_roles": True, "pm_request_resources": True, "pm_edit_cost_plans": True,
        "pm_move_from": True, "pm_move_to": True,
    }),
    ("Planning", {
        **_PM_DELIVERY, "open_for_time": False, "open_for_cost": False, "percent_likelihood": 60,
        "allow_crm_updates": True, "allow_create_projects": True, "allow_open_for_time_changes": True,
        "allow_open_for_cost_changes": True, "allow_time_entry_settings_changes": True,
        "allow_cost_entry_settings_changes": True, "notify_pm_moved_to": True,
    }),
    ("In Progress", {
        **_PM_DELIVERY, "in_progress": True, "percent_likelihood": 100, "allow_time_card_invoicing": True,
        "allow_cost_card_invoicing": True, "allow_open_for_time_changes": True,
        "allow_open_for_cost_changes": True, "allow_time_entry_settings_changes": True,
        "allow_cost_entry_settings_changes": True, "notify_pm_moved_to": True,
        "notify_list_moved_to": True, "clients_login_workspaces": True,
    }),
    ("Pre-Close", {
        "pm_edit_project_info": True, "pm_transfer_time": True, "pm_transfer_cost": True,
        "pm_adjust_time_cost": True, "pm_move_from": True, "pm_move_to": True, "percent_likelihood": 100,
        "allow_time_card_invoicing": True, "allow_cost_card_invoicing": True, "open_for_time_transfer": False,
        "open_for_cost_transfer": False, "notify_pm_moved_to": True,
    }),
    ("Closed", {
        "consider_closed": True, "open_for_time": False, "open_for_cost": False,
        "open_for_time_transfer": False, "open_for_cost_transfer": False, "display_booked_roles": False,
        "clear_future_hours": True, "percent_likelihood": 100, "send_budget_alerts": False,
        "allow_workspace_access": False, "notify_pm_moved_to": True, "notify_list_moved_to": True,
        "notify_list_moved_from": True, "mpe_move_from": True,
    }),
]
