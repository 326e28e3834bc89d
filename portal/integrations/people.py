"""The tool's people and the portal's resources (seed 002 section 5, "Employee auto-mapping").

Someone who logs time in the tool is matched to the resource with exactly the same email (ignoring case
and surrounding spaces: emails are stored lower-case). Until then they are *unmatched*: their time on
linked projects waits (WaitingTimeEntry) and they are listed in the Unmatched people queue with how many
entries wait and on which projects. An admin links them to a resource, or fixes an email so they match;
their waiting time is then imported (backfill). A wrong mapping can be cleared: the person's synced time
that is not approved goes back to waiting, to be imported for whoever they are linked to next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from portal import audit, paging
from portal.auth import policy
from portal.auth.models import User
from portal.auth.services import normalize_email
from portal.errors import Conflict, InvalidInput, NotFound
from portal.formatting import plural
from portal.integrations.connectors import ExternalMember, ExternalTimeEntry, TimesheetConnector
from portal.integrations.models import Connection, LinkMethod, PersonLink, ProjectLink, WaitingTimeEntry
from portal.integrations.services import sync_actor, tool_label
from portal.projects.models import Offering, Resource
from portal.timesheets import synced
from portal.timesheets.models import TimeEntry, Timesheet

PERSON_FIELDS = ["external_id", "external_email", "external_name", "resource_id", "method"]


class People:
    """Who the tool's users are in the portal, for one sync run: links are read once, new people are
    matched by email as they appear, and unmatched people are matched again once per run (an email may
    have been fixed since)."""

    def __init__(self, session: Session, connection: Connection, connector: TimesheetConnector | None):
        self.session, self.connection, self.connector = session, connection, connector
        self.connection_id = connection.id  # a plain value: reading the expired row's would reload it per batch
        self._members: dict[str, ExternalMember] | None = None
        self.reload()

    def reload(self) -> None:
        """Forget what a rolled-back transaction may have added."""
        self.refresh()
        self._rematched: set[str] = set()

    def refresh(self) -> None:
        """Read the links again (one query; a commit expired them)."""
        self.links = {link.external_id: link for link in self.session.scalars(
            select(PersonLink).where(PersonLink.connection_id == self.connection_id))}

    def resolve(self, entry: ExternalTimeEntry) -> PersonLink:
        link = self.links.get(entry.user_id)
        if link is not None and (not entry.user_email or entry.user_email == link.external_email):
            self.match(link)  # the common case: someone met before, under the same email
            return link
        email, name = self._identity(entry, link)
        if link is None:
            link = self._create(entry.user_id, email, name)
        elif email and normalize_email(email) != normalize_email(link.external_email):
            link.external_email, link.external_name = email, name or link.external_name
            self._rematched.discard(link.external_id)
            if link.method == LinkMethod.CLEARED:
                link.method = None
        self.match(link)
        return link

    def match(self, link: PersonLink) -> None:
        """Match an unmatched person by email (once per run: an email may have been fixed since)."""
        if link.resource_id is not None or link.external_id in self._rematched or link.method == LinkMethod.CLEARED:
            return
        self._rematched.add(link.external_id)
        resource = self._resource(link.external_email)
        if resource is not None:
            link.resource_id, link.method = resource.id, LinkMethod.AUTO_MAPPED
            audit.record(self.session, sync_actor(self.connection), "person_link.auto_mapped", link,
                         after={"resource_id": resource.id, "email": link.external_email},
                         summary=f"{link.external_email} matched to {resource.name} by email")

    def _identity(self, entry: ExternalTimeEntry, link: PersonLink | None) -> tuple[str, str]:
        """The email and name the entry carries; the workspace's member list when it carries none (a webhook
        payload), read once per run and only for people the portal has not met."""
        if entry.user_email or link is not None:
            return entry.user_email, entry.user_name
        if self._members is None:
            self._members = {m.id: m for m in self.connector.list_members()} if self.connector else {}
        member = self._members.get(entry.user_id)
        return (member.email, member.name) if member else ("", "")

    def _resource(self, email: str) -> Resource | None:
        email = normalize_email(email)
        return self.session.scalar(select(Resource).where(Resource.email == email)) if email else None

    def _create(self, user_id: str, email: str, name: str) -> PersonLink:
        link = PersonLink(connection_id=self.connection_id, external_id=user_id, external_email=email,
                          external_name=name)
        try:
            with self.session.begin_nested():  # the provisioning push or a concurrent sync may add them too
                self.session.add(link)
        except IntegrityError:
            link = self.session.scalar(select(PersonLink).where(PersonLink.connection_id == self.connection_id,
                                                                PersonLink.external_id == user_id))
        self.links[user_id] = link
        return link


# The Unmatched people queue and the people list -----------------------------------------------------

@dataclass
class UnmatchedPerson:
    link: PersonLink
    waiting: int
    hours: float
    first_day: date | None
    last_day: date | None
    offerings: list[str]


PEOPLE_PAGE = 50


def _people_page(session: Session, connection: Connection, matched: bool,
                 after: str | None) -> tuple[list[PersonLink], str | None]:
    """A page of the connection's matched (or unmatched) people by email (keyset), and the next page's cursor."""
    query = (select(PersonLink).where(PersonLink.connection_id == connection.id,
                                      PersonLink.resource_id.is_not(None) if matched
                                      else PersonLink.resource_id.is_(None)))
    if matched:
        query = query.options(joinedload(PersonLink.resource))
    return paging.by_name(session, query, PersonLink.external_email, PersonLink.id, after, PEOPLE_PAGE)


def unmatched_page(session: Session, connection: Connection,
              after: str | None = None) -> tuple[list[UnmatchedPerson], str | None]:
    """A page of the people whose time waits for a resource (by email): who, how many entries, which
    offerings, which days; and the next page's cursor."""
    links, cursor = _people_page(session, connection, matched=False, after=after)
    ids = [link.id for link in links]
    totals = {person_id: rest for person_id, *rest in session.execute(
        select(WaitingTimeEntry.person_link_id, func.count(WaitingTimeEntry.id),
               func.coalesce(func.sum(WaitingTimeEntry.seconds), 0), func.min(WaitingTimeEntry.work_date),
               func.max(WaitingTimeEntry.work_date))
        .where(WaitingTimeEntry.person_link_id.in_(ids)).group_by(WaitingTimeEntry.person_link_id))} if ids else {}
    names: dict[int, list[str]] = {}
    for person_id, offering in session.execute(
        select(WaitingTimeEntry.person_link_id, Offering.name).distinct()
        .join(ProjectLink, ProjectLink.id == WaitingTimeEntry.project_link_id)
        .join(Offering, Offering.id == ProjectLink.offering_id)
        .where(WaitingTimeEntry.person_link_id.in_(ids)).order_by(Offering.name)
    ) if ids else ():
        names.setdefault(person_id, []).append(offering)
    people = []
    for link in links:
        count, seconds, first, last = totals.get(link.id, (0, 0, None, None))
        people.append(UnmatchedPerson(link, count, seconds / 3600, first, last, names.get(link.id, [])))
    return people, cursor


def matched_page(session: Session, connection: Connection,
                 after: str | None = None) -> tuple[list[PersonLink], str | None]:
    """A page of the matched people by email, with their resources; and the next page's cursor."""
    return _people_page(session, connection, matched=True, after=after)


def _person(session: Session, actor: User, connection_id: int, person_link_id: int) -> tuple[Connection, PersonLink]:
    policy.require(policy.can_manage_connections(actor), "Only admins map the timesheet tools' people.")
    link = session.get(PersonLink, person_link_id, with_for_update=True, populate_existing=True)
    if link is None or link.connection_id != connection_id:
        raise NotFound("That person does not exist in this tool's list.")
    return session.get(Connection, connection_id), link


def link_person(session: Session, actor: User, connection_id: int, person_link_id: int,
                resource_id: int | None) -> PersonLink:
    """Link an unmatched person to a resource (the time sync then imports their waiting time)."""
    connection, link = _person(session, actor, connection_id, person_link_id)
    resource = session.get(Resource, resource_id) if resource_id else None
    if resource is None:
        raise InvalidInput("Choose the resource this person is.", fields={"resource_id": "Choose a resource."})
    if link.resource_id is not None:
        raise Conflict(f"{link.external_email or link.external_id} is already linked; clear that mapping first.")
    other = session.scalar(select(PersonLink).where(PersonLink.connection_id == connection_id,
                                                    PersonLink.resource_id == resource.id))
    if other is not None:
        raise Conflict(f"{resource.name} is already linked to the {tool_label(connection)} user "
                       f"{other.external_email or other.external_id}. Clear that mapping first.",
                       fields={"resource_id": "Already linked to someone else."})
    before = audit.snapshot(link, PERSON_FIELDS)
    link.resource_id, link.method = resource.id, LinkMethod.MANUAL
    session.flush()
    who = link.external_email or link.external_id
    audit.record(session, actor, "person_link.linked", link, before=before, after=audit.snapshot(link, PERSON_FIELDS),
                 summary=f"{tool_label(connection)} user {who} linked to {resource.name}")
    return link


def clear_person(session: Session, actor: User, connection_id: int, person_link_id: int) -> tuple[int, int]:
    """Clear a (wrong) mapping. The person's synced time on open timesheets goes back to waiting, to be
    imported for whoever they are linked to next; time on approved timesheets stays (recall those first).
    Returns (entries moved back, entries kept)."""
    connection, link = _person(session, actor, connection_id, person_link_id)
    if link.resource_id is None:
        raise Conflict("That person is not linked to anyone.")
    resource = session.get(Resource, link.resource_id)
    projects = {offering_id: (link_id, external_id) for link_id, offering_id, external_id in session.execute(
        select(ProjectLink.id, ProjectLink.offering_id, ProjectLink.external_id)
        .where(ProjectLink.connection_id == connection_id))}
    moved = kept = 0
    entries = session.scalars(select(TimeEntry).join(Timesheet, Timesheet.id == TimeEntry.timesheet_id).where(
        TimeEntry.connection_id == connection_id, TimeEntry.resource_id == link.resource_id,
        TimeEntry.offering_id.in_(projects)).with_for_update(of=TimeEntry))
    for entry in entries:
        if synced.is_held(entry.timesheet.status):
            kept += 1
            continue
        project_link_id, external_project_id = projects[entry.offering_id]
        session.add(WaitingTimeEntry(
            connection_id=connection_id, person_link_id=link.id, project_link_id=project_link_id,
            external_id=entry.external_id, external_project_id=external_project_id, work_date=entry.work_date,
            seconds=int(entry.hours * 3600), billable=entry.billable, description=entry.description,
            external_updated_at=entry.external_updated_at))
        synced.delete_entry(session, actor, entry, f"the {tool_label(connection)} person's mapping was cleared")
        moved += 1
    before = audit.snapshot(link, PERSON_FIELDS)
    link.resource_id, link.method = None, LinkMethod.CLEARED
    session.flush()
    audit.record(session, actor, "person_link.cleared", link, before=before, after=audit.snapshot(link, PERSON_FIELDS),
                 summary=f"{tool_label(connection)} user {link.external_email or link.external_id} no longer linked to "
                         f"{resource.name}: {plural(moved, 'entry', 'entries')} back to waiting, {kept} approved kept")
    return moved, kept
