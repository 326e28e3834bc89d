"""The Toggl Track connection: the API token (stored encrypted, shown only masked) and the workspace,
validated by a sync run before anything is sent; on success the portal subscribes to Toggl's time-entry
events. Disconnecting forgets the token; links stay, so reconnecting the same workspace resumes.

A new token or workspace entered while credentials are stored is checked before it replaces them: it waits
beside them (encrypted, as `pending`) while the validation run tries it, and is saved only when Toggl accepts
it. A mistyped token therefore never breaks a working connection: the run fails saying so, and the stored
token keeps working.
"""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import audit
from portal.auth import policy
from portal.auth.models import User
from portal.columns import mask_secret, utcnow
from portal.errors import Conflict, InvalidInput, PortalError
from portal.formatting import plural
from portal.integrations.models import Connection, ConnectionStatus, ProjectLink
from portal.integrations.registry import connector_for
from portal.integrations.services import ADMINS_RETRY, get_connection, may_manage_connections, run_actor
from portal.integrations.toggl import webhooks
from portal.integrations.toggl.connector import TogglConnector
from portal.integrations.toggl.credentials import token_accepted
from portal.runs import services as runs
from portal.runs.models import SyncRun

KIND = TogglConnector.kind
VALIDATION_SCOPE = f"{KIND}:connection"
VALIDATE_JOB = "portal.integrations.toggl.jobs.validate_connection"
CONNECTION_FIELDS = ["kind", "status", "account_id", "account_name", "external_user_id", "validated_at"]
LABEL = TogglConnector.display_name()
runs.retry_right(("validate",), may_manage_connections, ADMINS_RETRY)


def masked_token(connection: Connection | None) -> str:
    if connection is None or not connection.credentials:
        return ""
    try:
        return mask_secret(json.loads(connection.credentials).get("api_token"))
    except ValueError:
        return ""


def save_connection(session: Session, actor: User, *, api_token: str | None,
                    workspace_id: str) -> tuple[Connection, SyncRun]:
    """Store the API token (encrypted; empty keeps the stored one) and the workspace, and validate them.

    Validation runs as a job; until it succeeds the connection is not connected, so nothing is pushed
    with credentials nobody has checked.
    """
    policy.require(policy.can_manage_connections(actor), "Only admins can connect timesheet tools.")
    workspace_id = (workspace_id or "").strip()
    if not workspace_id.isdigit():
        raise InvalidInput(f"Enter the {LABEL} workspace id: the number after track.toggl.com/ in your URL.",
                           fields={"workspace_id": "A number, from your Toggl URL."})
    connection = get_connection(session, KIND)
    token = (api_token or "").strip()
    if connection is None:
        connection = Connection(kind=KIND, status=ConnectionStatus.DISCONNECTED, settings={},
                                created_by_id=actor.id)
        session.add(connection)
    if not token and not connection.credentials:
        raise InvalidInput(f"Enter the {LABEL} API token.", fields={"api_token": "Enter the API token."})
    if connection.account_id and connection.account_id != workspace_id:
        linked = session.scalar(select(func.count()).select_from(ProjectLink)
                                .where(ProjectLink.connection_id == connection.id))
        if linked:
            are = "is" if linked == 1 else "are"
            raise Conflict(f"{plural(linked, 'offering')} {are} linked to projects of workspace "
                           f"{connection.account_id}. Disconnect them before connecting another workspace.",
                           fields={"workspace_id": "Offerings are linked to the current workspace."})
    before = audit.snapshot(connection, CONNECTION_FIELDS) if connection.id else None
    stored = _credentials(connection)
    if stored.get("api_token") and (token and token != stored["api_token"] or workspace_id != connection.account_id):
        # Checked first, saved only when valid: the stored token keeps working meanwhile.
        stored["pending"] = {"api_token": token or stored["api_token"], "workspace_id": workspace_id}
        connection.credentials = json.dumps(stored)
        summary = f"{LABEL} connection: checking the new {'token' if token else 'workspace'} before saving it"
    else:
        if token:
            connection.credentials = json.dumps({"api_token": token})
        connection.account_id = workspace_id
        connection.status = ConnectionStatus.ERROR
        connection.last_error = "Validating the connection…"
        summary = f"{LABEL} connection saved (workspace {workspace_id}); validating"
    session.flush()
    audit.record(session, actor, "connection.saved", connection, before=before,
                 after={**audit.snapshot(connection, CONNECTION_FIELDS),
                        "credentials": "checking a new one" if token and stored.get("api_token")
                        else "replaced" if token else "kept"},
                 summary=summary)
    run, _ = runs.start_run(session, kind="validate", scope=VALIDATION_SCOPE, job=VALIDATE_JOB,
                            connection_id=connection.id, initiated_by_id=actor.id)
    return connection, run


def run_validate(session: Session, run_id: int) -> SyncRun | None:
    return runs.execute(session, run_id, _validate)


def _credentials(connection: Connection) -> dict:
    try:
        return json.loads(connection.credentials or "{}")
    except ValueError:
        return {}


def _validate(session: Session, run: SyncRun) -> str:
    connection = session.get(Connection, run.connection_id)
    actor = run_actor(session, run)
    stored = _credentials(connection)
    pending = stored.pop("pending", None)
    # A candidate is tried on a copy of the connection that is never saved.
    tried = Connection(kind=connection.kind, credentials=json.dumps({"api_token": pending["api_token"]}),
                       account_id=pending["workspace_id"], settings=dict(connection.settings or {})) \
        if pending else connection
    connector = connector_for(tried)
    try:
        info = connector.validate()
    except PortalError as error:
        if pending:  # the working token stays; the candidate is dropped
            connection.credentials = json.dumps(stored)
            what = "token" if pending["api_token"] != stored.get("api_token") else "workspace"
            error.message = f"{error.message} The new {what} was not saved: the connection keeps its stored token."
        else:
            connection.status = ConnectionStatus.ERROR
            connection.last_error = error.message
            if error.details.get("token_refused"):
                connection.settings = {**(connection.settings or {}), "needs_token": True}
        audit.record(session, actor, "connection.validation_failed", connection, after={"reason": error.message},
                     summary=f"{LABEL} connection could not be validated")
        session.commit()
        raise
    finally:
        connector.close()
    before = audit.snapshot(connection, CONNECTION_FIELDS)
    if pending:
        connection.credentials = json.dumps({**stored, "api_token": pending["api_token"]})
        connection.account_id = pending["workspace_id"]
    token_accepted(connection)
    quota = connector.quota()
    if quota is not None:
        connection.settings = {**connection.settings, "quota": quota.stored()}
    connection.status = ConnectionStatus.CONNECTED
    connection.account_name = info.account_name
    connection.external_user_id = info.external_user_id
    connection.settings = {**(connection.settings or {}), **info.settings, "user_email": info.user_email}
    connection.validated_at = utcnow()
    connection.last_error = ""
    old, new = audit.changes(before, audit.snapshot(connection, CONNECTION_FIELDS))
    audit.record(session, actor, "connection.validated", connection, before=old, after=new,
                 summary=f"Connected to {LABEL} workspace {info.account_name} as {info.user_email}")
    webhooks.start_subscribe(session, connection, run.initiated_by_id)  # the time sync hears of changes at once
    return f"Successfully connected to {LABEL}"


def disconnect(session: Session, actor: User) -> Connection:
    """Forget the credentials and stop all traffic. Links stay, so reconnecting the same workspace resumes."""
    policy.require(policy.can_manage_connections(actor), "Only admins can disconnect timesheet tools.")
    connection = get_connection(session, KIND)
    if connection is None or (connection.status == ConnectionStatus.DISCONNECTED and not connection.credentials):
        raise Conflict(f"{LABEL} is not connected.")
    before = audit.snapshot(connection, CONNECTION_FIELDS)
    connection.credentials = None
    connection.status = ConnectionStatus.DISCONNECTED
    connection.validated_at = None
    connection.last_error = ""
    session.flush()
    audit.record(session, actor, "connection.disconnected", connection, before=before,
                 after={**audit.snapshot(connection, CONNECTION_FIELDS), "credentials": "removed"},
                 summary=f"{LABEL} disconnected")
    return connection


