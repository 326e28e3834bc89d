"""The offering actions of a project's Integrations tab: Provision New, Connect Existing, Disconnect, Retry.

Each action starts a sync run and answers with the offering's row, which polls itself while the run is
active; once the run ends the row comes back with the link, the status dot and the outcome.
"""

from __future__ import annotations

from flask import Blueprint, url_for
from flask_login import current_user

from portal import htmx
from portal.auth import policy
from portal.auth.access import allow
from portal.extensions import db
from portal.forms import submit
from portal.integrations import panel, provisioning
from portal.integrations.forms import ConnectProjectForm
from portal.integrations.models import Connection
from portal.integrations.registry import connector_class
from portal.projects.models import Offering
from portal.runs import services as runs

bp = Blueprint("integrations", __name__)


# The Integrations tab's offering actions ---------------------------------------------------------

def _load(offering_id: int, connection_id: int) -> tuple[Offering, Connection]:
    return db.get_or_404(Offering, offering_id), db.get_or_404(Connection, connection_id)


def _row(offering: Offering, connection: Connection, status: int = 200, **context):
    """The offering's row of its tool's panel; a plain (non-htmx) request goes back to the tab."""
    if not htmx.is_fragment_request():
        return htmx.redirect_to(url_for("projects.integrations_tab", project_id=offering.project_id))
    row = panel.offering_row(db.session, connection, offering)
    tool = panel.ToolPanel(connection, connector_class(connection.kind), [row])
    return htmx.render("projects/integrations.html", block="offering_row", status=status, row=row, panel=tool,
                       project=offering.project, **context)


@bp.route("/offerings/<int:offering_id>/timesheets/<int:connection_id>")
@allow(policy.is_internal, "Client users cannot see timesheet links.")
def offering_timesheet(offering_id: int, connection_id: int):
    offering, connection = _load(offering_id, connection_id)
    return _row(offering, connection)


@bp.route("/offerings/<int:offering_id>/timesheets/<int:connection_id>/provision", methods=["POST"])
@allow(policy.is_internal, "Client users cannot see timesheet links.")
def provision_offering(offering_id: int, connection_id: int):
    offering, connection = _load(offering_id, connection_id)
    provisioning.start_provision(db.session, current_user, offering.id, connection.id)
    db.session.commit()
    return _row(offering, connection)


@bp.route("/offerings/<int:offering_id>/timesheets/<int:connection_id>/connect", methods=["GET", "POST"])
@allow(policy.is_internal, "Client users cannot see timesheet links.")
def connect_offering(offering_id: int, connection_id: int):
    """Connect Existing: choose from the workspace's projects, or type the id, or paste the URL."""
    offering, connection = _load(offering_id, connection_id)
    policy.require(policy.can_link_timesheets(current_user, offering.project),
                   "Only the project's PM team and admins can change its timesheet links.")
    form = ConnectProjectForm()
    if form.is_submitted():
        started = submit(form, lambda: provisioning.start_connect(db.session, current_user, offering.id,
                                                                  connection.id, form.choice))
        if started is not None:
            return _row(offering, connection)
    projects, load_error = panel.workspace_projects(db.session, connection)
    form.project_id.choices = [("", "Choose a project…")] + [(p.id, p.name) for p in projects]
    return _row(offering, connection, status=form.status, connect_form=form, load_error=load_error)


@bp.route("/offerings/<int:offering_id>/timesheets/<int:connection_id>/disconnect", methods=["POST"])
@allow(policy.is_internal, "Client users cannot see timesheet links.")
def disconnect_offering(offering_id: int, connection_id: int):
    offering, connection = _load(offering_id, connection_id)
    provisioning.start_disconnect(db.session, current_user, offering.id, connection.id)
    db.session.commit()
    return _row(offering, connection)


@bp.route("/offerings/<int:offering_id>/timesheets/<int:connection_id>/retry", methods=["POST"])
@allow(policy.is_internal, "Client users cannot see timesheet links.")
def retry_offering(offering_id: int, connection_id: int):
    offering, connection = _load(offering_id, connection_id)
    policy.require(policy.can_link_timesheets(current_user, offering.project),
                   "Only the project's PM team and admins can retry its timesheet work.")
    runs.retry_failed(db.session, provisioning.offering_scope(connection, offering.id), current_user)
    db.session.commit()
    return _row(offering, connection)
