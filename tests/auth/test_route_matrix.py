"""Who may use which route: every route of app.url_map × every kind of user × objects they do and do not
own, each cell asserted against the table below, which is written from the product's rules (not read
from the code's declarations).

A cell is *allowed* when the answer is neither a refusal (403), nor a trip to the login page, nor a server
error; *refused* when it is a 403 (signed in) or the login page (anonymous) and nothing was audited. Each
request runs in a savepoint that is rolled back, so cells do not see each other's changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.auth.access import access_of, pending
from portal.extensions import db
from tests.auth import world as worlds
from tests.auth.world import ANONYMOUS, MONDAY, ROLES

SIGNED_IN = frozenset(ROLES) - {ANONYMOUS}
INTERNAL = SIGNED_IN - {"client"}
ADMINS = frozenset({"admin", "super_admin"})
SUPER = frozenset({"super_admin"})
# Clients, resources, rates, cost categories, finance pages: admins and MPE users (super-admins hold every
# permission).
REFERENCE = ADMINS | {"mpe"}
# Stage-governed rights on P (In Progress lets PMs do nearly everything): P's PM team and MPE users.
PM_OF_P = frozenset({"pm", "mpe", "super_admin"})
# Money of P: approvers (their approvals make it), admins, MPE users and P's PM team.
MONEY_OF_P = frozenset({"approver", "admin", "super_admin", "mpe", "pm"})
# Deciding on staff's week (time on P): approvers, admins, and the PM team of every project in it.
DECIDERS = frozenset({"approver", "admin", "super_admin", "pm"})
# Forecasts: those who see money everywhere, and PMs (their projects only).
PLANNERS = frozenset({"pm", "pm_other", "approver", "admin", "super_admin", "mpe"})
STAGE_EDITORS = SUPER  # the system-settings permission
DEALS = ADMINS | {"mpe"}  # admins, MPE users, create-projects holders
# A project's timesheet-tool links and time syncs: admins, MPE users and its PM team.
TOOL_LINKERS = ADMINS | PM_OF_P


@dataclass
class Case:
    method: str
    url: str
    allowed: frozenset[str]
    data: dict = field(default_factory=dict)
    # Public routes answer everyone (logging out sends anyone to the login page).
    public: bool = False


def get(url: str, allowed, **kw) -> Case:
    return Case("GET", url, frozenset(allowed), **kw)


def post(url: str, allowed, data: dict | None = None, **kw) -> Case:
    return Case("POST", url, frozenset(allowed), data=data or {}, **kw)


def cases(w: SimpleNamespace) -> dict[str, list[Case]]:
    """endpoint -> its cells. `w` holds the world's ids."""
    p, q = w.project, w.other_project
    day = MONDAY.isoformat()
    user_form = {"name": "Renamed", "role": "staff", "active": "y"}
    super_form = {"name": "Renamed", "role": "super_admin", "active": "y"}
    return {
        # Logins and password links
        "auth.login": [get("/login", SIGNED_IN | {ANONYMOUS}, public=True),
                       post("/login", SIGNED_IN | {ANONYMOUS}, public=True)],
        "auth.forgot_password": [get("/password/forgot", SIGNED_IN | {ANONYMOUS}, public=True)],
        "auth.set_password": [get("/password/set/not-a-token", SIGNED_IN | {ANONYMOUS}, public=True)],
        "auth.logout": [post("/logout", SIGNED_IN | {ANONYMOUS}, public=True)],
        # User administration; only super-admins manage super-admins
        "auth.users": [get("/admin/users", ADMINS)],
        "auth.new_user": [get("/admin/users/new", ADMINS),
                          post("/admin/users/new", ADMINS, {"email": "new@example.test", **user_form,
                                                            "password": "a-long-password"})],
        "auth.edit_user": [get(f"/admin/users/{w.target_staff}", ADMINS),
                           post(f"/admin/users/{w.target_staff}", ADMINS, user_form),
                           post(f"/admin/users/{w.target_super}", SUPER, super_form),
                           post(f"/admin/users/{w.target_super}", SUPER, {**super_form, "password": "x" * 12})],
        "auth.invite_user": [post(f"/admin/users/{w.target_staff}/invite", ADMINS),
                             post(f"/admin/users/{w.target_super}/invite", SUPER)],
        # Home, projects and their tabs
        "home.index": [get("/", SIGNED_IN)],
        # A sync run's progress (a project-level run: internal users) and its Retry
        "runs.sync_run": [get(f"/sync-runs/{w.run}", INTERNAL)],
        "runs.retry_run": [post(f"/sync-runs/{w.run}/retry", TOOL_LINKERS)],
        "projects.project_list": [get("/projects", INTERNAL)],
        "projects.new_project": [get("/projects/new", SUPER)],
        "projects.overview_tab": [get(f"/projects/{p}", INTERNAL)],
        "projects.edit_project": [get(f"/projects/{p}/edit", PM_OF_P),
                                  post(f"/projects/{p}/edit", PM_OF_P, {"name": "Platform 2", "client_id": w.client})],
        "projects.offerings_tab": [get(f"/projects/{p}/offerings", INTERNAL)],
        "projects.new_offering": [post(f"/projects/{p}/offerings/new", PM_OF_P, {
            "name": "Extra", "billing_model": "time_and_materials", "sold_hours": "10", "sale_status": "sold"})],
        "projects.edit_offering": [get(f"/offerings/{w.offering}/edit", PM_OF_P),
                                   post(f"/offerings/{w.offering}/edit", PM_OF_P, {
                                       "name": "Build", "billing_model": "time_and_materials",
                                       "sold_hours": "90", "sale_status": "sold"})],
        "projects.offering_row": [get(f"/offerings/{w.offering}", INTERNAL)],
        "projects.team_tab": [get(f"/projects/{p}/team", INTERNAL)],
        "projects.set_pm_team": [post(f"/projects/{p}/pm-team", PM_OF_P, {"pm_id": ""})],
        "projects.add_assignment": [post(f"/offerings/{w.second_offering}/assignments", PM_OF_P,
                                         {"resource_id": w.resource, "planned_hours": "4"})],
        "projects.update_assignment": [post(f"/assignments/{w.assignment}", PM_OF_P,
                                            {"resource_id": w.resource, "bill_rate": "190", "planned_hours": "4"})],
        "projects.remove_assignment": [post(f"/assignments/{w.assignment}/remove", PM_OF_P)],
        "projects.set_booking": [post(f"/projects/{p}/bookings", PM_OF_P, {
            "resource_id": w.resource, "mode": "day", "on": day, "hours": "3"})],
        "projects.integrations_tab": [get(f"/projects/{p}/integrations", INTERNAL)],
        "projects.finance_tab": [get(f"/projects/{p}/finance", INTERNAL)],
        # Clients, deals, resources and rates
        "crm.clients": [get("/clients", INTERNAL), post("/clients", REFERENCE, {"name": "Fabrikam"})],
        "crm.client_detail": [get(f"/clients/{w.client}", INTERNAL)],
        "crm.deals": [get("/deals", INTERNAL),
                      post("/deals", DEALS, {"name": "New deal", "client_id": w.client, "stage": "open"})],
        "crm.deal_stage": [post(f"/deals/{w.deal}/stage", DEALS, {"stage": "closed_lost"})],
        "crm.resource_list": [get("/resources", INTERNAL),
                              post("/resources", REFERENCE, {"name": "Newcomer", "email": "newcomer@example.test"})],
        "crm.resource_detail": [get(f"/resources/{w.resource}", INTERNAL),
                                post(f"/resources/{w.resource}", REFERENCE,
                                     {"name": "Staff", "email": "staff-renamed@example.test", "active": "y"})],
        "crm.set_rate": [post(f"/resources/{w.resource}/rates", REFERENCE,
                              {"rate_type": "cost", "amount": "60", "effective_from": day})],
        "crm.remove_rate": [post(f"/rates/{w.rate}/remove", REFERENCE)],
        # Expenses, and a project's time and costs
        "expenses.my_expenses": [get("/expenses", INTERNAL)],
        "expenses.delete_expense": [post(f"/expenses/{w.expense}/delete", {"staff", "admin", "super_admin"})],
        "expenses.entries_tab": [get(f"/projects/{p}/entries", INTERNAL)],
        "expenses.transfer_time": [post(f"/projects/{p}/entries/transfer", PM_OF_P, {
            "entry_ids": w.entry, "target_offering_id": w.second_offering})],
        "expenses.transfer_costs": [
            post(f"/projects/{p}/expenses/transfer", PM_OF_P, {"expense_ids": w.expense,
                                                                "target_project_id": w.pm_second_project}),
            # onto a project the PM does not manage
            post(f"/projects/{p}/expenses/transfer", PM_OF_P - {"pm"}, {"expense_ids": w.expense,
                                                                         "target_project_id": q})],
        "expenses.adjust_time": [post(f"/time-entries/{w.entry}/adjust", PM_OF_P, {"hours": "5"})],
        "expenses.adjust_cost": [post(f"/expenses/{w.expense}/adjust", PM_OF_P,
                                      {"amount": "40", "cost_category_id": w.category})],
        # Finance
        "finance.actuals": [get("/finance/actuals", REFERENCE)],
        "finance.actuals_csv": [get("/finance/actuals.csv", REFERENCE)],
        "finance.project_csv": [get(f"/projects/{p}/finance.csv", MONEY_OF_P),
                                get(f"/projects/{q}/finance.csv", MONEY_OF_P - {"pm"} | {"pm_other"})],
        "finance.post_held": [post("/finance/post-held", REFERENCE)],
        "finance.repost": [post("/finance/repost", REFERENCE)],
        "finance.cost_categories": [get("/finance/cost-categories", REFERENCE),
                                    post("/finance/cost-categories", REFERENCE, {"name": "Meals"})],
        "finance.edit_cost_category": [get(f"/finance/cost-categories/{w.category}", REFERENCE),
                                       post(f"/finance/cost-categories/{w.category}", REFERENCE,
                                            {"name": "Trains", "active": "y"})],
        "finance.fiscal_periods": [get("/finance/fiscal-periods", REFERENCE),
                                   post("/finance/fiscal-periods", REFERENCE, {
                                       "name": "2026-04", "start_date": "2026-04-01", "end_date": "2026-04-30"})],
        "finance.lock_period": [post(f"/finance/fiscal-periods/{w.period}/lock", ADMINS)],
        "finance.close_period": [get(f"/finance/fiscal-periods/{w.period}/close", ADMINS),
                                 post(f"/finance/fiscal-periods/{w.period}/close", ADMINS,
                                      {"confirm_name": "2026-03"})],
        "finance.locked_period_rule": [post("/finance/fiscal-periods/rule", ADMINS, {"rule": "next_open"})],
        "forecasts.forecast": [get("/forecast", PLANNERS)],
        # Organization settings and the audit log
        "org.organization": [get("/settings/organization", ADMINS),
                             post("/settings/organization", SUPER, {
                                 "name": "Demo", "timesheet_hours_source": "sold", "finance_rate_type": "cost",
                                 "week_start": "0", "reminder_weekday": "0", "reminder_hour": "9",
                                 "expected_hours_per_week": "40", "reminder_escalate_days": "2"})],
        "org.audit_log": [get("/settings/audit", ADMINS)],
        # The Plan tab
        "planning.plan_tab": [get(f"/projects/{p}/plan", INTERNAL)],
        "planning.save_task_type": [post(f"/projects/{p}/task-types", PM_OF_P, {"name": "Build", "active": "y"}),
                                    post(f"/projects/{p}/task-types/{w.task_type}", PM_OF_P, {"name": "Designs"})],
        "planning.save_task": [post(f"/projects/{p}/tasks", PM_OF_P, {"name": "Mockups", "active": "y"}),
                               post(f"/projects/{p}/tasks/{w.task}", PM_OF_P, {"name": "Wires", "active": "y"})],
        "planning.request_resource": [post(f"/projects/{p}/requests", PM_OF_P, {
            "hours": "8", "start_date": day, "end_date": day})],
        "planning.book_request": [post(f"/requests/{w.request}/book", PM_OF_P, {"resource_id": w.resource})],
        "planning.cancel_request": [post(f"/requests/{w.request}/cancel", PM_OF_P)],
        "planning.create_baseline": [post(f"/projects/{p}/baselines", PM_OF_P, {"name": "Revised"})],
        "planning.edit_baseline_line": [post(f"/baseline-lines/{w.baseline_line}", PM_OF_P - {"pm"},
                                             {"planned_hours": "80"})],
        "planning.delete_baseline": [post(f"/baselines/{w.baseline}/delete", PM_OF_P - {"pm"})],
        # The stage editor, the move dialog and entry options
        "stages.index": [get("/settings/stages", STAGE_EDITORS)],
        "stages.create_type": [post("/settings/stages/types", STAGE_EDITORS, {"name": "Fixed price"})],
        "stages.rename_type": [post(f"/settings/stages/types/{w.workflow_type}/rename", STAGE_EDITORS,
                                    {"name": "Retainer"})],
        "stages.make_default_type": [post(f"/settings/stages/types/{w.workflow_type}/default", STAGE_EDITORS)],
        "stages.delete_type": [post(f"/settings/stages/types/{w.workflow_type}/delete", STAGE_EDITORS)],
        "stages.create_stage": [post(f"/settings/stages/types/{w.workflow_type}/stages", STAGE_EDITORS,
                                     {"name": "Waiting"})],
        "stages.reorder_stage": [post(f"/settings/stages/{w.extra_stage}/reorder", STAGE_EDITORS,
                                      {"direction": "up"})],
        "stages.delete_stage": [post(f"/settings/stages/{w.extra_stage}/delete", STAGE_EDITORS)],
        "stages.reassign_and_delete": [post(f"/settings/stages/{w.extra_stage}/reassign", STAGE_EDITORS)],
        "stages.edit_stage": [get(f"/settings/stages/{w.stage}", STAGE_EDITORS)],
        "stages.rename_stage": [post(f"/settings/stages/{w.extra_stage}/rename", STAGE_EDITORS, {"name": "Held"})],
        "stages.save_setting": [post(f"/settings/stages/{w.extra_stage}/settings/percent_likelihood", STAGE_EDITORS,
                                     {"value": "40"}),
                                post(f"/settings/stages/{w.extra_stage}/settings/open_for_time", STAGE_EDITORS,
                                     {"value": "y", "view": "matrix"})],
        "stages.workflow_matrix": [get(f"/settings/stages/types/{w.workflow_type}/workflow", STAGE_EDITORS)],
        # In Progress lets PMs, MPE and MAEPS users move projects out of it
        "stages.move_project": [get(f"/projects/{p}/move", {"pm", "mpe", "maeps", "super_admin"})],
        "stages.save_entry_settings": [post(f"/projects/{p}/entry-settings/open_for_time", PM_OF_P,
                                            {"open_for_time": "no"})],
        # My time, timesheets and approvals
        "timesheets.my_time": [get("/time", INTERNAL)],
        "timesheets.add_entry": [post("/time/entries", INTERNAL, {"offering_id": w.offering, "work_date": day,
                                                                  "hours": "1", "billable": ""})],
        "timesheets.edit_entry": [get(f"/time/entries/{w.entry}/edit", {"staff", "admin", "super_admin"}),
                                  get(f"/time/entries/{w.others_entry}/edit", {"approver", "admin", "super_admin"})],
        "timesheets.delete_entry": [post(f"/time/entries/{w.entry}/delete", {"staff", "admin", "super_admin"}),
                                    post(f"/time/entries/{w.others_entry}/delete",
                                         {"approver", "admin", "super_admin"})],
        "timesheets.detail": [get(f"/timesheets/{w.submitted_sheet}", DECIDERS | {"staff"}),
                              get(f"/timesheets/{w.others_sheet}", DECIDERS)],
        "timesheets.posting": [get(f"/timesheets/{w.submitted_sheet}/posting", DECIDERS | {"staff"}),
                               get(f"/timesheets/{w.others_sheet}/posting", DECIDERS)],
        "timesheets.decide": [post(f"/timesheets/{w.submitted_sheet}/approve", DECIDERS,
                                   {"version": w.submitted_version})],
        "timesheets.decide_conflict": [post(f"/timesheets/conflicts/{w.conflict}/reject", DECIDERS)],
        # Timesheet tools: the Integrations tab (a disconnected Toggl: refusals come before "not connected")
        "integrations.offering_timesheet": [get(f"/offerings/{w.offering}/timesheets/{w.toggl}", INTERNAL)],
        "integrations.provision_offering": [post(f"/offerings/{w.offering}/timesheets/{w.toggl}/provision",
                                                 TOOL_LINKERS)],
        "integrations.connect_offering": [get(f"/offerings/{w.offering}/timesheets/{w.toggl}/connect", TOOL_LINKERS)],
        "integrations.disconnect_offering": [post(f"/offerings/{w.offering}/timesheets/{w.toggl}/disconnect",
                                                  TOOL_LINKERS)],
        "integrations.retry_offering": [post(f"/offerings/{w.offering}/timesheets/{w.toggl}/retry", TOOL_LINKERS)],
        "toggl.sync_project_time": [get(f"/projects/{p}/timesheets/{w.toggl}/sync", INTERNAL),
                                    post(f"/projects/{p}/timesheets/{w.toggl}/sync", TOOL_LINKERS)],
        # Admin → Integrations: connections (admins), client mapping (who maintains clients), the re-push
        "integration_settings.index": [get("/settings/integrations", ADMINS)],
        "integration_settings.resync": [get(f"/settings/integrations/connections/{w.toggl}/resync", ADMINS),
                                        post(f"/settings/integrations/connections/{w.toggl}/resync", SUPER)],
        "integration_settings.clients": [get(f"/settings/integrations/connections/{w.toggl}/clients", REFERENCE)],
        "integration_settings.client_row": [
            get(f"/settings/integrations/connections/{w.toggl}/clients/{w.client}", REFERENCE)],
        "integration_settings.provision_client": [
            post(f"/settings/integrations/connections/{w.toggl}/clients/{w.client}/provision", REFERENCE)],
        "integration_settings.connect_client": [
            get(f"/settings/integrations/connections/{w.toggl}/clients/{w.client}/connect", REFERENCE)],
        "integration_settings.unlink_client": [
            post(f"/settings/integrations/connections/{w.toggl}/clients/{w.client}/unlink", REFERENCE)],
        "integration_settings.retry_client": [
            post(f"/settings/integrations/connections/{w.toggl}/clients/{w.client}/retry", REFERENCE)],
        "toggl.settings": [get("/settings/integrations/toggl", ADMINS)],
        "toggl.status": [get("/settings/integrations/toggl/status", ADMINS)],
        "toggl.disconnect": [post("/settings/integrations/toggl/disconnect", ADMINS)],
        "time_sync.sync_log": [get(f"/settings/integrations/connections/{w.toggl}/sync-log", ADMINS)],
        "time_sync.sync_now": [post(f"/settings/integrations/connections/{w.toggl}/sync", ADMINS)],
        "time_sync.run_detail": [get(f"/settings/integrations/sync-runs/{w.run}", ADMINS)],
        "time_sync.retry_message": [post(f"/settings/integrations/sync-messages/{w.toggl_message}/retry", ADMINS)],
        "time_sync.link_person": [
            post(f"/settings/integrations/connections/{w.toggl}/people/{w.person}/link", ADMINS)],
        "time_sync.clear_person": [
            post(f"/settings/integrations/connections/{w.toggl}/people/{w.person}/clear", ADMINS)],
        "time_sync.match_again": [post(f"/settings/integrations/connections/{w.toggl}/people/match", ADMINS)],
        "procore.settings_page": [get("/settings/integrations/procore", ADMINS)],
        "procore.panel": [get("/settings/integrations/procore/panel", ADMINS)],
        "procore.activity_section": [get("/settings/integrations/procore/activity", ADMINS)],
        "procore.connect": [post("/settings/integrations/procore/connect", ADMINS)],
        "procore.oauth_callback": [get("/settings/integrations/procore/oauth/callback", ADMINS)],
        "procore.save_settings": [post("/settings/integrations/procore/settings", ADMINS)],
        "procore.add_link": [post("/settings/integrations/procore/links", ADMINS)],
        "procore.remove_link": [post(f"/settings/integrations/procore/links/{w.procore_link}/remove", ADMINS)],
        "procore.sync_now": [post("/settings/integrations/procore/sync", ADMINS)],
        "procore.disconnect": [post("/settings/integrations/procore/disconnect", ADMINS)],
        "procore.retry_message": [post(f"/settings/integrations/procore/messages/{w.procore_message}/retry", ADMINS)],
        # Webhooks: the tool's signature (or the header the portal gave it) authenticates the delivery
        # (one URL scheme, /webhooks/<kind>/<connection id>; the URLs given before it stay as aliases)
        "webhooks.receive": [post(f"/webhooks/toggl/{w.toggl}", SIGNED_IN | {ANONYMOUS}, public=True),
                             post(f"/webhooks/procore/{w.procore}", SIGNED_IN | {ANONYMOUS}, public=True)],
        "webhooks.receive_before_one_scheme": [post(f"/hooks/toggl/{w.toggl}", SIGNED_IN | {ANONYMOUS}, public=True)],
        "webhooks.receive_kind": [post("/webhooks/procore", SIGNED_IN | {ANONYMOUS}, public=True)],
        "approvals.approvals_page": [get("/approvals", INTERNAL)],
        # Searchable selects' options; health, metrics and the System page (issue 14)
        "lookups.options": [get("/lookup/projects", INTERNAL), get("/lookup/people?q=a", INTERNAL)],
        "system.healthz": [get("/healthz", SIGNED_IN | {ANONYMOUS}, public=True)],
        "system.prometheus_metrics": [get("/metrics", SIGNED_IN | {ANONYMOUS}, public=True)],  # off: 404
        "system.system_page": [get("/admin/system", ADMINS)],
        "system.failed_job": [post("/admin/system/failed/sync/no-such-job/retry", ADMINS)],
        "approvals.sheet_week": [get(f"/approvals/{w.submitted_sheet}/week", DECIDERS | {"staff"}),
                                  get(f"/approvals/{w.others_sheet}/week", DECIDERS)],
        # My time's week grid: everyone with a resource fills their own; admins anyone's
        "timesheets.offering_options": [get("/time/offerings?q=build", INTERNAL)],
        "timesheets.task_options": [get(f"/time/tasks?offering_id={w.offering}", INTERNAL)],
        "timesheets.set_cell": [post("/time/grid/cell", INTERNAL, {"offering_id": w.offering, "task_id": "",
                                                                   "work_date": day, "hours": "2"})],
        "timesheets.cell_panel": [get(f"/time/grid/panel?row={w.offering}-0&day={day}", INTERNAL)],
        "timesheets.add_cell_entry": [post(f"/time/grid/panel?row={w.offering}-0&day={day}", INTERNAL,
                                           {"hours": "1", "description": "", "billable": "yes"})],
        "timesheets.save_cell_entry": [
            post(f"/time/grid/entries/{w.entry}", {"staff", "admin", "super_admin"},
                 {"hours": "2", "description": "", "billable": "yes"}),
            post(f"/time/grid/entries/{w.others_entry}", {"approver", "admin", "super_admin"},
                 {"hours": "2", "description": "", "billable": "yes"})],
        "timesheets.delete_cell_entry": [
            post(f"/time/grid/entries/{w.entry}/delete", {"staff", "admin", "super_admin"}),
            post(f"/time/grid/entries/{w.others_entry}/delete", {"approver", "admin", "super_admin"})],
        "approvals.decide_many": [post("/approvals/decide", INTERNAL, {"action": "approve"})],
        # Issue 16: reminders and stand-ins. Whoever sees staff's draft week in their approvals may remind staff.
        "timesheets.my_reminders": [post("/time/reminders", INTERNAL)],
        "timesheets.my_decision_emails": [post("/time/decision-emails", INTERNAL)],
        "approvals.remind": [post(f"/approvals/{w.draft_sheet}/remind", DECIDERS)],
        "approvals.stand_ins": [get("/approvals/stand-ins", INTERNAL), post("/approvals/stand-ins", INTERNAL)],
        "approvals.end_stand_in": [post(f"/approvals/stand-ins/{w.stand_in}/end", ADMINS | {"approver"})],
        # Client workspaces
        "workspaces.index": [get("/workspace", SIGNED_IN)],
        "workspaces.workspace": [get(f"/workspace/{p}", SIGNED_IN), get(f"/workspace/{q}", INTERNAL)],
        "workspaces.workspace_tab": [get(f"/projects/{p}/workspace-settings", INTERNAL)],
        "workspaces.save_sections": [post(f"/projects/{p}/workspace-settings/sections", PM_OF_P,
                                          {"sections": "home"})],
        "workspaces.save_client_access": [post(f"/projects/{p}/workspace-settings/client-access", PM_OF_P,
                                               {"client_sections": "home"})],
        "workspaces.create_client_user": [post(f"/projects/{p}/workspace-settings/client-users", PM_OF_P, {
            "email": "buyer@example.test", "name": "Buyer", "password": "a-long-password"})],
    }


def _covered(app) -> list[str]:
    """Endpoints the matrix must cover: all but static files and routes still waiting for the restructure."""
    return sorted(rule.endpoint for rule in app.url_map.iter_rules()
                  if rule.endpoint != "static" and not pending(app.view_functions[rule.endpoint]))


def test_every_route_declares_who_may_use_it(app):
    undeclared = [rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"
                  and access_of(app.view_functions[rule.endpoint]) is None
                  and not pending(app.view_functions[rule.endpoint])]
    assert not undeclared, ("routes without @allow(policy...) or @public (portal/auth/access.py): "
                            + ", ".join(undeclared))


def test_the_matrix_covers_every_route(app, session):
    table = cases(worlds.build(session).ids)
    missing = sorted(set(_covered(app)) - set(table))
    assert not missing, "add these endpoints to the matrix: " + ", ".join(missing)


def _refused(response, role: str) -> bool:
    if role == ANONYMOUS:
        location = response.headers.get("Location", "") or response.headers.get("HX-Redirect", "")
        return response.status_code in (302, 303, 401) and location.split("?")[0].endswith("/login")
    return response.status_code == 403


def _audit_count(connection) -> int:
    return connection.scalar(select(func.count()).select_from(AuditEvent))


@pytest.mark.parametrize("role", ROLES)
def test_each_route_answers_each_role_as_the_rules_say(app, session, client, role):
    world = worlds.build(session)
    session.commit()  # a savepoint of the test's transaction: visible to the requests' sessions
    connection = db._app_engines[app][None]
    token = world.users[role].get_id() if role != ANONYMOUS else None
    user = SimpleNamespace(get_id=lambda: token)
    failures = []
    for endpoint_cases in cases(world.ids).values():
        for case in endpoint_cases:
            if token is not None:
                client.login(user)
            savepoint = connection.begin_nested()
            try:
                audited = _audit_count(connection)
                # buffered: a streamed CSV runs now, inside the savepoint
                response = client.open(case.url, method=case.method, data=case.data, buffered=True)
                wrote = _audit_count(connection) != audited
            finally:
                savepoint.rollback()
            cell = f"{role:12} {case.method:4} {case.url}: {response.status_code}"
            if response.status_code >= 500:
                failures.append(f"{cell} (server error)")
            elif case.public:
                if response.status_code in (401, 403):
                    failures.append(f"{cell} (refused a public route)")
            elif role in case.allowed and (_refused(response, role) or response.status_code in (401, 404, 405)):
                failures.append(f"{cell} (expected allowed)")
            elif role not in case.allowed and not _refused(response, role):
                failures.append(f"{cell} (expected refused)")
            elif role not in case.allowed and wrote:
                failures.append(f"{cell} (refused, but something was audited)")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ["super_admin", "pm"])
def test_every_form_works_without_htmx_as_with_it(app, session, client, role):
    """A plain request gets a whole page (or a redirect, or a file); an htmx request a fragment or HX-Redirect."""
    world = worlds.build(session)
    session.commit()
    connection = db._app_engines[app][None]
    token = world.users[role].get_id()
    failures = []
    for endpoint_cases in cases(world.ids).values():
        for case in endpoint_cases:
            if role not in case.allowed or case.method != "POST":
                continue
            for htmx, data in ((False, case.data), (True, case.data), (False, {}), (True, {})):
                client.login(SimpleNamespace(get_id=lambda: token))
                savepoint = connection.begin_nested()
                try:
                    response = client.open(case.url, method="POST", data=data, htmx=htmx, buffered=True)
                finally:
                    savepoint.rollback()
                html = response.mimetype == "text/html" and response.status_code not in (302, 303)
                page = html and b"<html" in response.data
                cell = f"{'htmx' if htmx else 'plain'} POST {case.url} {'with' if data else 'without'} data: " \
                       f"{response.status_code}"
                if response.status_code >= 500:
                    failures.append(f"{cell} (server error)")
                elif not htmx and html and not page:
                    failures.append(f"{cell} (a fragment answered a plain request)")
                elif htmx and page:
                    failures.append(f"{cell} (a whole page answered an htmx request)")
    assert not failures, "\n".join(failures)
