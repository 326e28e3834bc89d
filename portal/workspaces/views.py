"""Client workspaces: the client's pages, and the project's Workspace tab where PMs configure them."""

from __future__ import annotations

from flask import Blueprint, flash
from flask_login import current_user

from portal import htmx
from portal.auth import policy
from portal.auth.access import allow
from portal.columns import today
from portal.extensions import db
from portal.forms import submit
from portal.org.services import get_settings
from portal.projects.models import Project
from portal.projects.tabs import render_tab
from portal.workspaces import services
from portal.workspaces.forms import ClientAccessForm, ClientUserForm, SectionsForm

bp = Blueprint("workspaces", __name__)


@bp.route("/workspace")
@allow(policy.is_authenticated)
def index():
    """A client user's home: the workspaces of their client's projects that are open to them."""
    return htmx.render("workspaces/index.html", projects=services.workspaces_of(db.session, current_user))


@bp.route("/workspace/<int:project_id>")
@allow(policy.is_authenticated)
def workspace(project_id: int):
    project = db.get_or_404(Project, project_id)
    shown = services.open_workspace(current_user, project)
    data = services.section_data(db.session, project, shown, today(), get_settings(db.session).week_start)
    return htmx.render("workspaces/workspace.html", project=project, shown=shown, data=data,
                       client_view=services.client_sections(project))


# The project's Workspace tab (internal users) ---------------------------------------------------------

def _tab(project: Project, block: str = "tab_content", status: int = 200, **context):
    context.setdefault("sections_form", SectionsForm(formdata=None, sections=services.sections(project)))
    context.setdefault("access_form", ClientAccessForm(formdata=None,
                                                       client_sections=services.client_sections(project)))
    context.setdefault("user_form", ClientUserForm(formdata=None))
    return render_tab("workspaces/settings.html", project, "workspace", block=block, status=status,
                      refusal=policy.workspace_refusal(current_user, project),
                      client_users=services.client_users(db.session, project.client_id), **context)


def _project(project_id: int) -> Project:
    return db.get_or_404(Project, project_id)


@bp.route("/projects/<int:project_id>/workspace-settings")
@allow(policy.is_internal)
def workspace_tab(project_id: int):
    return _tab(_project(project_id))


@bp.route("/projects/<int:project_id>/workspace-settings/sections", methods=["POST"])
@allow(policy.is_internal)
def save_sections(project_id: int):
    project = _project(project_id)
    form = SectionsForm()
    if submit(form, lambda: services.configure_workspace(db.session, current_user, project.id,
                                                         form.sections.data or [])):
        flash("Workspace sections saved.", "success")
    return _tab(project, block="workspace_config", status=form.status, sections_form=form)


@bp.route("/projects/<int:project_id>/workspace-settings/client-access", methods=["POST"])
@allow(policy.is_internal)
def save_client_access(project_id: int):
    project = _project(project_id)
    form = ClientAccessForm()
    if submit(form, lambda: services.configure_client_access(db.session, current_user, project.id,
                                                             form.client_sections.data or [])):
        flash("What client users see is saved.", "success")
    return _tab(project, block="workspace_config", status=form.status, access_form=form)


@bp.route("/projects/<int:project_id>/workspace-settings/client-users", methods=["POST"])
@allow(policy.is_internal)
def create_client_user(project_id: int):
    project = _project(project_id)
    form = ClientUserForm()
    created = submit(form, lambda: services.create_client_user(db.session, current_user, project.id,
                                                               email=form.email.data, name=form.name.data,
                                                               password=form.password.data or None))
    if created is not None:
        first = "Give them their first password yourself." if form.password.data else \
            "They have an email with a link to set their password."
        flash(f"Created a login for {created.email}. {first}", "success")
        return _tab(project, block="client_users")
    return _tab(project, block="client_users", status=form.status, user_form=form)
