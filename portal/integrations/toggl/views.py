"""Admin → Integrations → Toggl Track (the API token and workspace, Validate connection, Disconnect, the
re-push offer and the runs) and a project's "Sync time from Toggl" on its Integrations tab."""

from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user

from portal import htmx
from portal.auth import policy
from portal.auth.access import allow
from portal.extensions import db
from portal.forms import submit
from portal.integrations import panel, pushing, services
from portal.integrations.models import Connection
from portal.integrations.toggl import connection as toggl_connection
from portal.integrations.toggl import time_runs
from portal.integrations.toggl.connector import TogglConnector
from portal.integrations.toggl.credentials import quota_seen
from portal.integrations.toggl.forms import TogglConnectionForm
from portal.projects.models import Project
from portal.runs import services as runs

bp = Blueprint("toggl", __name__)
SETTINGS = "/settings/integrations/toggl"


ADMINS = "Only admins can manage timesheet-tool connections."


def _page(form: TogglConnectionForm | None = None, block: str = "connection", status: int = 200):
    connection = services.get_connection(db.session, TogglConnector.kind)
    form = form or TogglConnectionForm(formdata=None, workspace_id=connection.account_id if connection else "")
    validation = runs.latest(db.session, toggl_connection.VALIDATION_SCOPE)
    resync_run = pushing.latest_push_all(db.session, connection)
    return htmx.render("integrations/toggl/settings.html", block=block, status=status, form=form,
                       connection=connection, validation=validation,
                       validation_notes=runs.notes(db.session, validation),
                       masked=toggl_connection.masked_token(connection), tool=TogglConnector,
                       log=panel.sync_log(db.session, connection) if connection else [],
                       resync_run=resync_run, resync_notes=runs.notes(db.session, resync_run),
                       quota=quota_seen(connection))


@bp.route(SETTINGS, methods=["GET", "POST"])
@allow(policy.can_manage_connections, ADMINS)
def settings():
    """The connection form: saving stores the token encrypted and starts Validate connection."""
    form = TogglConnectionForm()
    if form.is_submitted():
        saved = submit(form, lambda: toggl_connection.save_connection(
            db.session, current_user, api_token=form.api_token.data, workspace_id=form.workspace_id.data))
        if saved is not None:
            return _page()
        return _page(form, status=form.status)
    return _page()


@bp.route(f"{SETTINGS}/status")
@allow(policy.can_manage_connections, ADMINS)
def status():
    """The connection's state and its validation run (polled while validating)."""
    return _page(block="connection_status")


@bp.route(f"{SETTINGS}/disconnect", methods=["POST"])
@allow(policy.can_manage_connections, ADMINS)
def disconnect():
    toggl_connection.disconnect(db.session, current_user)
    db.session.commit()
    return _page()


@bp.route("/projects/<int:project_id>/timesheets/<int:connection_id>/sync", methods=["GET", "POST"])
@allow(policy.is_internal, "Client users cannot sync time.")
def sync_project_time(project_id: int, connection_id: int):
    """Start (POST) or watch (GET) the project's time sync: its linked offerings, recent days."""
    project = db.get_or_404(Project, project_id)
    connection = db.get_or_404(Connection, connection_id)
    if request.method == "POST":
        time_runs.start_project_sync(db.session, current_user, project.id, connection.id)
        db.session.commit()
    if not htmx.is_fragment_request():
        return htmx.redirect_to(url_for("projects.integrations_tab", project_id=project.id))
    return htmx.render("projects/integrations.html", block="project_time_sync", project=project,
                       panel=panel.tool_panel(db.session, connection, project))
