"""Every page of the portal as the demo's people see it (issue 15 item 23): the demo data loaded for real
(with the Toggl and Procore sandboxes it is connected to, an offering linked to Toggl and a sync run), and
the list of pages built from the URL map's GET routes, each with a representative object of the demo.

A GET route that is neither listed here as something other than a page (NOT_PAGES) nor resolvable from
the demo's objects (ARGUMENTS) fails `page_list`, so a new page is checked from the day it is added.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from portal import demo
from portal.auth.models import User
from portal.auth.passwords import make_token
from portal.extensions import db
from portal.finance.models import CostCategory, FiscalPeriod
from portal.integrations import provisioning
from portal.integrations.models import Connection
from portal.integrations.toggl import time_runs
from portal.integrations.toggl.demo import LEGACY_SUPPORT
from portal.projects.models import Client, Offering, Project, Resource
from portal.runs.models import SyncRun
from portal.stages.models import Stage
from portal.timesheets.models import TimeEntry, Timesheet
from sandboxes.procore import create_sandbox as procore_sandbox
from sandboxes.toggl import create_sandbox as toggl_sandbox
from tests.servers import serve
from tests.toggl_sandbox import pointed_at

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
ROLES = ("super_admin", "admin", "pm", "approver", "staff", "client")
EMAILS = {"super_admin": "super@demo.test", "admin": "admin@demo.test", "pm": "pm@demo.test",
          "approver": "approver@demo.test", "staff": "staff@demo.test", "client": "client@demo.test"}

# GET routes that answer something other than a page (a fragment asked for by htmx is also a page when
# browsed: portal/htmx.py): files, feeds, bare lists of options, and Procore's OAuth redirect back.
NOT_PAGES = {
    "static", "system.healthz", "system.prometheus_metrics", "finance.actuals_csv", "finance.project_csv",
    "lookups.options", "timesheets.offering_options", "timesheets.task_options", "procore.oauth_callback",
}
# Query arguments a page needs (names of representative_ids).
QUERIES = {"timesheets.cell_panel": ("row", "day")}

# Who sees each page, when it is not the super-admin (who may see everything): a page of one's own time or
# workspace is seen by its owner.
VIEWER = {
    "timesheets.my_time": "staff", "timesheets.edit_entry": "staff", "timesheets.cell_panel": "staff",
    "expenses.my_expenses": "staff",
    "workspaces.index": "client", "workspaces.workspace": "client", "approvals.approvals_page": "approver",
    "approvals.stand_ins": "approver",
}

# Pages each role reaches besides its navigation (a PM's project, with every tab and the move dialog).
EXTRA = {
    "pm": ["projects.overview_tab", "projects.offerings_tab", "projects.team_tab", "planning.plan_tab",
           "expenses.entries_tab", "workspaces.workspace_tab", "projects.integrations_tab", "projects.finance_tab",
           "stages.move_project", "projects.edit_project", "projects.edit_offering", "timesheets.detail"],
    "approver": ["timesheets.detail", "approvals.sheet_week"],
}


@dataclass(frozen=True)
class Visit:
    role: str
    path: str
    endpoint: str


@contextmanager
def demo_world(app, committed, run_jobs) -> Iterator[dict[str, int]]:
    """The demo data (portal/demo.py) with its sandboxes; yields the representative ids by argument name."""
    procore = procore_sandbox(deliver="manual")
    with serve(toggl_sandbox()) as toggl_url, serve(procore) as procore_url, pointed_at(app, toggl_url):
        saved = {key: app.config.get(key) for key in ("PROCORE_API_BASE_URL", "CONNECTOR_MAX_WAIT")}
        app.config.update(PROCORE_API_BASE_URL=procore_url, CONNECTOR_MAX_WAIT=1)
        try:
            with app.app_context():
                demo.seed_sandboxes(wait=5)
            with committed() as session:
                demo.load(session)
            run_jobs(raise_failures=False)
            with committed() as session:
                connection = session.scalar(select(Connection).where(Connection.kind == "toggl"))
                support = _one(session, select(Offering).where(Offering.name == "Support retainer"))
                provisioning.start_connect(session, "demo", support.id, connection.id, str(LEGACY_SUPPORT))
                connection_id = connection.id
            run_jobs(raise_failures=False)
            with committed() as session:
                time_runs.start(session, session.get(Connection, connection_id), "manual_org")
            run_jobs(raise_failures=False)
            with app.app_context():
                yield representative_ids(db.session)
        finally:
            app.config.update(saved)


def _one(session, statement):
    found = session.scalars(statement).first()
    assert found is not None, f"the demo holds no {statement}"
    return found


def representative_ids(session) -> dict[str, int | str]:
    project = _one(session, select(Project).where(Project.name == "Northwind data platform"))
    offering = _one(session, select(Offering).where(Offering.project_id == project.id,
                                                    Offering.name == "Platform build"))
    staff = _one(session, select(User).where(User.email == "staff@demo.test"))
    resource = _one(session, select(Resource).where(Resource.user_id == staff.id))
    submitted = _one(session, select(Timesheet).where(Timesheet.resource_id == resource.id,
                                                      Timesheet.status == "submitted"))
    draft_entry = _one(session, select(TimeEntry).join(Timesheet).where(Timesheet.resource_id == resource.id,
                                                                        Timesheet.status == "draft"))
    toggl = _one(session, select(Connection).where(Connection.kind == "toggl"))
    return {
        "project_id": project.id, "offering_id": offering.id, "user_id": staff.id, "resource_id": resource.id,
        "timesheet_id": submitted.id, "entry_id": draft_entry.id, "connection_id": toggl.id,
        "client_id": _one(session, select(Client).where(Client.name == "Northwind Traders")).id,
        "category_id": _one(session, select(CostCategory).order_by(CostCategory.id)).id,
        "period_id": _one(session, select(FiscalPeriod).where(FiscalPeriod.state == "open")).id,
        "stage_id": project.stage_id,
        "type_id": _one(session, select(Stage).where(Stage.id == project.stage_id)).engagement_type_id,
        "run_id": _one(session, select(SyncRun).order_by(SyncRun.id.desc())).id,
        "token": make_token(staff, timedelta(hours=1)),
        "row": f"{draft_entry.offering_id}-{draft_entry.task_id or 0}", "day": draft_entry.work_date.isoformat(),
    }


def page_list(app, ids: dict[str, int | str]) -> dict[str, str]:
    """endpoint -> the path of its page with the demo's objects, for every GET route that is a page."""
    pages = {}
    unresolved = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
                continue
            missing = [name for name in rule.arguments if name not in ids]
            if missing:
                unresolved.append(f"{rule.rule} ({', '.join(missing)})")
                continue
            names = [*rule.arguments, *QUERIES.get(rule.endpoint, ())]
            pages[rule.endpoint] = url_for(rule.endpoint, **{name: ids[name] for name in names})
    assert not unresolved, f"no representative object for: {unresolved} (add it to representative_ids)"
    return pages


def visits(pages: dict[str, str], nav: dict[str, list[str]]) -> list[Visit]:
    """Every page once as the person who sees it (the super-admin unless VIEWER says otherwise), plus each
    role's navigation (`nav`: role -> paths its menus link to) and its EXTRA pages."""
    by_path = {path: endpoint for endpoint, path in pages.items()}
    seen: set[tuple[str, str]] = set()
    out = []

    def add(role: str, path: str) -> None:
        if (role, path) not in seen:
            seen.add((role, path))
            out.append(Visit(role, path, by_path.get(path.split("?")[0], path)))

    for endpoint, path in pages.items():
        add(VIEWER.get(endpoint, "super_admin"), path)
    for role in ROLES:
        for path in nav.get(role, []):
            add(role, path)
        for endpoint in EXTRA.get(role, []):
            add(role, pages[endpoint])
    return out
