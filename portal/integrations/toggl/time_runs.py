"""Starting time syncs (seed 002 section 6): hourly and nightly from the cron, manual for the organization
or one project, and the short runs that webhooks and backfills ask for.

At most one time sync is active per connection (and one per project for project-level syncs): a second
click, the cron and a burst of webhooks join it. Joining a queued run that does less (an hourly) makes it
do more (nightly); joining a running one asks it for one more pass of the strongest kind requested, after
the pass it is in. What each mode reads:

- recent (hourly): the last few days, most recently changed first, stopping at changes already seen;
- full (nightly, manual organization-level): the whole look-back, then reconciliation (deletions);
- project (manual project-level): only that project's linked tool projects: the look-back the first time (and
  after a link is added), then the changes since its last sync; its failed and refused entries applied again;
- drain (webhooks, backfill): no reading; only the queued webhook events and the waiting time of people
  who are matched now. Every connection-level pass ends with this.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal import audit, queue
from portal.auth import policy
from portal.auth.models import User
from portal.errors import Conflict, NotFound
from portal.integrations import connectors, people
from portal.integrations.models import Connection, PersonLink, ProjectLink
from portal.integrations.registry import connector_class
from portal.integrations.services import (
    ADMINS_RETRY,
    PROJECT_RETRY,
    connected_supporting,
    may_link_timesheets_of,
    may_manage_connections,
    project_time_scope,
    time_scope,
    tool_label,
)
from portal.projects.models import Offering, Project
from portal.runs import services as runs
from portal.runs.models import RunStatus, SyncRun

JOB = "portal.integrations.toggl.jobs.sync_time"
RECENT, FULL, PROJECT, DRAIN = "recent", "full", "project", "drain"
KIND_MODES = {"hourly": RECENT, "nightly": FULL, "manual_org": FULL, "manual_project": PROJECT,
              "webhook": DRAIN, "backfill": DRAIN}
RANK = {DRAIN: 0, RECENT: 1, PROJECT: 1, FULL: 2}
runs.retry_right([kind for kind, mode in KIND_MODES.items() if mode != PROJECT], may_manage_connections, ADMINS_RETRY)
runs.retry_right([kind for kind, mode in KIND_MODES.items() if mode == PROJECT], may_link_timesheets_of, PROJECT_RETRY)


def stronger(first: str | None, second: str | None) -> str | None:
    candidates = [m for m in (first, second) if m in RANK]
    return max(candidates, key=RANK.__getitem__) if candidates else None


def start(session: Session, connection: Connection, kind: str, initiated_by_id: int | None = None,
          queue_name: str = queue.SYNC) -> tuple[SyncRun, bool]:
    """Start a connection-level time sync of `kind`, or join the active one. Returns (run, created)."""
    mode = KIND_MODES[kind]
    run, created = runs.start_run(session, kind=kind, scope=time_scope(connection), job=JOB, queue_name=queue_name,
                                  connection_id=connection.id, initiated_by_id=initiated_by_id,
                                  params={"mode": mode, runs.RETRY_RESUMES: True})
    if not created and not _join(session, run, kind, mode):
        run, created = runs.start_run(session, kind=kind, scope=time_scope(connection), job=JOB, queue_name=queue_name,
                                      connection_id=connection.id, initiated_by_id=initiated_by_id,
                                      params={"mode": mode, runs.RETRY_RESUMES: True})
    return run, created


def _join(session: Session, run: SyncRun, kind: str, mode: str) -> bool:
    """Make the active run do what was asked too; False when it ended meanwhile (start a new one)."""
    params = run.params or {}
    if run.status == RunStatus.QUEUED:
        if RANK[mode] <= RANK.get(params.get("mode"), 0):
            return True
        return bool(session.execute(update(SyncRun).where(SyncRun.id == run.id, SyncRun.status == RunStatus.QUEUED)
                                    .values(kind=kind, params={**params, "mode": mode})).rowcount)
    wanted = stronger(params.get("again") if params.get("again") in RANK else None, mode)
    return runs.ask_again(session, run, wanted)


def _connected(session: Session, connection_id: int) -> Connection:
    connection = session.get(Connection, connection_id)
    if connection is None:
        raise NotFound("That timesheet tool connection does not exist.")
    tool = connector_class(connection.kind)
    if not connection.is_connected:
        raise Conflict(f"{tool.display_name()} is not connected. An admin connects it in Admin → Integrations.")
    if not tool.supports(connectors.TIME_ENTRIES):
        raise connectors.NotSupported(f"{tool.display_name()} time is not synced this way.")
    return connection


def start_org_sync(session: Session, actor_user: User, connection_id: int) -> SyncRun:
    """Manual, organization level (Admin → Integrations): like nightly, every linked offering."""
    policy.require(policy.can_manage_connections(actor_user), "Only admins sync every project at once.")
    connection = _connected(session, connection_id)
    linked = session.scalar(select(func.count()).select_from(ProjectLink)
                            .where(ProjectLink.connection_id == connection.id))
    label = tool_label(connection)
    if not linked:
        raise Conflict(f"No offering is linked to a {label} project yet, so there is no time to sync. Provision or "
                       "connect offerings on their project's Integrations tab first.")
    run, created = start(session, connection, "manual_org", actor_user.id, queue.INTERACTIVE)
    if created:
        audit.record(session, actor_user, "time_sync.requested", connection,
                     summary=f"Organization-level {label} time sync requested")
    return run


def start_project_sync(session: Session, actor_user: User, project_id: int, connection_id: int) -> SyncRun:
    """Manual, project level (the project's Integrations tab): that project's linked offerings only."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("That project does not exist.")
    policy.require(policy.can_link_timesheets(actor_user, project),
                   "Only the project's PM team and admins can sync its time.")
    connection = _connected(session, connection_id)
    label = tool_label(connection)
    if not project_links(session, connection, project.id):
        raise Conflict(f"None of {project.name}'s offerings is linked to a {label} project: connect one first.")
    run, _ = runs.start_run(session, kind="manual_project", scope=project_time_scope(connection, project.id), job=JOB,
                            queue_name=queue.INTERACTIVE, connection_id=connection.id, project_id=project.id,
                            initiated_by_id=actor_user.id,
                            params={"mode": PROJECT, "project_id": project.id, runs.RETRY_RESUMES: True})
    return run


def project_links(session: Session, connection: Connection, project_id: int) -> list[ProjectLink]:
    return list(session.scalars(select(ProjectLink).join(Offering, Offering.id == ProjectLink.offering_id)
                                .where(ProjectLink.connection_id == connection.id, Offering.project_id == project_id)))


def request_backfill(session: Session, actor_user: User | None, connection: Connection) -> SyncRun:
    """Import the waiting time of people matched now (after a link, or an email fixed)."""
    return start(session, connection, "backfill", actor_user.id if actor_user else None,
                 queue.INTERACTIVE if actor_user else queue.SYNC)[0]


def link_person(session: Session, actor_user: User, connection_id: int, person_link_id: int,
                resource_id: int | None) -> PersonLink:
    """Link an unmatched person to a resource, and import their waiting time (a backfill run)."""
    link = people.link_person(session, actor_user, connection_id, person_link_id, resource_id)
    request_backfill(session, actor_user, session.get(Connection, connection_id))
    return link


def match_again(session: Session, actor_user: User, connection_id: int) -> SyncRun:
    """Match the unmatched people by email again (after emails were fixed) and import what then matches."""
    policy.require(policy.can_manage_connections(actor_user), "Only admins map the timesheet tools' people.")
    connection = session.get(Connection, connection_id)
    if connection is None or not connection.is_connected:
        raise Conflict("The timesheet tool is not connected; connect it in Admin → Integrations first.")
    return request_backfill(session, actor_user, connection)


def start_scheduled(session: Session, kind: str) -> list[int]:
    """The cron's fan-out: a run of `kind` (hourly | nightly) per connected tool that has time entries."""
    return [start(session, connection, kind)[0].id
            for connection in list(connected_supporting(session, connectors.TIME_ENTRIES))]
