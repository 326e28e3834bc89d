"""Writing Procore time cards into portal time entries (used by webhook deliveries and the catch-up poll).

Two phases, so no HTTP call happens inside a transaction that writes: `prepare` reads the portal and
asks Procore for what it lacks (the current time card, the person's email); `apply` writes, under a
per-card advisory lock on PostgreSQL.

Rules (seed 001 and issue 7):
- the card's Procore project must be linked to an offering; otherwise it is skipped ("only linked
  projects") or waits for a link. With "sub-job projects" on, a card with a sub job goes to a copy of
  the linked project made for that sub job;
- the person becomes a resource and a user when missing (matched by email first);
- the time type becomes a task of the project only when the import matching template names it (an
  existing task of that name is always matched); the cost code becomes a project item when missing;
- the project's own time entry rules apply as to native time (policy.time_entry_refusal: stage, open
  for time, assigned people only, descriptions required);
- it is written like every tool's time (timesheets.conflicts.apply_change): applied while its timesheets
  are open, held for the approver on an approved or recalled one;
- every other field is stored on the entry or in its external details, except the Classification;
- Procore's `updated_at` orders states: an older state never overwrites a newer one, a deleted card
  stays deleted, and a card we sent (origin_data) is not imported back.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import audit, formatting
from portal.auth import policy
from portal.auth import services as auth_services
from portal.auth.models import Role, User
from portal.errors import Conflict, InvalidInput
from portal.integrations.connectors import ExternalMember
from portal.integrations.models import Connection, LinkMethod, PersonLink, ProjectLink
from portal.integrations.procore.connection import SYNC_ACTOR, namespace, prefs
from portal.integrations.procore.connector import ProcoreConnector, project_web_url
from portal.integrations.procore.messages import Refused, Waiting
from portal.integrations.procore.models import SubJobProject
from portal.integrations.procore.records import Timecard
from portal.planning import tasks as planning_tasks
from portal.planning.models import ProjectTask
from portal.projects import resources
from portal.projects import services as project_services
from portal.projects.items import ensure_project_item
from portal.projects.models import Offering, Project, Resource
from portal.runs.models import MessageStatus, SyncMessage
from portal.timesheets import conflicts
from portal.timesheets.entries import assignment_rate
from portal.timesheets.models import EntrySource, TimeEntry
from portal.timesheets.synced import SyncedValues

COPIED_OPTIONS = ["open_for_time", "open_for_time_transfer", "open_for_cost", "open_for_cost_transfer",
                  "time_entry_by", "time_descriptions_required", "cost_entry_by"]


@dataclass
class Result:
    changed: bool
    reason: str
    entry_id: int | None = None


@dataclass
class Incoming:
    external_id: str
    card: Timecard | None  # None: deleted in Procore
    person: ExternalMember | None = None


def _origin_prefix() -> str:
    # Our installation's namespace: another portal connected to the same company sends cards of its own.
    return f"{namespace()}:time_entry:"


def origin_data(entry_id: int) -> str:
    """What a card we create carries in `origin_data`: which portal, and which of its time entries."""
    return f"{_origin_prefix()}{entry_id}"


def find_entry(session: Session, connection_id: int, external_id: str) -> TimeEntry | None:
    return session.scalar(select(TimeEntry).where(TimeEntry.connection_id == connection_id,
                                                  TimeEntry.external_id == external_id))


def _person_link(session: Session, connection_id: int, person_id: str) -> PersonLink | None:
    return session.scalar(select(PersonLink).where(PersonLink.connection_id == connection_id,
                                                   PersonLink.external_id == person_id))


def prepare(session: Session, connection: Connection, connector: ProcoreConnector, external_id: str,
            card: Timecard | None) -> Incoming:
    """What `apply` needs from Procore besides the card: the person, unless we know them already."""
    incoming = Incoming(external_id, card)
    if card is None or card.deleted_at is not None:
        return incoming
    if card.party_id:
        link = _person_link(session, connection.id, card.party_id)
        if link is None or link.resource_id is None:
            incoming.person = connector.get_person(card.party_id, card.login_email or card.party_name)
            if incoming.person is None:
                raise Refused(f"Procore person {card.party_id} ({card.party_name or 'no name'}) is not in the "
                              "company's Directory; the time card cannot be given to anyone.")
    elif card.login_email:
        incoming.person = ExternalMember(id=f"login:{card.login_email.lower()}", name=card.login_name,
                                         email=card.login_email.lower())
    else:
        raise Refused(f"Procore time card {card.id} names no person.")
    session.commit()  # end the read transaction before the writes (and any lock) begin
    return incoming


def _lock(session: Session, connection_id: int, external_id: str) -> None:
    """Serialize applies of one card across workers (PostgreSQL); SQLite serializes all writers anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                        {"key": f"procore:{connection_id}:{external_id}"})


def _deleted_before(session: Session, connection_id: int, external_id: str) -> bool:
    """Procore never brings a deleted card back, so a recorded delete outranks any older state in flight."""
    return session.scalar(select(func.count()).select_from(SyncMessage).where(
        SyncMessage.connection_id == connection_id, SyncMessage.direction == "inbound",
        SyncMessage.external_id == external_id, SyncMessage.action == "delete",
        SyncMessage.status == MessageStatus.PROCESSED)) > 0


def apply(session: Session, connection: Connection, incoming: Incoming) -> Result:
    """Bring the portal in line with the card; raises Waiting or Refused. Flushes, does not commit."""
    _lock(session, connection.id, incoming.external_id)
    card = incoming.card
    existing = find_entry(session, connection.id, incoming.external_id)
    if card is None or card.deleted_at is not None:
        return _delete(session, connection, existing, "Deleted in Procore")
    if existing is not None and existing.external_updated_at and card.updated_at \
            and card.updated_at < existing.external_updated_at:
        return Result(False, "An older state than the portal's copy; ignored.", existing.id)
    if _deleted_before(session, connection.id, card.id):
        return Result(False, "Deleted in Procore since; this older state is ignored.")
    if existing is None and card.origin_data.startswith(_origin_prefix()):
        return _own_card(session, card)
    if existing is not None and existing.source == EntrySource.NATIVE:
        if card.updated_at and existing.external_updated_at and card.updated_at <= existing.external_updated_at:
            return Result(False, "Our own change, sent from the portal; nothing to import.", existing.id)
        return _write(session, connection, existing, existing.offering, card, incoming.person)
    offering = _target(session, connection, card, existing)
    if isinstance(offering, Result):
        return offering
    return _write(session, connection, existing, offering, card, incoming.person)


def _own_card(session: Session, card: Timecard) -> Result:
    entry_id = card.origin_data.removeprefix(_origin_prefix())
    entry = session.get(TimeEntry, int(entry_id)) if entry_id.isdigit() else None
    if entry is None:
        return Result(False, f"Sent from portal time entry {entry_id}, since deleted there; the delete is on its way.")
    return Result(False, f"Sent from portal time entry {entry.id}; not imported again.", entry.id)


def _target(session: Session, connection: Connection, card: Timecard, existing: TimeEntry | None) -> Offering | Result:
    settings = prefs(connection)
    link = session.scalar(select(ProjectLink).where(ProjectLink.connection_id == connection.id,
                                                    ProjectLink.external_id == (card.project_id or "")))
    if link is None:
        if existing is not None:
            return _delete(session, connection, existing,
                           f"Moved to Procore project {card.project_name}, which is not linked")
        if settings["only_linked"]:
            return Result(False, f"Skipped: Procore project “{card.project_name}” is not linked to an offering "
                                 "(only linked projects are synced).")
        raise Waiting(f"Procore project “{card.project_name}” ({card.project_id}) is not linked to an offering; "
                      "link it under Admin → Integrations → Procore and this time card is imported.",
                      project=card.project_id)
    if card.sub_job_id and settings["sub_job_projects"]:
        return _sub_job_offering(session, connection, link, card)
    return link.offering


def _sub_job_project(session: Session, connection: Connection, sub_job_id: str) -> SubJobProject | None:
    """The project made for this sub job of the company, by any connection to it (a reconnect finds it)."""
    return session.scalar(select(SubJobProject).where(SubJobProject.company_id == connection.account_id,
                                                      SubJobProject.sub_job_id == sub_job_id))


def _sub_job_offering(session: Session, connection: Connection, link: ProjectLink, card: Timecard) -> Offering:
    """The offering of the portal project made for this sub job: a copy of the linked project with a copy
    of the linked offering and its team. Budgets are not copied, so no hour or fee is counted twice."""
    made = _sub_job_project(session, connection, card.sub_job_id)
    if made is not None:
        return made.offering
    source: Offering = link.offering
    original: Project = source.project
    sub_job = card.sub_job_name or f"sub job {card.sub_job_id}"
    try:
        with session.begin_nested():
            project = project_services.create_project(
                session, SYNC_ACTOR, name=f"{original.name} – {sub_job}"[:200],
                client_id=original.client_id, stage_id=original.stage_id, pm_id=original.pm_id,
                start_date=original.start_date, end_date=original.end_date,
                description=f"Made for Procore sub job {card.sub_job_name} of {original.name}.",
                percent_likelihood=original.percent_likelihood,
                default_cost_category_id=original.default_cost_category_id)
            project.is_active = original.is_active
            for option in COPIED_OPTIONS:  # the time and cost entry rules the original follows
                setattr(project, option, getattr(original, option))
            project_services.set_pm_team(session, SYNC_ACTOR, project.id, original.pm_id,
                                         [m.user_id for m in original.team])
            offering = project_services.create_offering(
                session, SYNC_ACTOR, project.id, name=source.name, billing_model=source.billing_model,
                start_date=source.start_date, end_date=source.end_date, sale_status=source.sale_status)
            for assignment in source.assignments:
                if assignment.resource.active:
                    project_services.add_assignment(session, SYNC_ACTOR, offering.id, assignment.resource_id,
                                                    bill_rate=assignment.bill_rate, role=assignment.role,
                                                    passive=assignment.passive)
            session.add(SubJobProject(company_id=connection.account_id, external_project_id=card.project_id or "",
                                      sub_job_id=card.sub_job_id, sub_job_name=card.sub_job_name,
                                      project_id=project.id, offering_id=offering.id))
            session.flush()
    except IntegrityError:  # another worker made it first
        return _sub_job_project(session, connection, card.sub_job_id).offering
    audit.record(session, SYNC_ACTOR, "procore.sub_job_project_created", project,
                 after={"sub_job": card.sub_job_name, "copied_from": original.id,
                        **{option: getattr(project, option) for option in COPIED_OPTIONS}},
                 summary=f"Project {project.name} made for Procore sub job {card.sub_job_name}")
    return offering


def ensure_person(session: Session, connection: Connection, card: Timecard, person: ExternalMember | None) -> Resource:
    """The resource for the card's person: linked before, matched by email, or created with a user."""
    if person is None:
        link = _person_link(session, connection.id, card.party_id or "")
        return link.resource
    if not person.email:
        raise Refused(f"{person.name or 'Procore person ' + person.id} has no email address in Procore's Directory, "
                      "so they cannot be matched to or created as a portal user; add their email in Procore.")
    resource = session.scalar(select(Resource).where(func.lower(Resource.email) == person.email))
    user = session.scalar(select(User).where(func.lower(User.email) == person.email))
    try:
        with session.begin_nested():
            if user is None:
                user = auth_services.create_user(session, SYNC_ACTOR, email=person.email,
                                                 name=person.name or person.email, role=Role.STAFF,
                                                 password=secrets.token_urlsafe(24))
            login_taken = session.scalar(select(Resource.id).where(Resource.user_id == user.id)) is not None
            if resource is None:
                resource = resources.create_resource(session, SYNC_ACTOR, name=person.name or person.email,
                                                     email=person.email, user_id=None if login_taken else user.id)
            elif resource.user_id is None and not login_taken:
                resource.user_id = user.id
                audit.record(session, SYNC_ACTOR, "resource.user_linked", resource, after={"user": user.email},
                             summary=f"{resource.name} linked to the login {user.email}")
            link = _person_link(session, connection.id, person.id)
            if link is None:
                session.add(PersonLink(connection_id=connection.id, external_id=person.id, resource_id=resource.id,
                                       external_email=person.email, external_name=person.name,
                                       method=LinkMethod.AUTO_MAPPED))
            else:
                link.resource_id, link.external_email, link.external_name = resource.id, person.email, person.name
            session.flush()
    except (IntegrityError, Conflict, InvalidInput) as error:  # a concurrent import created them: use theirs
        resource = session.scalar(select(Resource).where(func.lower(Resource.email) == person.email))
        if resource is None:
            raise Refused(f"{person.name} could not be created as a portal user: "
                          f"{getattr(error, 'message', 'a conflicting record exists')}") from None
    return resource


def _find_task(session: Session, project_id: int, name: str) -> ProjectTask | None:
    return session.scalar(select(ProjectTask).where(ProjectTask.project_id == project_id,
                                                    func.lower(ProjectTask.name) == name.strip().lower()))


def _task(session: Session, connection: Connection, card: Timecard, project_id: int) -> ProjectTask | None:
    """The project's task named like the card's time type: matched when it exists, created only when the
    import matching template names the time type."""
    if not card.time_type:
        return None
    found = _find_task(session, project_id, card.time_type)
    template = {" ".join(name.split()).lower() for name in prefs(connection)["task_time_types"]}
    if found is not None or " ".join(card.time_type.split()).lower() not in template:
        return found
    try:
        with session.begin_nested():
            return planning_tasks.save_task(session, SYNC_ACTOR, project_id, name=card.time_type)
    except (Conflict, IntegrityError):  # another worker created it
        return _find_task(session, project_id, card.time_type)


def _details(card: Timecard) -> dict[str, Any]:
    """Every field of the card the entry has no column for, except the Classification."""
    raw = card.raw
    keep = ("approval_status", "in_progress", "line_item_type_id", "origin_id", "origin_data", "custom_fields")
    details: dict[str, Any] = {key: raw.get(key) for key in keep if raw.get(key) not in (None, "", {})}
    details.update({
        "procore_project_id": card.project_id, "procore_project": card.project_name, "party_id": card.party_id,
        "time_type": card.time_type or None, "time_type_code": card.time_type_code or None,
        "cost_code": card.cost_code or None, "cost_code_name": card.cost_code_name or None,
        "sub_job_id": card.sub_job_id, "sub_job": card.sub_job_name or None,
    })
    for ref in ("timesheet", "crew", "location", "created_by"):
        if isinstance(raw.get(ref), dict):
            details[ref] = raw[ref].get("name") or raw[ref].get("login") or raw[ref].get("id")
    return {k: v for k, v in details.items() if v is not None}


def _hours(card: Timecard) -> Decimal | None:
    if card.hours is None or card.hours <= 0:
        return None
    if card.hours > 24:
        raise Refused(f"{formatting.hours(card.hours)} h on {card.work_date:%d %b %Y}: a time entry has at most 24.")
    return card.hours.quantize(Decimal("0.0001"))


def _write(session: Session, connection: Connection, existing: TimeEntry | None, offering: Offering,
           card: Timecard, person: ExternalMember | None) -> Result:
    hours = _hours(card)
    if hours is None:
        if card.in_progress and existing is None:
            return Result(False, "Still clocked in; imported once clocked out.")
        return _delete(session, connection, existing, "No hours in Procore any more") if existing else \
            Result(False, "No hours recorded; nothing to import.")
    if card.cost_code_id and not card.cost_code:
        raise Refused(f"Procore time card {card.id} names cost code {card.cost_code_id}, which Procore no longer "
                      "knows (deleted?); choose a cost code on the time card in Procore.")
    native = existing is not None and existing.source == EntrySource.NATIVE
    resource = existing.resource if native else ensure_person(session, connection, card, person)
    refusal = policy.time_entry_refusal(offering.project, offering, resource.id, description=card.description)
    if refusal:
        raise Refused(refusal)
    task = _task(session, connection, card, offering.project_id)
    item = ensure_project_item(session, SYNC_ACTOR, offering.project_id, card.cost_code, card.cost_code_name) \
        if card.cost_code else None
    values = SyncedValues(
        resource_id=resource.id, offering_id=offering.id, project_id=offering.project_id, work_date=card.work_date,
        hours=hours, billable=card.billable, description=card.description, external_updated_at=card.updated_at,
        external_url="" if native else project_web_url(current_app.config["PROCORE_API_BASE_URL"],
                                                       card.project_id or ""),
        extra={"task_id": task.id if task else None, "project_item_id": item.id if item else None,
               "started_at": card.time_in, "ended_at": card.time_out, "break_minutes": card.lunch_minutes,
               "external_details": _details(card)})
    if existing is not None:
        existing.external_details = values.extra["external_details"]  # Procore's own details: never held
    # Valued like native time: at the person's assignment rate when the entry is first recorded (frozen).
    applied = conflicts.apply_change(session, SYNC_ACTOR, connection_id=connection.id, source=EntrySource.PROCORE,
                                     external_id=card.id, entry=existing, values=values,
                                     bill_rate=assignment_rate(offering, resource.id))
    if applied.changed and not native:
        _assign(session, offering.id, resource)
    summary = (f"{formatting.hours(hours)} h for {resource.name} on {offering.project.name} / {offering.name} "
               f"({card.work_date:%d %b %Y})")
    return _result(applied, summary)


def _result(applied: conflicts.Applied, summary: str) -> Result:
    said = {"created": f"Created: {summary}.", "updated": f"Updated: {summary}.",
            "unchanged": f"Already up to date: {summary}."}.get(applied.outcome, applied.text)
    return Result(applied.changed, said, applied.entry_id)


def _assign(session: Session, offering_id: int, resource: Resource) -> None:
    """Seed 002's rule, shared by every tool: someone logging time on an offering is on its team."""
    if resource.active:
        project_services.ensure_passive_assignment(session, SYNC_ACTOR, offering_id, resource.id)


def _delete(session: Session, connection: Connection, entry: TimeEntry | None, why: str) -> Result:
    if entry is None:
        return Result(False, f"{why}; the portal has no copy.")
    summary = f"{formatting.hours(entry.hours)} h for {entry.resource.name} on {entry.work_date:%d %b %Y}"
    applied = conflicts.apply_change(session, SYNC_ACTOR, connection_id=connection.id, source=EntrySource.PROCORE,
                                     external_id=entry.external_id, entry=entry, values=None, why=why)
    return _result(applied, summary) if applied.outcome != "deleted" else \
        Result(True, f"{why}: removed {summary}.", applied.entry_id)
