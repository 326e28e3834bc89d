"""Organization Admin → Integrations: the tools, the org-wide re-push after a settings change, and the
mapping of the tools' clients to CRM clients. (Each tool's own settings page is in its package.)"""

from __future__ import annotations

from flask import Blueprint, abort, request, url_for
from flask_login import current_user

from portal import htmx
from portal.auth import policy
from portal.auth.access import allow
from portal.extensions import db
from portal.forms import submit
from portal.integrations import connectors, panel, pushing, services
from portal.integrations.forms import ConnectClientForm
from portal.integrations.models import Connection
from portal.integrations.registry import available_kinds, connector_class
from portal.projects.models import Client
from portal.runs import services as runs

bp = Blueprint("integration_settings", __name__, url_prefix="/settings/integrations")


MAPPERS = "You cannot map clients to timesheet tools."


@bp.route("")
@allow(policy.can_manage_connections, "Only admins can manage timesheet-tool connections.")
def index():
    tools = [(tool, services.get_connection(db.session, tool.kind)) for tool in available_kinds()]
    return htmx.render("integrations/index.html", tools=tools)


@bp.route("/connections/<int:connection_id>/resync", methods=["GET", "POST"])
@allow(policy.can_manage_connections, "Only admins can manage timesheet-tool connections.")
def resync(connection_id: int):
    """Re-push every linked project under the current settings (offered after a change): the fragment of the
    tool's settings page (admins), the re-push itself (super-admins, checked by the service)."""
    connection = db.get_or_404(Connection, connection_id)
    if request.method == "POST":
        pushing.start_push_all(db.session, current_user, connection.id)
        db.session.commit()
    if not htmx.is_fragment_request():
        return htmx.redirect_to(url_for(connector_class(connection.kind).settings_endpoint))
    resync_run = pushing.latest_push_all(db.session, connection)
    return htmx.render("integrations/_resync.html", block="resync", connection=connection, resync_run=resync_run,
                       resync_notes=runs.notes(db.session, resync_run))


# Clients ----------------------------------------------------------------------------------------

def _clients_connection(connection_id: int) -> Connection:
    connection = db.get_or_404(Connection, connection_id)
    if not connector_class(connection.kind).supports(connectors.CLIENTS):
        abort(404)
    return connection


@bp.route("/connections/<int:connection_id>/clients")
@allow(policy.can_map_timesheet_clients, MAPPERS)
def clients(connection_id: int):
    """A page of CRM clients with their mappings, and the tool's clients with their candidates (duplicates
    explained); `after` (with HX-Request): the next page of CRM clients ("Load more")."""
    connection = _clients_connection(connection_id)
    after = request.args.get("after")
    if after and htmx.is_fragment_request():  # Load more
        rows, cursor = panel.client_rows(db.session, connection, after)
        return htmx.render("integrations/clients.html", block="client_rows", connection=connection, rows=rows,
                           next_cursor=cursor)
    tool_clients, load_error = panel.tool_clients(connection) if connection.is_connected else ([], "")
    # Any other htmx request is the tool's table refreshing itself after a mapping changed.
    rows, cursor = ([], None) if htmx.is_fragment_request() else panel.client_rows(db.session, connection, after)
    return htmx.render("integrations/clients.html", block="tool_clients", connection=connection,
                       tool=connector_class(connection.kind), rows=rows, next_cursor=cursor, load_error=load_error,
                       tool_rows=services.tool_client_rows(db.session, connection, tool_clients))


def _client_row(connection: Connection, client: Client, status: int = 200, changed: bool = False, **context):
    """The client's row; `changed` (or the last poll of a run that has finished) tells the page's other
    regions that a mapping changed, so the tool's clients table stops offering what was just mapped."""
    if not htmx.is_fragment_request():
        return htmx.redirect_to(url_for(".clients", connection_id=connection.id))
    row = panel.client_row(db.session, connection, client)
    response = htmx.render("integrations/clients.html", block="client_row", status=status, connection=connection,
                           row=row, **context)
    if changed or (request.args.get("polling") and not row.busy):
        htmx.trigger(response, "client-mapping-changed")
    return response


@bp.route("/connections/<int:connection_id>/clients/<int:client_id>")
@allow(policy.can_map_timesheet_clients, MAPPERS)
def client_row(connection_id: int, client_id: int):
    connection = _clients_connection(connection_id)
    return _client_row(connection, db.get_or_404(Client, client_id))


@bp.route("/connections/<int:connection_id>/clients/<int:client_id>/provision", methods=["POST"])
@allow(policy.can_map_timesheet_clients, MAPPERS)
def provision_client(connection_id: int, client_id: int):
    connection = _clients_connection(connection_id)
    client = db.get_or_404(Client, client_id)
    services.start_provision_client(db.session, current_user, connection.id, client.id)
    db.session.commit()
    return _client_row(connection, client)


@bp.route("/connections/<int:connection_id>/clients/<int:client_id>/connect", methods=["GET", "POST"])
@allow(policy.can_map_timesheet_clients, MAPPERS)
def connect_client(connection_id: int, client_id: int):
    """Connect to an existing client of the tool (chosen from its list); nothing changes in the tool."""
    connection = _clients_connection(connection_id)
    client = db.get_or_404(Client, client_id)
    form = ConnectClientForm()
    if form.is_submitted():
        started = submit(form, lambda: services.start_connect_client(db.session, current_user, connection.id,
                                                                     client.id, form.external_id.data,
                                                                     replace=form.replace.data))
        if started is not None:
            return _client_row(connection, client)
    tool_clients, load_error = panel.tool_clients(connection)
    form.external_id.choices = [("", "Choose a client…")] + [(c.id, c.name) for c in tool_clients]
    return _client_row(connection, client, status=form.status, connect_form=form, load_error=load_error)


@bp.route("/connections/<int:connection_id>/clients/<int:client_id>/unlink", methods=["POST"])
@allow(policy.can_map_timesheet_clients, MAPPERS)
def unlink_client(connection_id: int, client_id: int):
    connection = _clients_connection(connection_id)
    client = db.get_or_404(Client, client_id)
    services.unlink_client(db.session, current_user, connection.id, client.id)
    db.session.commit()
    return _client_row(connection, client, changed=True)


@bp.route("/connections/<int:connection_id>/clients/<int:client_id>/retry", methods=["POST"])
@allow(policy.can_map_timesheet_clients, MAPPERS)
def retry_client(connection_id: int, client_id: int):
    connection = _clients_connection(connection_id)
    client = db.get_or_404(Client, client_id)
    runs.retry_failed(db.session, services.client_scope(connection, client.id), current_user)
    db.session.commit()
    return _client_row(connection, client)
