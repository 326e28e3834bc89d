"""Portal → Procore: native time entries on linked projects become Procore time cards.

A change of an entry (events.time_entry_changed) adds an outbound message in the same transaction
(the outbox); a worker sends it after commit. The worker sends the entry's *current* state, so a
message that waits behind another loses nothing, and the changes of one entry are sent in order: a
message waits while an earlier one of the same entry is pending. Changes made by the Procore sync
itself are never queued, and each card we create carries `origin_data`, so two-way replication never
echoes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import events, formatting
from portal.integrations.http import ExternalNotFound
from portal.integrations.models import Connection, LinkMethod, PersonLink, ProjectLink
from portal.integrations.procore import messages
from portal.integrations.procore.connection import SYNC_ACTOR, connected, prefs
from portal.integrations.procore.connector import ProcoreConnector
from portal.integrations.procore.messages import Refused
from portal.integrations.procore.models import SubJobProject
from portal.integrations.procore.records import Timecard
from portal.integrations.procore.replica import origin_data
from portal.integrations.registry import connector_for
from portal.projects.models import Resource
from portal.runs.models import MessageStatus, SyncMessage
from portal.timesheets.models import EntrySource, TimeEntry


def target(session: Session, connection: Connection, offering_id: int | None) -> tuple[str, str | None] | None:
    """(Procore project id, sub job id) an offering's time goes to, or None when it is not linked."""
    link = session.scalar(select(ProjectLink).where(ProjectLink.connection_id == connection.id,
                                                    ProjectLink.offering_id == offering_id))
    if link is not None:
        return link.external_id, None
    made = session.scalar(select(SubJobProject).where(SubJobProject.company_id == connection.account_id,
                                                      SubJobProject.offering_id == offering_id))
    return (made.external_project_id, made.sub_job_id) if made is not None else None


def _pending(session: Session, connection_id: int, entry_id: int) -> list[SyncMessage]:
    return list(session.scalars(select(SyncMessage).where(
        SyncMessage.connection_id == connection_id, SyncMessage.direction == "outbound",
        SyncMessage.local_id == entry_id, SyncMessage.status == MessageStatus.PENDING).order_by(SyncMessage.id)))


@events.time_entry_changed.connect
def _queue_change(entry: TimeEntry, session: Session, actor: Any, changes: dict, **_: Any) -> None:
    if actor == SYNC_ACTOR or entry.source != EntrySource.NATIVE:
        return  # what came from Procore is not sent back
    connection = connected(session)
    if connection is None or not prefs(connection)["send"]:
        return
    queue_change(session, connection, entry, deleted=changes.get("deleted") == [False, True])


def queue_change(session: Session, connection: Connection, entry: TimeEntry, *, deleted: bool) -> SyncMessage | None:
    """Add the outbox message for a change of `entry` (inside the change's transaction)."""
    pending = _pending(session, connection.id, entry.id)
    unclaimed = [m for m in pending if m.claimed_at is None and m.action != "delete"]
    sent = entry.external_id is not None and entry.connection_id == connection.id
    if deleted:
        if not sent and unclaimed and len(unclaimed) == len(pending):
            for message in unclaimed:  # it never reached Procore: nothing to undo there
                messages.processed(message, "Deleted in the portal before it was sent; nothing to send.")
            return None
        if not sent and not pending:
            return None
    else:
        if unclaimed:
            return None  # the waiting message sends the entry's state as it is when it runs
        if not sent and target(session, connection, entry.offering_id) is None:
            return None
    message = SyncMessage(connection_id=connection.id, direction="outbound", entity="time_entry", local_id=entry.id,
                          external_id=entry.external_id if sent else None,
                          action="delete" if deleted else ("update" if sent else "create"),
                          payload={"summary": f"{formatting.hours(entry.hours)} h for {entry.resource.name} "
                                              f"on {entry.work_date:%d %b %Y}"},
                          status=MessageStatus.PENDING, reason="Waiting to be sent to Procore.")
    session.add(message)
    session.flush()
    messages.enqueue(session, message)
    return message


def process_outbound(session: Session, message_id: int) -> None:
    message = messages.claim(session, message_id)
    if message is None:
        return
    connection = session.get(Connection, message.connection_id)
    earlier = next((m for m in _pending(session, connection.id, message.local_id) if m.id < message.id), None)
    if earlier is not None:
        messages.wait(message, f"Waiting for an earlier change of this time entry (message {earlier.id}) to be sent.",
                      after_message=earlier.id)
    elif not connection.is_connected:
        messages.wait(message, "Procore is not connected; sent once the connection works again.", reconnect=True)
    elif not prefs(connection)["send"]:
        messages.processed(message, "Sending to Procore is off; not sent.")
    else:
        connector = connector_for(connection)
        try:
            reason = _send(session, connection, connector, message)
            message = session.get(SyncMessage, message_id)
            messages.processed(message, reason)
        except messages.OUTCOMES as error:
            session.rollback()
            messages.settle(session, connection, session.get(SyncMessage, message_id), error)
        finally:
            connector.close()
    session.commit()
    if earlier is None:
        _next(session, connection.id, message.local_id)


def _next(session: Session, connection_id: int, entry_id: int) -> None:
    """Hand over to the next change of the same entry once this one is settled."""
    for message in _pending(session, connection_id, entry_id):
        if message.claimed_at is None and message.next_attempt_at is None:
            messages.enqueue(session, message)
        break
    session.commit()


def _sent_id(session: Session, connection_id: int, entry_id: int) -> str | None:
    """The Procore id an earlier message of this entry produced (the entry itself may be gone)."""
    return session.scalar(select(SyncMessage.external_id).where(
        SyncMessage.connection_id == connection_id, SyncMessage.direction == "outbound",
        SyncMessage.local_id == entry_id, SyncMessage.external_id.is_not(None))
        .order_by(SyncMessage.id.desc()).limit(1))


def _send(session: Session, connection: Connection, connector: ProcoreConnector, message: SyncMessage) -> str:
    entry = session.get(TimeEntry, message.local_id)
    if entry is None or message.action == "delete":
        external_id = message.external_id or _sent_id(session, connection.id, message.local_id)
        session.commit()
        if external_id is None:
            return "Deleted in the portal before it reached Procore; nothing to delete there."
        gone = connector.delete_timecard(external_id)
        return f"Deleted Procore time card {external_id}." if gone else \
            f"Procore time card {external_id} was already deleted."
    place = target(session, connection, entry.offering_id)
    sent = entry.external_id if entry.connection_id == connection.id else None
    if place is None:
        if sent is None:
            return "Its offering is no longer linked to a Procore project; not sent."
        place = ((entry.external_details or {}).get("procore_project_id"), None)
    fields = _fields(session, connection, connector, entry, place)
    session.commit()
    card = _write_card(connection, connector, message, entry, sent, place[0], fields)
    entry = session.get(TimeEntry, message.local_id)
    message = session.get(SyncMessage, message.id)
    message.external_id = card.id
    if entry is None:  # deleted while the card was being written: the delete message removes it
        return f"Sent as Procore time card {card.id} (the entry has since been deleted in the portal)."
    entry.connection_id, entry.external_id, entry.external_updated_at = connection.id, card.id, card.updated_at
    entry.external_url = connector.project_url(place[0])
    entry.external_details = {**(entry.external_details or {}), "procore_project_id": place[0]}
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Refused(f"Procore time card {card.id} is already in the portal as another entry.") from None
    verb = "Updated" if sent else "Created"
    return f"{verb} Procore time card {card.id}: {formatting.hours(entry.hours)} h on {entry.work_date:%d %b %Y}."


def _write_card(connection: Connection, connector: ProcoreConnector, message: SyncMessage, entry: TimeEntry,
                sent: str | None, project_id: str, fields: dict[str, Any]) -> Timecard:
    if sent is not None:
        try:
            return connector.update_timecard(sent, project_id, fields)
        except ExternalNotFound:
            if prefs(connection)["receive"]:  # two-way: Procore's delete wins and reaches the portal
                raise Refused(f"Procore time card {sent} was deleted in Procore; the portal entry follows "
                              "Procore's delete when it arrives.") from None
    elif message.attempts > 1:  # an earlier attempt may have created it before its answer was lost
        found = connector.find_timecard_by_origin(entry.work_date, str(fields["party_id"]), fields["origin_data"])
        if found is not None:
            return found
    return connector.create_timecard(project_id, fields)


def _fields(session: Session, connection: Connection, connector: ProcoreConnector, entry: TimeEntry,
            place: tuple[str, str | None]) -> dict[str, Any]:
    """The card's fields; asks Procore for ids first, and writes (a person link) only after the last call."""
    project_id, sub_job_id = place
    fields: dict[str, Any] = {
        "date": entry.work_date.isoformat(), "hours": format(entry.hours.normalize(), "f"),
        "description": entry.description, "billable": entry.billable,
        "origin_id": entry.id, "origin_data": origin_data(entry.id),
        "sub_job_id": int(sub_job_id) if sub_job_id else None,
    }
    if entry.started_at and entry.ended_at:
        fields.update(time_in=entry.started_at.isoformat(), time_out=entry.ended_at.isoformat(),
                      lunch_time=entry.break_minutes or 0)
    if entry.project_item is not None:
        codes = {c["code"].lower(): c for c in connector.cost_codes(project_id)}
        found = codes.get(entry.project_item.code.lower())
        if found is None:
            raise Refused(f"Cost code {entry.project_item.label} does not exist in the Procore project; add it "
                          "there (or change the entry's project item), then Retry.")
        fields["cost_code_id"] = int(found["id"])
    if entry.task is not None:
        types = connection.settings.get("time_types") or connector.time_types()
        found = next((t for t in types if t["name"].lower() == entry.task.name.lower()), None)
        if found is None:
            raise Refused(f"Procore has no time type called “{entry.task.name}”; add it in Procore's Timesheets "
                          "settings (or change the entry's task), then Retry.")
        fields["timecard_time_type_id"] = int(found["id"])
    fields["party_id"] = int(_party(session, connection, connector, entry.resource))
    return fields


def _party(session: Session, connection: Connection, connector: ProcoreConnector, resource: Resource) -> str:
    """The resource's person in Procore's Directory: linked before, or found by email (then linked)."""
    link = session.scalar(select(PersonLink).where(PersonLink.connection_id == connection.id,
                                                   PersonLink.resource_id == resource.id,
                                                   ~PersonLink.external_id.startswith("login:")))
    if link is not None:
        return link.external_id
    person = connector.find_person(resource.email)
    if person is None:
        raise Refused(f"{resource.name} ({resource.email}) is not in Procore's Directory for "
                      f"{connection.account_name}; add them there with the same email, then Retry.")
    session.commit()  # end the read begun before asking Procore: on SQLite an older snapshot cannot write
    other = session.scalar(select(PersonLink).where(PersonLink.connection_id == connection.id,
                                                    PersonLink.external_id == person.id))
    if other is not None and other.resource_id not in (None, resource.id):
        raise Refused(f"Procore person {person.name} is already matched to another portal resource; "
                      f"{resource.name} shares their email ({resource.email}).")
    if other is None:
        session.add(PersonLink(connection_id=connection.id, external_id=person.id, resource_id=resource.id,
                               external_email=person.email, external_name=person.name, method=LinkMethod.AUTO_MAPPED))
    else:
        other.resource_id = resource.id
    session.flush()
    return person.id
