"""The organization's timesheet-tool connections as every tool has them, and the mapping of the tools'
clients to CRM clients. (How a connection is made is each tool's own: its package's connection module.)

Anything that talks to a tool runs as a sync run: the page starts it and watches its progress, the job
does the HTTP outside any locking transaction, and the run keeps the outcome (the sync log). Credentials
are stored encrypted, shown only masked, and never reach the audit log, a page or a log line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import audit
from portal.auth import policy
from portal.auth.models import User
from portal.errors import Conflict, InvalidInput, NotFound
from portal.integrations import connectors
from portal.integrations.connectors import ExternalClient
from portal.integrations.models import ClientLink, Connection, ConnectionStatus, LinkMethod
from portal.integrations.registry import connector_class, connector_for
from portal.projects import crm
from portal.projects.models import Client, Project
from portal.runs import services as runs
from portal.runs.models import SyncRun

SYSTEM_ACTOR = "timesheet sync"
CONNECTION_FIELDS = ["kind", "status", "account_id", "account_name", "external_user_id", "validated_at"]


def tool_label(connection: Connection) -> str:
    """The connection's tool as people call it ("Toggl Track", "Procore")."""
    return connector_class(connection.kind).display_name()


def get_connection(session: Session, kind: str) -> Connection | None:
    return session.scalar(select(Connection).where(Connection.kind == kind))


def connected(session: Session) -> list[Connection]:
    return list(session.scalars(select(Connection).where(Connection.status == ConnectionStatus.CONNECTED)
                                .order_by(Connection.kind)))


def resync_offers(session: Session) -> list[Connection]:
    """Connections whose linked projects keep values of settings changed since (seed 002 section 7)."""
    return [c for c in connected(session) if (c.settings or {}).get("resync_needed")]


def require_connected(session: Session, connection_id: int, capability: str | None = None) -> Connection:
    connection = session.get(Connection, connection_id)
    if connection is None:
        raise NotFound("That timesheet tool connection does not exist.")
    label = tool_label(connection)
    if not connection.is_connected:
        raise Conflict(f"{label} is not connected. An admin connects it in Admin → Integrations.")
    if capability and not connector_class(connection.kind).supports(capability):
        raise connectors.NotSupported(f"{label} does not support this.")
    return connection


def sync_actor(connection: Connection) -> str:
    """The audit log's name for changes a tool's sync makes on its own ("Toggl sync")."""
    return f"{tool_label(connection)} sync"


def time_scope(connection: Connection) -> str:
    """The scope of a connection's time sync runs (one active at a time)."""
    return f"{connection.kind}:time"


def project_time_scope(connection: Connection, project_id: int) -> str:
    """The scope of one project's time sync runs (the Integrations tab's Sync time)."""
    return f"{connection.kind}:time:project:{project_id}"


def run_actor(session: Session, run: SyncRun) -> User | str:
    """Whom a run acts for in the audit log: the person who started it, or the sync itself."""
    user = session.get(User, run.initiated_by_id) if run.initiated_by_id else None
    return user or SYSTEM_ACTOR


# Clients ----------------------------------------------------------------------------------

def client_link(session: Session, connection: Connection, client_id: int) -> ClientLink | None:
    return session.scalar(select(ClientLink).where(ClientLink.connection_id == connection.id,
                                                   ClientLink.client_id == client_id))


def unmapped_client_reason(session: Session, connection: Connection, client: Client) -> str:
    """Why a project of `client` cannot be provisioned yet, naming any duplicate that holds the mapping."""
    label = tool_label(connection)
    message = (f"The client {client.name} is not mapped to a {label} client. An admin maps it in Admin → "
               f"Integrations → {label} → Clients (provision it, or connect an existing {label} client).")
    for twin in crm.similar_clients(session, client):
        link = client_link(session, connection, twin.id)
        if link is not None:
            message += (f" {client.name} looks like a duplicate of {twin.name}, which is mapped to the {label} "
                        f"client {link.external_name}: one {label} client maps to one CRM client, so map the one "
                        f"this project should use (or move the project to {twin.name}).")
            break
    return message


def _client_checks(session: Session, actor: User, connection_id: int, client_id: int) -> tuple[Connection, Client]:
    policy.require(policy.can_map_timesheet_clients(actor), "You cannot map clients to timesheet tools.")
    connection = require_connected(session, connection_id, connectors.CLIENTS)
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound("That client does not exist.")
    return connection, client


def start_provision_client(session: Session, actor: User, connection_id: int, client_id: int) -> SyncRun:
    """Create the client in the tool (only its name is sent) and map it, in a run."""
    connection, client = _client_checks(session, actor, connection_id, client_id)
    if client_link(session, connection, client.id) is not None:
        raise Conflict(f"{client.name} is already mapped.")
    return _start_client_run(session, actor, connection, client, "provision_client", "portal.jobs.provision_client",
                             {"client_id": client.id})


def start_connect_client(session: Session, actor: User, connection_id: int, client_id: int, external_id: str,
                         replace: bool = False) -> SyncRun:
    """Map a client to one the tool already has (nothing changes in the tool), in a run.

    `replace` moves the tool's client from the duplicate that holds it to this client: the admin picked
    which of the duplicates it maps to.
    """
    connection, client = _client_checks(session, actor, connection_id, client_id)
    external_id = (external_id or "").strip()
    if not external_id.isdigit():
        raise InvalidInput("Choose a client from the list.", fields={"external_id": "Choose a client."})
    holder = session.scalar(select(ClientLink).where(ClientLink.connection_id == connection.id,
                                                     ClientLink.external_id == external_id))
    if holder is not None and holder.client_id != client.id:
        refusal = held_elsewhere(session, connection, holder, client, replace)
        if refusal:
            raise InvalidInput(refusal, fields={"external_id": refusal})
    return _start_client_run(session, actor, connection, client, "connect_client", "portal.jobs.connect_client",
                             {"client_id": client.id, "external_id": external_id, "replace": bool(replace)})


def held_elsewhere(session: Session, connection: Connection, holder: ClientLink, client: Client,
                   replace: bool) -> str:
    """Why `client` cannot take the tool's client that `holder` maps to another CRM client, or "" when the admin
    moves the mapping from a duplicate (same company name) of `client`. Only a duplicate is called one."""
    label = tool_label(connection)
    other = session.get(Client, holder.client_id)
    if other.normalized_name == client.normalized_name:
        if replace:
            return ""
        return (f"The {label} client {holder.external_name} is already mapped to {other.name}, which looks like "
                f"the same company; one {label} client maps to one CRM client. Tick “Move the mapping from the "
                f"duplicate to this client” to map it to {client.name} instead.")
    return (f"The {label} client {holder.external_name} is already mapped to {other.name}; one {label} client "
            f"maps to one CRM client. Choose another, or unlink it from {other.name} first.")


# Who may retry a tool's runs: who may start them (portal.runs.services.retry_right).
def may_manage_connections(session: Session, user: User, run: SyncRun) -> bool:
    """Connection-level work (validation, subscriptions, organization-wide syncs): admins."""
    return policy.can_manage_connections(user)


def may_link_timesheets_of(session: Session, user: User, run: SyncRun) -> bool:
    """A project's timesheet work (provision, connect, disconnect, push, its time sync): its PM team, MPE users
    and admins; admins only once the project is gone."""
    project = session.get(Project, run.project_id) if run.project_id is not None else None
    return policy.can_link_timesheets(user, project) if project is not None else policy.can_manage_connections(user)


ADMINS_RETRY = "Only admins can retry this run."
PROJECT_RETRY = "Only the project's PM team and admins can retry its timesheet work."
runs.retry_right(("provision_client", "connect_client"),
                 lambda session, user, run: policy.can_map_timesheet_clients(user),
                 "Only admins and who maintains clients can retry mapping a client.")


def client_scope(connection: Connection, client_id: int) -> str:
    return f"{connection.kind}:client:{client_id}"


def _start_client_run(session: Session, actor: User, connection: Connection, client: Client, kind: str, job: str,
                      params: dict) -> SyncRun:
    run, created = runs.start_run(session, kind=kind, scope=client_scope(connection, client.id), job=job,
                                  connection_id=connection.id, initiated_by_id=actor.id, params=params)
    if not created:
        raise Conflict(f"{client.name} is already being mapped; wait for that to finish.")
    return run


def run_provision_client(session: Session, run_id: int) -> SyncRun | None:
    return runs.execute(session, run_id, _provision_client)


def run_connect_client(session: Session, run_id: int) -> SyncRun | None:
    return runs.execute(session, run_id, _connect_client)


def _provision_client(session: Session, run: SyncRun) -> str:
    connection = require_connected(session, run.connection_id)
    client = session.get(Client, run.params["client_id"])
    label = tool_label(connection)
    if client_link(session, connection, client.id) is not None:
        return f"{client.name} was already mapped"
    connector = connector_for(connection)
    try:
        created = connector.create_client(client.name)
    finally:
        connector.close()
    _link_client(session, run, connection, client, created, LinkMethod.PROVISIONED)
    return f"Created the {label} client {created.name} and mapped {client.name} to it"


def _connect_client(session: Session, run: SyncRun) -> str:
    connection = require_connected(session, run.connection_id)
    client = session.get(Client, run.params["client_id"])
    label = tool_label(connection)
    connector = connector_for(connection)
    try:
        external = connector.get_client(run.params["external_id"])
    finally:
        connector.close()
    holder = session.scalar(select(ClientLink).where(ClientLink.connection_id == connection.id,
                                                     ClientLink.external_id == external.id))
    if holder is not None and holder.client_id != client.id:
        other = session.get(Client, holder.client_id)
        refusal = held_elsewhere(session, connection, holder, client, run.params.get("replace", False))
        if refusal:
            raise Conflict(refusal)
        session.delete(holder)
        audit.record(session, run_actor(session, run), "client.timesheet_unlinked", other,
                     before={"tool": connection.kind, "external_id": external.id},
                     summary=f"{other.name} unmapped from {label} client {external.name} (moved to {client.name})")
        session.flush()
    current = client_link(session, connection, client.id)
    if current is not None:
        if current.external_id == external.id:
            return f"{client.name} was already mapped to {external.name}"
        session.delete(current)
        session.flush()
    _link_client(session, run, connection, client, external, LinkMethod.CONNECTED if holder is None
                 else LinkMethod.MANUAL)
    return f"Mapped {client.name} to the {label} client {external.name} (nothing was changed in {label})"


def _link_client(session: Session, run: SyncRun, connection: Connection, client: Client, external: ExternalClient,
                 method: str) -> None:
    link = ClientLink(connection_id=connection.id, client_id=client.id, external_id=external.id,
                      external_name=external.name, method=method, created_by_id=run.initiated_by_id)
    try:
        with session.begin_nested():
            session.add(link)
    except IntegrityError:
        raise Conflict(f"{client.name} or that client was mapped meanwhile; reload and check the mapping.") from None
    label = tool_label(connection)
    audit.record(session, run_actor(session, run), "client.timesheet_linked", client,
                 after={"tool": connection.kind, "external_id": external.id, "external_name": external.name,
                        "method": method}, summary=f"{client.name} mapped to {label} client {external.name}")
    runs.note(session, run, "client", "", external_id=external.id, action=method)


def unlink_client(session: Session, actor: User, connection_id: int, client_id: int) -> Client:
    """Forget the mapping (nothing changes in the tool); projects already provisioned keep their client."""
    policy.require(policy.can_map_timesheet_clients(actor), "You cannot map clients to timesheet tools.")
    connection = session.get(Connection, connection_id)
    client = session.get(Client, client_id)
    link = client_link(session, connection, client_id) if connection and client else None
    if link is None:
        raise Conflict("That client is not mapped.")
    label = tool_label(connection)
    audit.record(session, actor, "client.timesheet_unlinked", client,
                 before={"tool": connection.kind, "external_id": link.external_id,
                         "external_name": link.external_name},
                 summary=f"{client.name} unmapped from {label} client {link.external_name}")
    session.delete(link)
    session.flush()
    return client


@dataclass
class ToolClientRow:
    """One of the tool's clients on the mapping page: who it maps to, or who it could map to."""

    client: ExternalClient
    mapped_to: Client | None = None
    candidates: list[Client] = field(default_factory=list)


def tool_client_rows(session: Session, connection: Connection,
                     tool_clients: list[ExternalClient]) -> list[ToolClientRow]:
    """The tool's clients with their mapping, and for unmapped ones the CRM clients of the same name.

    Several candidates mean duplicate CRM clients: the page explains that one maps, and lets the admin pick.
    """
    links = {link.external_id: link for link in session.scalars(select(ClientLink).where(
        ClientLink.connection_id == connection.id, ClientLink.external_id.in_([c.id for c in tool_clients])))}
    mapped = {client.id: client for client in session.scalars(select(Client).where(
        Client.id.in_([link.client_id for link in links.values()])))} if links else {}
    names = {crm.normalize_client_name(c.name) for c in tool_clients}
    by_name: dict[str, list[Client]] = {}
    for client in session.scalars(select(Client).where(Client.normalized_name.in_(names))
                                  .order_by(Client.name, Client.id)) if names else ():
        by_name.setdefault(client.normalized_name, []).append(client)
    rows = []
    for tool_client in tool_clients:
        link = links.get(tool_client.id)
        mapped_to = mapped.get(link.client_id) if link else None
        candidates = by_name.get(crm.normalize_client_name(tool_client.name), [])
        rows.append(ToolClientRow(tool_client, mapped_to,
                                  [c for c in candidates if mapped_to is None or c.id != mapped_to.id]))
    return rows


def connected_supporting(session: Session, capability: str) -> Iterator[Connection]:
    """The connected connections whose tool declares `capability` (the cron's fan-outs); a tool whose module
    is not installed here is skipped."""
    for connection in session.scalars(select(Connection).order_by(Connection.id)):
        try:
            tool = connector_class(connection.kind)
        except (connectors.NotSupported, ImportError):
            continue
        if connection.is_connected and tool.supports(capability):
            yield connection
