"""Pushes: a linked tool project kept like its offering (seed 002 sections 4 and 5), and the org-wide re-push
after Assignment Level Budgeting or Hours Source changed (seed 002 section 7).

A push reads the tool's project and project users and sends only what differs, so repeating it sends nothing.
It runs inside a sync run: an offering's push is one of its runs (provisioning.py starts them, on the offering's
scope), the re-push one run of the connection. The database is written after each external step and committed
at once, never across an HTTP call.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import audit
from portal.auth import policy
from portal.auth.models import User
from portal.errors import ExternalServiceError, PortalError
from portal.integrations import rules
from portal.integrations.connectors import ExternalMember, ExternalProjectUser, TimesheetConnector
from portal.integrations.http import ExternalNotFound, RateLimited
from portal.integrations.models import Connection, LinkMethod, PersonLink, ProjectLink, ProjectUserLink
from portal.integrations.registry import connector_for
from portal.integrations.services import client_link, require_connected, tool_label
from portal.org.services import get_settings
from portal.projects.models import Offering, Resource
from portal.runs import services as runs
from portal.runs.models import SyncRun

runs.retry_right(("push_all",), lambda session, user, run: policy.can_resync_timesheet_tools(user),
                 "Only a super-admin can re-push every linked project.")
PROJECT_FIELD_LABELS = {"name": "name", "client_id": "client", "active": "active/archived", "billable": "billable",
                        "start_date": "start date", "end_date": "end date", "estimated_hours": "budget hours",
                        "fixed_fee": "fixed fee"}


class Pusher:
    """Makes linked projects match their offerings; one per run, so workspace members are read once."""

    def __init__(self, session: Session, run: SyncRun, connection: Connection, connector: TimesheetConnector):
        self.session, self.run, self.connection, self.connector = session, run, connection, connector
        self.settings = get_settings(session)
        self.label = tool_label(connection)
        self._members: dict[str, ExternalMember] | None = None
        self._plan_noted = False

    def push_until_done(self, offering: Offering, link: ProjectLink) -> list[str]:
        changes = self.push(offering, link)
        while runs.take_again(self.session, self.run):
            self.session.refresh(offering)
            changes += self.push(offering, link)
        return changes

    def push(self, offering: Offering, link: ProjectLink) -> list[str]:
        """Send what differs between the offering and its linked project; returns the changes in words."""
        changes = self._project(offering, link) + self._team(offering, link)
        self.session.commit()
        return changes

    def _project(self, offering: Offering, link: ProjectLink) -> list[str]:
        try:
            current = self.connector.get_project(link.external_id)
        except ExternalNotFound:
            raise ExternalServiceError(
                f"The {self.label} project {link.external_name} ({link.external_id}) no longer exists in the "
                f"workspace. Disconnect {offering.name} and provision or connect it again.",
                service=self.label) from None
        client = client_link(self.session, self.connection, offering.project.client_id)
        if client is None:
            runs.note(self.session, self.run, "project",
                      f"{offering.project.client.name} is not mapped to a {self.label} client; the project keeps "
                      "its client.", external_id=link.external_id)
        spec = rules.project_spec(offering, self.settings, client.external_id if client else current.client_id)
        updated = self.connector.update_project(link.external_id, spec, current=current)
        missing = self.connector.unsupported_fields()
        if missing and not self._plan_noted:
            self._plan_noted = True
            runs.note(self.session, self.run, "project", f"The {self.label} workspace's plan does not take "
                      f"{', '.join(missing)}; they were not sent.")
        changed = [label for field, label in PROJECT_FIELD_LABELS.items()
                   if getattr(current, field) != getattr(updated, field)]
        if not changed:
            return []
        link.external_name = updated.name
        runs.note(self.session, self.run, "project", f"Updated {', '.join(changed)}", external_id=link.external_id,
                  action="update")
        return [f"updated {', '.join(changed)}"]

    def _team(self, offering: Offering, link: ProjectLink) -> list[str]:
        """Project users for everyone assigned (matched by email), rates under ALB, removals of ours."""
        alb = self.settings.assignment_level_budgeting
        current = {pu.user_id: pu for pu in self.connector.list_project_users(link.external_id)}
        wanted: dict[int, tuple[Resource, str, Decimal | None]] = {}
        for assignment in offering.assignments:
            resource = assignment.resource
            member = self._member(resource)
            if member is None:
                continue
            if member.id == self.connection.external_user_id:
                runs.note(self.session, self.run, "project_user",
                          f"{resource.name} is the {self.label} user the connection acts as: the project's creator, "
                          f"whom {self.label} makes its manager. No project user can be created for them, so their "
                          "rate is not managed here (connect with a non-billable admin account to avoid this).",
                          external_id=member.id, action="skip")
                continue
            wanted[resource.id] = (resource, member.id, rules.person_rate(assignment, self.settings) if alb else None)
        added = updated = removed = 0
        ours = {ul.resource_id: ul for ul in link.user_links}
        for resource_id, (resource, user_id, rate) in wanted.items():
            row = current.get(user_id)
            if row is None:
                row = self._add(link, resource, user_id, rate, current)
                added += 1
            elif alb and row.rate != rate:
                row = self.connector.update_project_user(row.id, rate)
                runs.note(self.session, self.run, "project_user", f"{resource.name}: rate {rate or 'cleared'}",
                          external_id=row.id, action="update")
                updated += 1
            mine = ours.get(resource_id)
            if mine is None:
                self._insert(ProjectUserLink(project_link_id=link.id, resource_id=resource_id,
                                             external_user_id=user_id, external_id=row.id))
            elif (mine.external_id, mine.external_user_id) != (row.id, user_id):
                mine.external_id, mine.external_user_id = row.id, user_id
        for resource_id, mine in ours.items():
            if resource_id in wanted:
                continue
            if mine.external_user_id in current:
                self.connector.remove_project_user(current[mine.external_user_id].id)
                removed += 1
                runs.note(self.session, self.run, "project_user",
                          f"{mine.resource.name} removed from the project; their {self.label} time stays.",
                          external_id=mine.external_id, action="delete")
            self.session.delete(mine)
        return [f"{n} {what}" for n, what in ((added, "added"), (updated, "rates updated"), (removed, "removed")) if n]

    def _add(self, link: ProjectLink, resource: Resource, user_id: str, rate: Decimal | None,
             current: dict[str, ExternalProjectUser]) -> ExternalProjectUser:
        try:
            row = self.connector.add_project_user(link.external_id, user_id, rate)
        except ExternalServiceError as error:
            if "Project user already exists" not in error.message:
                raise
            # Added meanwhile (another push, or by hand): take the row that is there.
            current.update({pu.user_id: pu for pu in self.connector.list_project_users(link.external_id)})
            row = current[user_id]
        runs.note(self.session, self.run, "project_user",
                  f"Added {resource.name}" + (f" at {rate}/h" if rate is not None else ""), external_id=row.id,
                  action="create")
        return row

    def _insert(self, row: ProjectUserLink | PersonLink) -> None:
        """Record a link; a concurrent push (or the time sync) that recorded it first wins, harmlessly."""
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            pass

    def _member(self, resource: Resource) -> ExternalMember | None:
        """The workspace member with the resource's email (any case), remembered as a person link."""
        person = self.session.scalar(select(PersonLink).where(PersonLink.connection_id == self.connection.id,
                                                              PersonLink.resource_id == resource.id))
        if person is not None and person.external_email.lower() == resource.email.lower():
            return ExternalMember(id=person.external_id, email=person.external_email, name=person.external_name)
        if self._members is None:
            self._members = {m.email.strip().lower(): m for m in self.connector.list_members() if m.email}
        member = self._members.get(resource.email.strip().lower())
        if member is None or not member.active:
            state = "is not an active member" if member else "is not a member"
            runs.note(self.session, self.run, "project_user",
                      f"{resource.name} ({resource.email}) {state} of the {self.label} workspace, so they were not "
                      f"added. Invite them in {self.label} with this email, then save the offering or push again.",
                      action="skip")
            return None
        link = self.session.scalar(select(PersonLink).where(PersonLink.connection_id == self.connection.id,
                                                            PersonLink.external_id == member.id))
        if link is None:
            self._insert(PersonLink(connection_id=self.connection.id, resource_id=resource.id,
                                    external_id=member.id, external_email=member.email, external_name=member.name,
                                    method=LinkMethod.AUTO_MAPPED))
        else:  # unmatched until now, or matched to someone whose email has since changed
            link.resource_id, link.external_email, link.external_name = resource.id, member.email, member.name
            link.method = link.method or LinkMethod.AUTO_MAPPED
        self.session.flush()
        return member


# The org-wide re-push (after Assignment Level Budgeting or Hours Source changed) ------------------

def push_all_scope(connection: Connection) -> str:
    return f"{connection.kind}:push_all"


def latest_push_all(session: Session, connection: Connection | None) -> SyncRun | None:
    """The connection's last org-wide re-push (what its settings page shows)."""
    return runs.latest(session, push_all_scope(connection)) if connection else None


def start_push_all(session: Session, actor: User, connection_id: int) -> SyncRun:
    policy.require(policy.can_resync_timesheet_tools(actor), "Only a super-admin can re-push every linked project.")
    connection = require_connected(session, connection_id)
    run, created = runs.start_run(session, kind="push_all", scope=push_all_scope(connection),
                                  job="portal.jobs.push_all_offerings", connection_id=connection.id,
                                  initiated_by_id=actor.id)
    if created:
        audit.record(session, actor, "connection.resync_requested", connection,
                     summary=f"Re-push of every linked {tool_label(connection)} project requested")
    return run


def run_push_all(session: Session, run_id: int) -> SyncRun | None:
    return runs.execute(session, run_id, _push_all)


def _push_all(session: Session, run: SyncRun) -> str:
    connection = require_connected(session, run.connection_id)
    links = list(session.scalars(select(ProjectLink).where(ProjectLink.connection_id == connection.id)
                                 .order_by(ProjectLink.id)))
    done = set(run.checkpoint.get("done", []))  # a resumed run skips what it already pushed
    runs.report(session, run, done=len(done), total=len(links), text="Pushing linked projects")
    connector = connector_for(connection)
    pusher = Pusher(session, run, connection, connector)
    failures = 0
    try:
        for link in links:
            if link.id in done:
                continue
            try:
                pusher.push(link.offering, link)
            except RateLimited as error:  # every further push would be refused too: stop, say when to retry
                raise RateLimited(f"{error.message} {len(done)} of {len(links)} linked offerings were pushed.",
                                  service=pusher.label, resets_at=error.resets_at) from None
            except PortalError as error:
                session.rollback()
                failures += 1
                runs.note(session, run, "project", f"{link.offering.name}: {error.message}",
                          external_id=link.external_id, failed=True)
            done.add(link.id)
            runs.report(session, run, done=len(done), checkpoint={"done": sorted(done)},
                        text=f"Pushed {len(done)} of {len(links)}")
    finally:
        connector.close()
    if failures:
        raise ExternalServiceError(f"{failures} of {len(links)} linked offerings could not be pushed; the notes say "
                                   "why. Retry once that is fixed.", service=pusher.label)
    settings = dict(connection.settings or {})
    settings.pop("resync_needed", None)
    connection.settings = settings
    return f"Pushed {len(links)} linked offerings under the current settings"
