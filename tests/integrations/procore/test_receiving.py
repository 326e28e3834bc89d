"""Procore → portal: each receiving rule, over real webhook deliveries from the sandbox."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from portal.auth.models import User
from portal.integrations.models import PersonLink
from portal.integrations.procore import catch_up, connection, replica
from portal.integrations.procore.models import SubJobProject
from portal.integrations.procore.records import Timecard
from portal.planning.models import ProjectTask
from portal.projects.items import ProjectItem
from portal.projects.models import Assignment, Project, Resource
from portal.runs.models import SyncMessage
from portal.timesheets.models import TimeEntry
from tests.factories import AssignmentFactory, OfferingFactory, ResourceFactory, stage
from tests.integrations.procore.conftest import (
    COST_CODES,
    HARBOUR,
    PEOPLE,
    RIVERSIDE,
    SUB_JOBS,
    TIME_TYPES,
    connect,
    hook_path,
    pump_when_due,
)


def _entries(session) -> list[TimeEntry]:
    return list(session.scalars(select(TimeEntry).order_by(TimeEntry.id)))


def _messages(session, **where) -> list[SyncMessage]:
    query = select(SyncMessage).order_by(SyncMessage.id)
    for key, value in where.items():
        query = query.where(getattr(SyncMessage, key) == value)
    return list(session.scalars(query))


def _deliver(sandbox, run_jobs) -> None:
    attempts = sandbox.deliver()
    assert attempts and all(a["response_status"] == 200 for a in attempts), attempts
    run_jobs()


def test_a_delivery_is_acknowledged_at_once_and_a_worker_imports_the_card(session, sandbox, linked, run_jobs):
    card = sandbox.card(hours="7.5", description="Framing level 2")
    attempts = sandbox.deliver()
    assert [a["response_status"] for a in attempts] == [200, 200]  # at least once: the sandbox sends it twice
    (message,) = _messages(session)  # and it is recorded once
    assert message.status == "pending" and message.external_id == str(card["id"])
    assert _entries(session) == []

    run_jobs()
    (entry,) = _entries(session)
    assert (entry.source, entry.external_id, entry.hours, entry.description) == (
        "procore", str(card["id"]), Decimal("7.5"), "Framing level 2")
    assert entry.offering_id == linked.id and entry.work_date == date(2026, 3, 3)
    assert entry.timesheet is not None and entry.external_url.endswith(f"/{card['project_id']}/project/home")
    session.refresh(message)
    assert message.status == "processed" and message.reason.startswith("Created: 7.50 h for Dana Developer")


def test_a_missing_person_becomes_a_resource_and_a_user_on_the_team(session, sandbox, linked, run_jobs):
    sandbox.card(person="morgan")
    _deliver(sandbox, run_jobs)
    resource = session.scalar(select(Resource).where(Resource.email == "morgan.foreman@demo-builders.test"))
    assert resource is not None and resource.name == "Morgan Foreman"
    assert resource.user is not None and resource.user.role == "staff"
    assert session.scalar(select(Assignment).where(Assignment.resource_id == resource.id)).passive
    link = session.scalar(select(PersonLink).where(PersonLink.external_id == str(PEOPLE["morgan"])))
    assert link.resource_id == resource.id

    sandbox.card(person="morgan", day=date(2026, 3, 4))
    _deliver(sandbox, run_jobs)
    assert session.scalar(select(func.count()).select_from(Resource)) == 1
    assert {e.resource_id for e in _entries(session)} == {resource.id}


def test_an_existing_resource_is_matched_by_email_and_given_a_login(session, sandbox, linked, run_jobs):
    dana = ResourceFactory(email="Dana@Demo.test", name="Dana D.")
    session.commit()
    sandbox.card(person="dana")
    _deliver(sandbox, run_jobs)
    (entry,) = _entries(session)
    assert entry.resource_id == dana.id
    session.refresh(dana)
    assert dana.user is not None and dana.user.email == "dana@demo.test"
    assert session.scalar(select(func.count()).select_from(Resource)) == 1


def test_a_task_is_created_only_when_the_time_type_matches_the_template(session, sandbox, linked, run_jobs):
    existing = ProjectTask(project_id=linked.project_id, name="Travel")
    session.add(existing)
    session.commit()
    sandbox.card(timecard_time_type_id=TIME_TYPES["regular"], day=date(2026, 3, 2))
    sandbox.card(timecard_time_type_id=TIME_TYPES["overtime"], day=date(2026, 3, 3))
    sandbox.card(timecard_time_type_id=TIME_TYPES["travel"], day=date(2026, 3, 4))
    _deliver(sandbox, run_jobs)
    regular, overtime, travel = sorted(_entries(session), key=lambda e: e.work_date)  # delivered out of order
    assert regular.task.name == "Regular Time" and regular.task.project_id == linked.project_id
    assert overtime.task is None and overtime.external_details["time_type"] == "Overtime"
    assert travel.task_id == existing.id  # an existing task is matched whatever the template says
    assert {t.name for t in session.scalars(select(ProjectTask))} == {"Regular Time", "Travel"}


def test_a_cost_code_becomes_a_project_item_once(session, sandbox, linked, run_jobs):
    sandbox.card(cost_code_id=COST_CODES["06-200"], day=date(2026, 3, 2))
    sandbox.card(cost_code_id=COST_CODES["06-200"], day=date(2026, 3, 3), person="sky")
    _deliver(sandbox, run_jobs)
    (item,) = session.scalars(select(ProjectItem))
    assert (item.project_id, item.code, item.name) == (linked.project_id, "06-200", "Finish Carpentry")
    assert {e.project_item_id for e in _entries(session)} == {item.id}


def test_every_field_is_stored_or_matched(session, sandbox, linked, run_jobs):
    sandbox.card(hours=None, time_in="2026-03-03T07:00:00Z", time_out="2026-03-03T16:00:00Z", lunch_time=30,
                 billable=True, description="Pour", timecard_time_type_id=TIME_TYPES["regular"],
                 cost_code_id=COST_CODES["01-100"], sub_job_id=SUB_JOBS["level2"])
    _deliver(sandbox, run_jobs)
    (entry,) = _entries(session)
    assert entry.hours == Decimal("8.5") and entry.break_minutes == 30 and entry.billable
    assert entry.started_at.hour == 7 and entry.ended_at.hour == 16
    details = entry.external_details
    assert details["approval_status"] == "pending" and details["sub_job"] == "Level 2 Fit-out"
    assert details["cost_code"] == "01-100" and details["time_type"] == "Regular Time"
    assert details["created_by"] == "Alex Admin" and "classification" not in str(details).lower()


def test_unlinked_projects_are_skipped_or_wait_for_a_link(session, sandbox, linked, run_jobs):
    sandbox.card(project=HARBOUR)
    _deliver(sandbox, run_jobs)
    (skipped,) = _messages(session)
    assert skipped.status == "processed" and "is not linked" in skipped.reason and _entries(session) == []

    connection.update_preferences(session, "test", only_linked=False)
    session.commit()
    card = sandbox.card(project=HARBOUR, day=date(2026, 3, 4))
    _deliver(sandbox, run_jobs)
    waiting = _messages(session)[-1]
    assert waiting.status == "pending" and "Harbour Bridge Repairs" in waiting.reason
    assert _entries(session) == []

    harbour = OfferingFactory(name="Bridge works")
    connection.link_project(session, "test", str(HARBOUR), harbour.id)
    catch_up.requeue_for_project(session, waiting.connection_id, str(HARBOUR))
    session.commit()
    run_jobs()
    (entry,) = _entries(session)
    assert entry.offering_id == harbour.id and entry.external_id == str(card["id"])
    session.refresh(waiting)
    assert waiting.status == "processed"


def test_sub_jobs_get_their_own_project_copied_from_the_linked_one(session, sandbox, linked, run_jobs):
    AssignmentFactory(offering=linked, bill_rate=Decimal("95"))
    linked.project.time_descriptions_required = True
    connection.update_preferences(session, "test", sub_job_projects=True)
    session.commit()
    sandbox.card(sub_job_id=SUB_JOBS["level2"], day=date(2026, 3, 2), description="Partitions")
    sandbox.card(sub_job_id=SUB_JOBS["level2"], day=date(2026, 3, 3), person="sky", description="Ceilings")
    sandbox.card(day=date(2026, 3, 4), description="Site visit")
    _deliver(sandbox, run_jobs)
    (made,) = session.scalars(select(SubJobProject))
    copy_project = session.get(Project, made.project_id)
    original = linked.project
    assert copy_project.name == f"{original.name} – Level 2 Fit-out"
    assert (copy_project.client_id, copy_project.stage_id, copy_project.is_active) == (
        original.client_id, original.stage_id, original.is_active)
    assert copy_project.time_descriptions_required
    assert made.offering.name == linked.name and made.offering.sold_hours == 0
    assert Decimal("95") in {a.bill_rate for a in made.offering.assignments}
    first, second, plain = sorted(_entries(session), key=lambda e: e.work_date)
    assert first.offering_id == second.offering_id == made.offering_id
    assert plain.offering_id == linked.id


def test_time_for_a_closed_project_is_refused_with_the_reason_and_can_be_retried(session, sandbox, linked, run_jobs):
    project = linked.project
    project.stage = stage("Closed")
    session.commit()
    sandbox.card()
    _deliver(sandbox, run_jobs)
    (message,) = _messages(session)
    assert message.status == "failed" and "is closed" in message.reason and _entries(session) == []

    project.stage = stage("In Progress")
    connection_id = message.connection_id
    from portal.integrations.procore import messages

    messages.retry(session, "test", message.id, connection_id)
    session.commit()
    run_jobs()
    session.refresh(message)
    assert message.status == "processed" and len(_entries(session)) == 1


def test_a_repeated_delivery_is_recorded_once(session, sandbox, linked, run_jobs, client):
    sandbox.card()
    first, duplicate = sandbox.deliver()  # Procore's at-least-once delivery, as the sandbox does it
    assert first["event"] == duplicate["event"] and first["id"] != duplicate["id"]
    event = first["event"]
    hook = next(iter(sandbox.state.hooks.values()))
    headers = {"Authorization": hook["destination_headers"]["Authorization"]}
    again = client.post(hook_path(session), json=event, headers=headers, csrf=False)
    assert again.status_code == 200 and again.json["status"] == "Already received."
    run_jobs()
    assert len(_messages(session)) == 1 and len(_entries(session)) == 1


def test_out_of_order_deliveries_converge_on_the_latest_state(session, sandbox, linked, run_jobs, procore):
    card = sandbox.card(hours="4")
    older = Timecard.from_json(sandbox.state.entry_json(card))
    sandbox.state.advance(5)
    sandbox.change(card["id"], hours="6")
    attempts = sandbox.deliver()
    assert [a["event"]["event_type"] for a in attempts] == ["update", "update", "create", "create"]  # newest first
    by_action = {m.action: m.id for m in _messages(session)}
    create, update = by_action["create"], by_action["update"]
    session.commit()  # jobs run inline below; the test's own savepoint must not enclose their work
    from portal.integrations.procore.jobs import receive as procore_receive

    procore_receive(update)  # the update is processed first and reads the latest state
    procore_receive(create)
    (entry,) = _entries(session)
    assert entry.hours == Decimal("6")

    # a worker that read the older state before the update, and writes after it, changes nothing
    incoming = replica.Incoming(older.id, older)
    assert "older state" in replica.apply(session, procore, incoming).reason
    session.rollback()
    session.refresh(entry)
    assert entry.hours == Decimal("6")


def test_a_card_deleted_in_procore_is_deleted_in_the_portal_and_stays_deleted(session, sandbox, linked, run_jobs,
                                                                              procore):
    card = sandbox.card()
    _deliver(sandbox, run_jobs)
    stale = Timecard.from_json(sandbox.state.entry_json(card))
    sandbox.delete(card["id"])
    _deliver(sandbox, run_jobs)
    assert _entries(session) == []
    assert _messages(session)[-1].action == "delete"
    # an update read before the delete, applied after it, does not bring the entry back
    result = replica.apply(session, procore, replica.Incoming(stale.id, stale))
    assert "Deleted in Procore since" in result.reason and _entries(session) == []


def test_a_delivery_with_a_wrong_authorization_header_is_refused(session, sandbox, linked, run_jobs, client):
    card = sandbox.card()
    event = sandbox.deliver()[0]["event"]
    run_jobs()
    answer = client.post(hook_path(session), json={**event, "ulid": "forged"}, csrf=False,
                         headers={"Authorization": "Bearer guessed"})
    assert answer.status_code == 401
    forged = _messages(session)[-1]
    assert forged.status == "failed" and forged.action == "refused" and forged.payload is None
    assert "Authorization header" in forged.reason and forged.reason.startswith("Refused a webhook delivery")
    assert len(_entries(session)) == 1 and _entries(session)[0].external_id == str(card["id"])
    assert client.post(hook_path(session), json=event, csrf=False).status_code == 401


def test_a_person_without_an_email_fails_with_the_reason(session, sandbox, linked, run_jobs):
    sandbox.card(person="riley")
    _deliver(sandbox, run_jobs)
    (message,) = _messages(session)
    assert message.status == "failed" and "Riley Apprentice has no email address" in message.reason
    assert session.scalar(select(func.count()).select_from(User).where(User.name == "Riley Apprentice")) == 0


def test_a_person_missing_from_procore_fails_with_the_reason(session, sandbox, linked, run_jobs):
    sandbox.card(person="morgan")
    del sandbox.state.people[PEOPLE["morgan"]]
    _deliver(sandbox, run_jobs)
    (message,) = _messages(session)
    assert message.status == "failed" and "not in the company's Directory" in message.reason


def test_procore_down_while_processing_defers_and_nothing_is_lost(session, sandbox, linked, run_jobs):
    sandbox.card()
    sandbox.deliver()
    sandbox.fault(503, count=20, retry_after=1, path="/rest/v1.0/companies")
    run_jobs()
    (message,) = _messages(session)
    assert message.status == "pending" and "Procore is unavailable" in message.reason
    assert message.next_attempt_at is not None and _entries(session) == []

    sandbox.state.faults.clear()
    assert pump_when_due(session, run_jobs, message) == [message.id]
    assert message.status == "processed" and len(_entries(session)) == 1


def test_receiving_off_acknowledges_and_ignores(session, sandbox, linked, run_jobs):
    connection.update_preferences(session, "test", receive=False)
    session.commit()
    sandbox.card()
    _deliver(sandbox, run_jobs)
    assert _messages(session) == [] and _entries(session) == []


def test_an_update_is_audited_with_before_and_after(session, sandbox, linked, run_jobs):
    from portal.audit import AuditEvent

    card = sandbox.card(hours="4")
    _deliver(sandbox, run_jobs)
    sandbox.state.advance(5)
    sandbox.change(card["id"], hours="5", description="More")
    _deliver(sandbox, run_jobs)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "time_entry.synced_updated"))
    assert event.actor_label == "Procore sync"
    assert event.before["hours"] == "4" and event.after["hours"] == "5"
    assert copy.deepcopy(event.after)["description"] == "More"


def test_the_projects_own_time_rules_apply_to_procore_time(session, sandbox, linked, run_jobs):
    project = linked.project
    project.time_entry_by, project.time_descriptions_required = "assigned", True
    sky = ResourceFactory(name="Sky Staff", email="staff@demo.test")
    AssignmentFactory(offering=linked, resource=sky, bill_rate=Decimal("140"))
    session.commit()
    sandbox.card(person="dana", description="Framing")  # not on the team
    sandbox.card(person="sky", day=date(2026, 3, 4))  # on the team, no description
    sandbox.card(person="sky", day=date(2026, 3, 5), description="Framing")
    _deliver(sandbox, run_jobs)
    unassigned, undescribed, accepted = sorted(_messages(session), key=lambda m: m.payload["resource_id"])
    assert unassigned.status == "failed" and "Only people assigned to Fit-out works" in unassigned.reason
    assert undescribed.status == "failed" and "need a description" in undescribed.reason
    (entry,) = _entries(session)
    assert accepted.status == "processed" and entry.resource_id == sky.id
    assert entry.bill_rate == Decimal("140")  # valued like native time: the assignment's rate, frozen


def test_a_flood_of_forged_deliveries_is_one_refusal_counting_them(session, sandbox, linked, client):
    for _ in range(5):
        answer = client.post(hook_path(session), json={"resource_name": "Timecard Entries", "resource_id": 1},
                             csrf=False, headers={"Authorization": "Bearer forged"})
        assert answer.status_code == 401
    (refusal,) = _messages(session)
    assert refusal.attempts == 5 and refusal.reason.startswith("Refused 5 webhook deliveries")


def test_a_card_another_portal_sent_is_imported_not_taken_for_ours(session, sandbox, linked, run_jobs):
    sandbox.card(origin_id=1, origin_data="portal-timesheets-0123456789:time_entry:1")
    _deliver(sandbox, run_jobs)
    (entry,) = _entries(session)
    assert entry.source == "procore" and entry.external_details["origin_id"] == 1


def test_an_unknown_cost_code_fails_with_the_reason(session, sandbox, linked, run_jobs):
    card = sandbox.card(cost_code_id=COST_CODES["06-200"])
    del sandbox.state.cost_codes[COST_CODES["06-200"]]  # deleted in Procore after the card was made
    _deliver(sandbox, run_jobs)
    (message,) = _messages(session)
    assert message.status == "failed" and f"names cost code {card['cost_code_id']}" in message.reason
    assert _entries(session) == []


def test_a_sub_job_maps_to_one_project_across_a_disconnect_and_a_reconnect(session, sandbox, linked, run_jobs):
    """Found in the browser: after Disconnect and Connect again, a sub job's card made a second copy of the
    sub-job project ("Northwind data platform – Level 2 Fit-out" twice)."""
    connection.update_preferences(session, "test", sub_job_projects=True)
    session.commit()
    sandbox.card(sub_job_id=SUB_JOBS["level2"], day=date(2026, 3, 2), description="Partitions")
    _deliver(sandbox, run_jobs)
    (made,) = session.scalars(select(SubJobProject))

    connection.start_disconnect(session, "test")
    session.commit()
    run_jobs()
    found = connect(session, run_jobs)
    assert found.is_connected, found.last_error
    connection.update_preferences(session, "test", receive=True, sub_job_projects=True)
    connection.link_project(session, "test", str(RIVERSIDE), linked.id)
    session.commit()
    sandbox.card(sub_job_id=SUB_JOBS["level2"], day=date(2026, 3, 3), description="Ceilings")
    _deliver(sandbox, run_jobs)

    assert [m.id for m in session.scalars(select(SubJobProject))] == [made.id]
    copies = session.scalars(select(Project).where(Project.name.endswith("Level 2 Fit-out")))
    assert [p.id for p in copies] == [made.project_id]
    assert {e.offering_id for e in _entries(session)} == {made.offering_id}
