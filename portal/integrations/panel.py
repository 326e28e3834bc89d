"""What the pages show about timesheet tools: the Integrations tab of a project (one panel per connected
tool, one row per offering), the client mapping rows, and the sync log. Read-only: no rule lives here.

Lists of the tool's own projects and clients are read while a person waits, so they use the connector's
short interactive wait; a failure becomes a message on the page, never an error page.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import paging
from portal.errors import PortalError
from portal.integrations import connectors, provisioning, rules
from portal.integrations.connectors import ExternalClient, ExternalProject, TimesheetConnector
from portal.integrations.models import ClientLink, Connection, PersonLink, ProjectLink, WaitingTimeEntry
from portal.integrations.provisioning import project_link
from portal.integrations.receivers import push_targets, why_update_is_not_pushed
from portal.integrations.registry import connector_class, connector_for
from portal.integrations.services import client_link, client_scope, connected, project_time_scope, tool_label
from portal.org.services import get_settings
from portal.projects import crm
from portal.projects.models import Client, Offering, Project
from portal.runs import services as runs
from portal.runs.models import SyncMessage, SyncRun

CLIENTS_PAGE = 50
NOTES_SHOWN = 20  # a run's notes under its progress bar (as runs.notes)


@dataclass
class OfferingRow:
    offering: Offering
    link: ProjectLink | None
    dot: str  # green | orange
    why: str  # the dot's tooltip
    run: SyncRun | None  # the latest run on this offering for this tool
    notes: list[SyncMessage] = field(default_factory=list)  # what that run said, once it ended

    @property
    def busy(self) -> bool:
        return self.run is not None and self.run.is_active


@dataclass
class ToolPanel:
    connection: Connection
    tool: type[TimesheetConnector]
    rows: list[OfferingRow]
    time_run: SyncRun | None = None  # the project's latest "Sync time" run
    time_notes: list[SyncMessage] = field(default_factory=list)
    # The project's time waiting for people the tool has and no resource matches, as it is now: (the tool's
    # name or email of the person, entries). The run's own count of them is history once someone is matched.
    waiting: list[tuple[str, int]] = field(default_factory=list)

    @property
    def time_counts(self) -> dict[str, int]:
        """The time run's counts without its "unmatched" (the card shows who waits now instead)."""
        return {k: v for k, v in ((self.time_run.counts if self.time_run else None) or {}).items() if k != "unmatched"}

    @property
    def time_run_notes(self) -> list[SyncMessage]:
        return [note for note in self.time_notes if note.action != "wait"]

    @property
    def label(self) -> str:
        return self.tool.display_name()

    def supports(self, capability: str) -> bool:
        return self.tool.supports(capability) and self.connection.is_connected


def _latest_runs(session: Session, connection: Connection, offering_ids: list[int]) -> dict[int, SyncRun]:
    """The latest offering-level run (provisioning, pushes) per offering."""
    latest: dict[int, SyncRun] = {}
    for run in session.scalars(select(SyncRun).where(SyncRun.connection_id == connection.id,
                                                     SyncRun.offering_id.in_(offering_ids))
                               .order_by(SyncRun.id.desc())):
        latest.setdefault(run.offering_id, run)
    return latest


def offering_row(session: Session, connection: Connection, offering: Offering) -> OfferingRow:
    run = _latest_runs(session, connection, [offering.id]).get(offering.id)
    dot, why = rules.status_dot(offering)
    return OfferingRow(offering, project_link(session, connection.id, offering.id), dot, why, run,
                       runs.notes(session, run))


def tool_panel(session: Session, connection: Connection, project: Project) -> ToolPanel:
    ids = [o.id for o in project.offerings]
    links = {link.offering_id: link for link in session.scalars(
        select(ProjectLink).where(ProjectLink.connection_id == connection.id, ProjectLink.offering_id.in_(ids)))}
    latest = _latest_runs(session, connection, ids)
    rows = [OfferingRow(o, links.get(o.id), *rules.status_dot(o), latest.get(o.id),
                        runs.notes(session, latest.get(o.id))) for o in project.offerings]
    time_run = runs.latest(session, project_time_scope(connection, project.id))
    return ToolPanel(connection, connector_class(connection.kind), rows, time_run, runs.notes(session, time_run),
                     waiting_time(session, connection, ids))


def waiting_time(session: Session, connection: Connection, offering_ids: list[int]) -> list[tuple[str, int]]:
    """Who of the tool's people has time waiting on these offerings for a match to a resource, and how much."""
    rows = session.execute(
        select(PersonLink.external_name, PersonLink.external_email, PersonLink.external_id,
               func.count(WaitingTimeEntry.id))
        .join(WaitingTimeEntry, WaitingTimeEntry.person_link_id == PersonLink.id)
        .join(ProjectLink, ProjectLink.id == WaitingTimeEntry.project_link_id)
        .where(WaitingTimeEntry.connection_id == connection.id, ProjectLink.offering_id.in_(offering_ids),
               PersonLink.resource_id.is_(None))
        .group_by(PersonLink.id, PersonLink.external_name, PersonLink.external_email, PersonLink.external_id)
        .order_by(func.count(WaitingTimeEntry.id).desc(), PersonLink.id))
    return [(name or email or f"user {external_id}", count) for name, email, external_id, count in rows]


def project_panels(session: Session, project: Project) -> list[ToolPanel]:
    """A panel per connected tool, and per disconnected tool that still holds links of this project."""
    ids = [o.id for o in project.offerings]
    linked = set(session.scalars(select(ProjectLink.connection_id).where(ProjectLink.offering_id.in_(ids))))
    connections = {c.id: c for c in connected(session)}
    for connection_id in linked - set(connections):
        connections[connection_id] = session.get(Connection, connection_id)
    return [tool_panel(session, c, project) for c in sorted(connections.values(), key=lambda c: c.kind)]


def workspace_projects(session: Session, connection: Connection) -> tuple[list[ExternalProject], str]:
    """The tool's active projects that are not linked yet, for Connect Existing; or why they could not be read."""
    connector = connector_for(connection, interactive=True)
    try:
        projects = connector.list_projects()
    except PortalError as error:
        return [], error.message
    finally:
        connector.close()
    linked = set(session.scalars(select(ProjectLink.external_id).where(ProjectLink.connection_id == connection.id)))
    return [p for p in projects if p.id not in linked], ""


def tool_clients(connection: Connection) -> tuple[list[ExternalClient], str]:
    connector = connector_for(connection, interactive=True)
    try:
        return [c for c in connector.list_clients() if not c.archived], ""
    except PortalError as error:
        return [], error.message
    finally:
        connector.close()


@dataclass
class ClientRow:
    """A CRM client on the mapping page (and on its own page): its mapping in one tool and what is going on."""

    client: Client
    connection: Connection
    link: ClientLink | None
    duplicates: list[Client]
    duplicate_links: dict[int, ClientLink]  # duplicates' mappings, by client id
    run: SyncRun | None
    notes: list[SyncMessage] = field(default_factory=list)

    @property
    def label(self) -> str:
        return tool_label(self.connection)

    @property
    def url(self) -> str:
        return connector_for(self.connection).client_url(self.link.external_id) if self.link else ""

    @property
    def busy(self) -> bool:
        return self.run is not None and self.run.is_active


def client_row(session: Session, connection: Connection, client: Client) -> ClientRow:
    duplicates = crm.similar_clients(session, client)
    duplicate_links = {d.id: link for d in duplicates if (link := client_link(session, connection, d.id))}
    run = runs.latest(session, client_scope(connection, client.id))
    return ClientRow(client, connection, client_link(session, connection, client.id), duplicates, duplicate_links, run,
                     runs.notes(session, run))


def client_rows(session: Session, connection: Connection, after: str | None = None,
                limit: int = CLIENTS_PAGE) -> tuple[list[ClientRow], str | None]:
    """A page of CRM clients by name (keyset) with their mappings, duplicates and latest runs, read in a fixed
    number of queries; and the next page's cursor."""
    clients, cursor = paging.by_name(session, select(Client), Client.name, Client.id, after, limit)
    if not clients:
        return [], cursor
    duplicates: dict[str, list[Client]] = defaultdict(list)
    for other in session.scalars(select(Client).where(
            Client.normalized_name.in_({c.normalized_name for c in clients})).order_by(Client.id)):
        duplicates[other.normalized_name].append(other)
    ids = {c.id for c in clients} | {d.id for group in duplicates.values() for d in group}
    links = {link.client_id: link for link in session.scalars(select(ClientLink).where(
        ClientLink.connection_id == connection.id, ClientLink.client_id.in_(ids)))}
    scopes = {client_scope(connection, c.id): c.id for c in clients}
    latest = {run.scope: run for run in session.scalars(select(SyncRun).where(SyncRun.id.in_(
        select(func.max(SyncRun.id)).where(SyncRun.scope.in_(scopes)).group_by(SyncRun.scope))))}
    ended = [run.id for run in latest.values() if not run.is_active]
    notes: dict[int, list[SyncMessage]] = defaultdict(list)
    for message in session.scalars(select(SyncMessage).where(SyncMessage.run_id.in_(ended), SyncMessage.reason != "")
                                   .order_by(SyncMessage.id)) if ended else ():
        if len(notes[message.run_id]) < NOTES_SHOWN:
            notes[message.run_id].append(message)
    rows = []
    for client in clients:
        others = [d for d in duplicates[client.normalized_name] if d.id != client.id]
        run = latest.get(client_scope(connection, client.id))
        rows.append(ClientRow(client, connection, links.get(client.id), others,
                              {d.id: links[d.id] for d in others if d.id in links}, run,
                              notes[run.id] if run is not None else []))
    return rows, cursor


def client_panels(session: Session, client: Client) -> list[ClientRow]:
    """The client's mapping in every connected tool that has clients (the client page)."""
    return [client_row(session, c, client) for c in connected(session)
            if connector_class(c.kind).supports(connectors.CLIENTS)]


def sync_log(session: Session, connection: Connection, limit: int = 25) -> list[SyncRun]:
    return list(session.scalars(select(SyncRun).where(SyncRun.connection_id == connection.id)
                                .order_by(SyncRun.id.desc()).limit(limit)))


# What a change of an offering's team sent (issue 15 item 19) -------------------------------------------
@dataclass
class TeamNote:
    """After someone is added to, changed on or removed from an offering: what went to its timesheet tools
    (the push runs, watched with their progress and outcome) or why nothing did."""

    offering: Offering
    lines: list[str]
    runs: list[SyncRun]


def team_change_note(session: Session, offering: Offering, changes: dict | None) -> TeamNote:
    """`changes`: None for an addition or a removal, else the fields an update changed (empty: nothing)."""
    targets = push_targets(session, offering)
    if changes == {}:
        return TeamNote(offering, ["Nothing changed, so nothing was sent to a timesheet tool."], [])
    if not targets:
        return TeamNote(offering, [f"Not sent to a timesheet tool: {offering.name} is not linked to one."], [])
    lines, started = [], []
    for connection, link, why in targets:
        label = tool_label(connection)
        why = why or (why_update_is_not_pushed(session, changes) if changes is not None else "")
        if why:
            lines.append(f"Not sent to {label}: {why}")
            continue
        run = session.scalar(select(SyncRun).where(
            SyncRun.scope == provisioning.offering_scope(connection, offering.id), SyncRun.kind == "push")
            .order_by(SyncRun.id.desc()).limit(1))
        lines.append(f"Sent to the {label} project {link.external_name}: its people"
                     f"{' and their rates' if get_settings(session).assignment_level_budgeting else ''}, "
                     "as below once the push has run.")
        if run is not None:
            started.append(run)
    return TeamNote(offering, lines, started)
