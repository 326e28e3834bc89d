"""Offerings and the projects of timesheet tools: Provision New, Connect Existing, Disconnect, and the
push runs that keep a linked project like its offering (seed 000; seed 002 sections 4 and 5; what a push
sends is pushing.py's).

Every action is a sync run on the offering's scope, so one thing happens to an offering at a time: a
second click is told that work is in progress, and a change saved during a push joins it (one more pass
when it is done). Runs are idempotent: a push reads the tool's project and
project users and sends only what differs, so repeating it sends nothing; provisioning stores our
reference on the project, so a creation whose answer was lost is found again instead of duplicated.
The database is written after each external step and committed at once, never across an HTTP call.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import audit
from portal.auth import policy
from portal.auth.models import User
from portal.errors import Conflict, ExternalServiceError, InvalidInput, NotFound
from portal.integrations import connectors, rules
from portal.integrations.connectors import ExternalProject, TimesheetConnector
from portal.integrations.http import ExternalNotFound
from portal.integrations.models import Connection, LinkMethod, ProjectLink
from portal.integrations.pushing import Pusher
from portal.integrations.registry import connector_class, connector_for
from portal.integrations.services import (
    PROJECT_RETRY,
    client_link,
    connected,
    may_link_timesheets_of,
    require_connected,
    run_actor,
    tool_label,
    unmapped_client_reason,
)
from portal.org.services import get_settings
from portal.projects.models import Offering, Project
from portal.runs import services as runs
from portal.runs.models import RunStatus, SyncRun

JOBS = {
    "provision": "portal.jobs.provision_offering",
    "connect": "portal.jobs.connect_offering",
    "disconnect": "portal.jobs.disconnect_offering",
    "push": "portal.jobs.push_offering",
}
runs.retry_right(tuple(JOBS), may_link_timesheets_of, PROJECT_RETRY)


def offering_scope(connection: Connection, offering_id: int) -> str:
    return f"{connection.kind}:offering:{offering_id}"


def project_link(session: Session, connection_id: int, offering_id: int) -> ProjectLink | None:
    return session.scalar(select(ProjectLink).where(ProjectLink.connection_id == connection_id,
                                                    ProjectLink.offering_id == offering_id))


# Starting (from the Integrations tab) ---------------------------------------------------------

def _offering_for(session: Session, actor: User | str | None, offering_id: int) -> Offering:
    offering = session.get(Offering, offering_id)
    if offering is None:
        raise NotFound("That offering does not exist.")
    if isinstance(actor, User):
        policy.require(policy.can_link_timesheets(actor, offering.project),
                       "Only the project's PM team and admins can change its timesheet links.")
    return offering


def _require_active(project: Project) -> None:
    if not project.is_active:
        raise Conflict(f"{project.name} is not Active yet: timesheet projects can be linked once its CRM deal "
                       "is Closed Won.")


def _start(session: Session, actor: User | str | None, kind: str, offering: Offering, connection: Connection,
           **params) -> SyncRun:
    run, created = runs.start_run(
        session, kind=kind, scope=offering_scope(connection, offering.id), job=JOBS[kind], connection_id=connection.id,
        project_id=offering.project_id, offering_id=offering.id,
        initiated_by_id=actor.id if isinstance(actor, User) else None, params={"offering_id": offering.id, **params})
    if not created:
        raise Conflict(f"{tool_label(connection)} work on {offering.name} is already in progress ({run.kind}); "
                       "wait for it to finish.")
    return run


def start_provision(session: Session, actor: User | str | None, offering_id: int, connection_id: int) -> SyncRun:
    """Provision New: create the tool's project from the offering, with its team."""
    offering = _offering_for(session, actor, offering_id)
    connection = require_connected(session, connection_id, connectors.PROVISION)
    _require_active(offering.project)
    link = project_link(session, connection.id, offering.id)
    if link is not None:
        raise Conflict(f"{offering.name} is already linked to the {tool_label(connection)} project "
                       f"{link.external_name}. Disconnect it first.")
    if offering.archived or offering.project.is_closed:
        raise Conflict(f"{offering.name} is archived or its project is closed; reactivate it before provisioning.")
    return _start(session, actor, "provision", offering, connection)


def start_connect(session: Session, actor: User | str | None, offering_id: int, connection_id: int,
                  project: str) -> SyncRun:
    """Connect Existing: link the offering to a project the tool has (chosen, typed as an id, or a URL)."""
    offering = _offering_for(session, actor, offering_id)
    connection = require_connected(session, connection_id, connectors.CONNECT)
    _require_active(offering.project)
    if project_link(session, connection.id, offering.id) is not None:
        raise Conflict(f"{offering.name} is already linked; disconnect it first.")
    text = (project or "").strip()
    if not text:
        raise InvalidInput("Choose a project, type its id, or paste its URL.",
                           fields={"project": "Choose a project, type its id, or paste its URL."})
    # What the person typed is checked while they wait, so a mistake keeps the form open with what they typed
    # (the run's Retry is for the tool's failures). A tool that does not answer now is the run's to try again.
    connector = connector_for(connection, interactive=True)
    try:
        project_id = _project_to_connect(session, connection, connector, offering, text)
        try:
            connector.get_project(project_id)
        except ExternalNotFound:
            raise _not_in_workspace(connection, project_id) from None
        except ExternalServiceError:
            pass
    finally:
        connector.close()
    return _start(session, actor, "connect", offering, connection, project=text[:500])


def _project_to_connect(session: Session, connection: Connection, connector: TimesheetConnector, offering: Offering,
                        text: str) -> str:
    """The tool's project id in `text` (an id or a URL), refused as an input error when there is none or when
    another offering is linked to that project."""
    label = tool_label(connection)
    project_id = connector.project_id_from_url(text)
    if project_id is None:
        message = (f"“{text[:80]}” has no {label} project id. Choose a project from the list, type its id "
                   f"(digits), or paste the project's URL, like {connector.project_url('123456789')}.")
        raise InvalidInput(message, fields={"project": message})
    holder = session.scalar(select(ProjectLink).where(ProjectLink.connection_id == connection.id,
                                                      ProjectLink.external_id == project_id))
    if holder is not None and holder.offering_id != offering.id:
        message = (f"The {label} project {holder.external_name} is already linked to {holder.offering.name} "
                   f"({holder.offering.project.name}).")
        raise InvalidInput(message, fields={"project": message})
    return project_id


def _not_in_workspace(connection: Connection, project_id: str) -> InvalidInput:
    message = (f"The {tool_label(connection)} workspace {connection.account_name or connection.account_id} has no "
               f"project {project_id}: check the id or the link.")
    return InvalidInput(message, fields={"project": message})


def start_disconnect(session: Session, actor: User | str | None, offering_id: int, connection_id: int) -> SyncRun:
    """Disconnect: forget the link. Nothing changes in the tool (its project and time stay there)."""
    offering = _offering_for(session, actor, offering_id)
    connection = session.get(Connection, connection_id)
    if connection is None or project_link(session, connection.id, offering.id) is None:
        raise Conflict(f"{offering.name} is not linked.")
    return _start(session, actor, "disconnect", offering, connection)


def request_push(session: Session, actor: User | str | None, offering: Offering, connection: Connection) -> None:
    """Push an offering's change after commit; a push already running is asked for one more pass."""
    run, created = runs.start_run(
        session, kind="push", scope=offering_scope(connection, offering.id), job=JOBS["push"], queue_name="sync",
        connection_id=connection.id, project_id=offering.project_id, offering_id=offering.id,
        initiated_by_id=actor.id if isinstance(actor, User) else None, params={"offering_id": offering.id})
    if not created and run.status == RunStatus.RUNNING:
        runs.ask_again(session, run)


def provision_on_move(session: Session, actor: User | str | None, project: Project, options: dict) -> list[SyncRun]:
    """A project entered an In Progress stage: provision the offerings checked in the move dialog.

    Without a choice from the dialog (a move made elsewhere), the default applies: every offering.
    """
    tools = [c for c in connected(session) if connector_class(c.kind).supports(connectors.PROVISION)]
    if not tools or not project.is_active:
        return []
    if options.get("provision_choice_shown"):
        chosen = {int(i) for i in options.get("provision_offering_ids") or []}
    else:
        chosen = {o.id for o in project.offerings}
    started = []
    for offering in project.offerings:
        if offering.id not in chosen or offering.archived:
            continue
        for connection in tools:
            if project_link(session, connection.id, offering.id) is None:
                run, _ = runs.start_run(
                    session, kind="provision", scope=offering_scope(connection, offering.id), job=JOBS["provision"],
                    connection_id=connection.id, project_id=project.id, offering_id=offering.id,
                    initiated_by_id=actor.id if isinstance(actor, User) else None,
                    params={"offering_id": offering.id})
                started.append(run)
    return started


@dataclass
class MoveOptions:
    """What the move dialog shows when a project enters an In Progress stage."""

    tools: list[str]
    offerings: list[tuple[Offering, bool]]  # (offering, already linked)


def move_options(session: Session, project: Project, target_stage) -> MoveOptions | None:
    if target_stage is None or not target_stage.is_in_progress or not project.is_active:
        return None
    tools = [c for c in connected(session) if connector_class(c.kind).supports(connectors.PROVISION)]
    if not tools:
        return None
    linked = {link.offering_id for link in session.scalars(
        select(ProjectLink).where(ProjectLink.connection_id.in_([c.id for c in tools])))}
    offerings = [(o, o.id in linked) for o in project.offerings if not o.archived]
    return MoveOptions([tool_label(c) for c in tools], offerings) if offerings else None


# Running (jobs) ---------------------------------------------------------------------------------

def run_provision(session: Session, run_id: int) -> SyncRun | None:
    return runs.execute(session, run_id, _provision)


def run_connect(session: Session, run_id: int) -> SyncRun | None:
    return runs.execute(session, run_id, _connect)


def run_disconnect(session: Session, run_id: int) -> SyncRun | None:
    return runs.execute(session, run_id, _disconnect)


def run_push(session: Session, run_id: int) -> SyncRun | None:
    return runs.execute(session, run_id, _push)


def _run_offering(session: Session, run: SyncRun) -> Offering:
    offering = session.get(Offering, run.params["offering_id"])
    if offering is None:
        raise NotFound("The offering was deleted.")
    return offering


def _provision(session: Session, run: SyncRun) -> str:
    connection = require_connected(session, run.connection_id, connectors.PROVISION)
    offering = _run_offering(session, run)
    label = tool_label(connection)
    link = project_link(session, connection.id, offering.id)
    connector = connector_for(connection)
    try:
        if link is None:
            _require_active(offering.project)
            client = client_link(session, connection, offering.project.client_id)
            if client is None:
                raise Conflict(unmapped_client_reason(session, connection, offering.project.client))
            runs.report(session, run, done=0, total=2, text=f"Creating the {label} project")
            spec = rules.project_spec(offering, get_settings(session), client.external_id)
            created = connector.create_project(spec)
            link = _link(session, run, connection, connector, offering, created, LinkMethod.PROVISIONED)
            outcome = f"Provisioned the {label} project {created.name}"
        else:  # a retry after the project was created: finish the team
            outcome = f"{offering.name} is linked to the {label} project {link.external_name}"
        runs.report(session, run, done=1, text="Adding the team")
        changes = Pusher(session, run, connection, connector).push_until_done(offering, link)
    finally:
        connector.close()
    return _summary(outcome, changes)


def _connect(session: Session, run: SyncRun) -> str:
    connection = require_connected(session, run.connection_id, connectors.CONNECT)
    offering = _run_offering(session, run)
    label = tool_label(connection)
    connector = connector_for(connection)
    try:
        project_id = _project_to_connect(session, connection, connector, offering, run.params.get("project", ""))
        try:
            existing = connector.get_project(project_id)
        except ExternalNotFound:
            raise _not_in_workspace(connection, project_id) from None
        link = project_link(session, connection.id, offering.id) \
            or _link(session, run, connection, connector, offering, existing, LinkMethod.CONNECTED)
        changes = []
        while runs.take_again(session, run):  # the offering changed while we connected: send that change
            changes += Pusher(session, run, connection, connector).push(offering, link)
    finally:
        connector.close()
    outcome = f"Connected to the {label} project {existing.name}; nothing was changed in {label}"
    return _summary(outcome, changes) if changes else outcome


def _disconnect(session: Session, run: SyncRun) -> str:
    connection = session.get(Connection, run.connection_id)
    offering = _run_offering(session, run)
    label = tool_label(connection)
    link = project_link(session, connection.id, offering.id)
    if link is None:
        return f"{offering.name} was not linked"
    audit.record(session, run_actor(session, run), "offering.timesheet_disconnected", offering,
                 before={"tool": connection.kind, "external_id": link.external_id,
                         "external_name": link.external_name, "method": link.method},
                 summary=f"{offering.name} disconnected from {label} project {link.external_name}")
    runs.note(session, run, "project", "", external_id=link.external_id, action="disconnect")
    session.delete(link)
    session.commit()
    return f"Disconnected from the {label} project {link.external_name}; nothing was changed in {label}"


def _push(session: Session, run: SyncRun) -> str:
    connection = require_connected(session, run.connection_id)
    offering = _run_offering(session, run)
    link = project_link(session, connection.id, offering.id)
    if link is None:
        return "Not linked; nothing to send"
    connector = connector_for(connection)
    try:
        changes = Pusher(session, run, connection, connector).push_until_done(offering, link)
    finally:
        connector.close()
    return _summary(f"{tool_label(connection)} project {link.external_name}", changes)


def _summary(outcome: str, changes: list[str]) -> str:
    return f"{outcome}: {'; '.join(changes)}" if changes else f"{outcome}: up to date"


def _link(session: Session, run: SyncRun, connection: Connection, connector: TimesheetConnector,
          offering: Offering, external: ExternalProject, method: str) -> ProjectLink:
    link = ProjectLink(connection_id=connection.id, offering_id=offering.id, external_id=external.id,
                       external_name=external.name, external_url=connector.project_url(external.id), method=method,
                       created_by_id=run.initiated_by_id)
    try:
        with session.begin_nested():
            session.add(link)
    except IntegrityError:
        raise Conflict(f"{offering.name} or that {tool_label(connection)} project was linked meanwhile; reload the "
                       "page.") from None
    audit.record(session, run_actor(session, run), f"offering.timesheet_{method}", offering,
                 after={"tool": connection.kind, "external_id": external.id, "external_name": external.name},
                 summary=f"{offering.name} {method} as {tool_label(connection)} project {external.name}")
    runs.note(session, run, "project", "", external_id=external.id, action=method)
    session.commit()
    return link
