"""The tabs of a project page: every tab view renders through `render_tab`, whichever blueprint owns it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import htmx
from portal.audit import AuditEvent
from portal.finance.services import list_cost_categories
from portal.projects.entry_settings import allowed_category_ids
from portal.projects.models import Project

# (key, label, endpoint taking project_id)
TABS = [
    ("overview", "Overview", "projects.overview_tab"),
    ("offerings", "Offerings", "projects.offerings_tab"),
    ("team", "Team", "projects.team_tab"),
    ("plan", "Plan", "planning.plan_tab"),
    ("entries", "Time & costs", "expenses.entries_tab"),
    ("workspace", "Workspace", "workspaces.workspace_tab"),
    ("integrations", "Integrations", "projects.integrations_tab"),
    ("finance", "Finance", "projects.finance_tab"),
]


def render_tab(template: str, project: Project, tab: str, block: str = "tab_content", status: int = 200, **context):
    return htmx.render(template, block=block, status=status, project=project, tab=tab, tabs=TABS, **context)


def overview_context(session: Session, project: Project) -> dict:
    """What the Overview tab shows besides the project: its entry options and CRM changes not applied."""
    skipped = session.scalars(select(AuditEvent).where(
        AuditEvent.subject_type == "projects", AuditEvent.subject_id == project.id,
        AuditEvent.action == "project.crm_update_skipped").order_by(AuditEvent.id.desc()).limit(5)).all()
    return {"cost_categories": [c for c in list_cost_categories(session) if c.active],
            "allowed_categories": allowed_category_ids(session, project.id), "crm_skipped": skipped}
