"""Time sync from Toggl (seed 002 sections 6 and 8): what comes in, how it maps, what it refuses and why,
and that nothing is ever imported twice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.audit import AuditEvent
from portal.integrations import people
from portal.integrations.models import PersonLink, WaitingTimeEntry
from portal.integrations.toggl import sync as time_sync
from portal.integrations.toggl import time_runs
from portal.projects.models import Assignment
from portal.runs.models import SyncMessage
from portal.timesheets.actuals import offering_actuals
from portal.timesheets.models import TimeEntry
from tests.factories import ResourceFactory, stage
from tests.integrations.toggl.time_sync_support import days_ago, link, sync, synced


@pytest.fixture
def linked(session, tool):
    return link(session, tool, tool.offering(people={"ana@example.test": "150"}, name="Platform build"))


def generate(tool, linked, count=6, email="ana@example.test", **spec):
    spec = {"start_date": days_ago(9).isoformat(), "days": 6, "seconds": 5400, **spec}
    return tool.sandbox.entries(count=count, emails=[email], project_ids=[linked.toggl_project_id], **spec)


def messages(session, run_id, **where):
    query = select(SyncMessage).where(SyncMessage.run_id == run_id)
    for key, value in where.items():
        query = query.where(getattr(SyncMessage, key) == value)
    return list(session.scalars(query.order_by(SyncMessage.id)))


def test_org_sync_imports_the_linked_projects_time(session, tool, linked, run_jobs):
    ids = generate(tool, linked, count=12)
    run = sync(session, run_jobs, tool.connection)
    assert run.status == "succeeded", run.error
    entries = synced(session, tool.connection)
    assert set(entries) == {str(i) for i in ids}
    entry = entries[str(ids[0])]
    assert entry.hours == Decimal("1.50") and entry.offering_id == linked.offering.id and entry.source == "toggl"
    assert entry.timesheet is not None and entry.resource.email == "ana@example.test"
    assert entry.bill_rate == Decimal("150") and entry.external_url.startswith(tool.sandbox.url)
    assert run.counts["new"] == 12 and run.status_text.startswith("Finished: 12 new")
    imported = session.scalar(select(AuditEvent).where(AuditEvent.action == "time_sync.imported"))
    assert imported.after == {"run_id": run.id, "new": 12} and imported.actor_label == "Toggl sync"
    # Actual hours, cost and revenue of the offering follow the entries.
    assert offering_actuals(session, [linked.offering.id])[linked.offering.id].hours == Decimal("18.00")


def test_the_same_entry_is_never_imported_twice(session, tool, linked, run_jobs):
    generate(tool, linked, count=5)
    sync(session, run_jobs, tool.connection)
    again = sync(session, run_jobs, tool.connection, "nightly")
    assert again.counts["new"] == 0 and again.counts["unchanged"] == 5
    assert session.scalar(select(func.count()).select_from(TimeEntry)) == 5
    entry = next(iter(synced(session, tool.connection).values()))
    with pytest.raises(IntegrityError), session.begin_nested():  # the unique constraint backs it
        session.add(TimeEntry(resource_id=entry.resource_id, project_id=entry.project_id, work_date=entry.work_date,
                              hours=Decimal("1"), source="toggl", connection_id=entry.connection_id,
                              external_id=entry.external_id))


def test_time_on_projects_no_offering_links_is_ignored_with_the_check_named(session, tool, linked, run_jobs):
    other = tool.sandbox.seed(projects=[{"workspace_id": tool.world.workspace_id, "name": "Internal"}])["projects"][0]
    tool.sandbox.entries(count=3, emails=["ana@example.test"], project_ids=[other["id"]],
                         start_date=days_ago(5).isoformat(), days=2)
    run = sync(session, run_jobs, tool.connection)
    assert synced(session, tool.connection) == {}
    (note,) = messages(session, run.id, action="ignore")
    assert "3 entries on 1 Toggl project that no offering links to were ignored" in note.reason
    assert "Check: is the Project Offering connected to Toggl" in note.reason


def test_unmatched_people_wait_and_their_time_comes_in_once_linked(session, tool, linked, run_jobs, admin):
    tool.sandbox.set_member("dana@example.test", fullname="Dana Scully")
    generate(tool, linked, count=4, email="dana@example.test")
    run = sync(session, run_jobs, tool.connection)
    assert run.counts["unmatched"] == 4 and synced(session, tool.connection) == {}
    (queued,), _ = people.unmatched_page(session, tool.connection)
    assert (queued.link.external_email, queued.waiting) == ("dana@example.test", 4)
    assert queued.offerings == ["Platform build"]
    (note,) = messages(session, run.id, entity="person")
    assert "Check: is the email identical in both systems" in note.reason

    dana = ResourceFactory(name="Dana", email="dana.scully@example.test")
    time_runs.link_person(session, admin, tool.connection.id, queued.link.id, dana.id)
    session.commit()
    run_jobs()
    entries = synced(session, tool.connection)
    assert len(entries) == 4 and {e.resource_id for e in entries.values()} == {dana.id}
    assert session.scalar(select(func.count()).select_from(WaitingTimeEntry)) == 0
    assert people.unmatched_page(session, tool.connection) == ([], None)
    # Not on the offering's team: added as a passive assignment (seed 002).
    assert session.scalar(select(Assignment.passive).where(Assignment.resource_id == dana.id)) is True


def test_fixing_an_email_then_matching_again_imports_the_waiting_time(session, tool, linked, run_jobs, admin):
    tool.sandbox.set_member("eve@example.test")
    generate(tool, linked, count=2, email="eve@example.test")
    sync(session, run_jobs, tool.connection)
    eve = ResourceFactory(email="eve@elsewhere.test")
    eve.email = "eve@example.test"  # the admin fixed the resource's email
    session.flush()
    time_runs.match_again(session, admin, tool.connection.id)
    session.commit()
    run_jobs()
    assert {e.resource_id for e in synced(session, tool.connection).values()} == {eve.id}
    assert session.scalar(select(PersonLink.method).where(PersonLink.resource_id == eve.id)) == "auto_mapped"


def test_clearing_a_wrong_mapping_puts_open_time_back_in_the_queue(session, tool, linked, run_jobs, admin):
    generate(tool, linked, count=3)
    sync(session, run_jobs, tool.connection)
    ana = session.scalar(select(PersonLink).where(PersonLink.external_email == "ana@example.test"))
    moved, kept = people.clear_person(session, admin, tool.connection.id, ana.id)
    session.commit()
    assert (moved, kept) == (3, 0) and synced(session, tool.connection) == {}
    (queued,), _ = people.unmatched_page(session, tool.connection)
    assert queued.waiting == 3
    # A later sync does not bring the time back to the old resource: it waits for the new link.
    assert sync(session, run_jobs, tool.connection, "nightly").counts["unmatched"] == 3


def test_time_on_a_project_closed_for_time_is_refused_with_the_stage_reason(session, tool, linked, run_jobs, admin):
    (entry_id,) = generate(tool, linked, count=1)
    linked.offering.project.stage = stage("Closed")
    session.commit()
    run = sync(session, run_jobs, tool.connection)
    assert run.counts["refused"] == 1 and synced(session, tool.connection) == {}
    (refused,) = messages(session, run.id, status="failed")
    assert refused.external_id == str(entry_id) and "is closed (Closed)" in refused.reason
    again = sync(session, run_jobs, tool.connection, "nightly")  # one message per entry, across runs
    session.expire_all()
    refused = session.get(SyncMessage, refused.id)
    assert (refused.attempts, refused.run_id) == (2, again.id)

    linked.offering.project.stage = stage("In Progress")  # reopened: Retry applies the stored entry
    time_sync.retry_message(session, admin, refused.id)
    session.commit()
    run_jobs()
    assert set(synced(session, tool.connection)) == {str(entry_id)}
    assert session.get(SyncMessage, refused.id).status == "processed"


def test_projects_taking_time_from_assigned_people_only_refuse_others(session, tool, linked, run_jobs):
    linked.offering.project.time_entry_by = "assigned"
    linked.offering.project.stage.settings = {**linked.offering.project.stage.settings,
                                              "allow_time_entry_settings_changes": True}
    tool.sandbox.set_member("ben@example.test")
    ResourceFactory(email="ben@example.test")
    generate(tool, linked, count=1, email="ben@example.test")
    session.commit()
    run = sync(session, run_jobs, tool.connection)
    assert run.counts["refused"] == 1
    (refused,) = messages(session, run.id, status="failed")
    assert "Only people assigned to Platform build may report time to it" in refused.reason


def test_time_of_an_inactive_resource_off_the_team_is_refused_until_they_are_reactivated(session, tool, linked,
                                                                                          run_jobs):
    """Seed 002 adds someone who logs time off the offering's team as a passive assignment; an inactive
    resource cannot be added, so each of their entries is refused, once each, saying what to do."""
    tool.sandbox.set_member("ben@example.test")
    ben = ResourceFactory(email="ben@example.test", active=False)
    generate(tool, linked, count=3, email="ben@example.test")
    session.commit()
    run = sync(session, run_jobs, tool.connection)
    assert run.counts["refused"] == 3 and synced(session, tool.connection) == {}
    refused = messages(session, run.id, status="failed")
    assert len(refused) == 3 and all(f"{ben.name} is not an active resource" in m.reason for m in refused)
    assert "Reactivate the resource" in refused[0].reason
    assert session.scalar(select(func.count()).select_from(Assignment).where(Assignment.resource_id == ben.id)) == 0
    ben.active = True
    session.commit()
    again = sync(session, run_jobs, tool.connection, "nightly")
    assert again.counts["new"] == 3 and len(synced(session, tool.connection)) == 3
    assert session.scalar(select(Assignment.passive).where(Assignment.resource_id == ben.id)) is True


def test_an_empty_description_is_refused_where_descriptions_are_required(session, tool, linked, run_jobs):
    project = linked.offering.project
    project.time_descriptions_required = True
    project.stage.settings = {**project.stage.settings, "allow_time_entry_settings_changes": True}
    (entry_id,) = generate(tool, linked, count=1)
    tool.sandbox.edit(entry_id, description="", emit=False)
    session.commit()
    run = sync(session, run_jobs, tool.connection)
    assert run.counts["refused"] == 1
    assert "need a description" in messages(session, run.id, status="failed")[0].reason
    tool.sandbox.edit(entry_id, description="Data model review", emit=False)  # the person adds one in Toggl
    assert sync(session, run_jobs, tool.connection, "nightly").counts["new"] == 1


def test_an_entry_longer_than_a_day_fails_naming_the_check(session, tool, linked, run_jobs):
    (entry_id,) = generate(tool, linked, count=1, seconds=26 * 3600)
    run = sync(session, run_jobs, tool.connection)
    (failed,) = messages(session, run.id, status="failed")
    assert run.counts["failed"] == 1 and "more than a day" in failed.reason and "Check:" in failed.reason


def test_edits_and_deletions_in_toggl_reach_open_timesheets(session, tool, linked, run_jobs):
    first, second, third = generate(tool, linked, count=3, start_date=days_ago(6).isoformat(), days=3)
    sync(session, run_jobs, tool.connection)
    tool.sandbox.edit(first, duration=7200, description="Longer review", emit=False)
    tool.sandbox.delete(second, emit=False)
    other = tool.sandbox.seed(projects=[{"workspace_id": tool.world.workspace_id, "name": "Internal"}])["projects"][0]
    tool.sandbox.edit(third, project_id=other["id"], emit=False)
    run = sync(session, run_jobs, tool.connection, "nightly")
    entries = synced(session, tool.connection)
    assert set(entries) == {str(first)}
    assert entries[str(first)].hours == Decimal("2.00") and entries[str(first)].description == "Longer review"
    assert (run.counts["updated"], run.counts["deleted"]) == (1, 2)
    reasons = [m.reason for m in messages(session, run.id, status="processed") if m.external_id]
    assert any("Updated: 1.50 h → 2.00 h" in r for r in reasons)
    assert any("no longer in Toggl" in r for r in reasons) and any("no offering links to" in r for r in reasons)


def test_a_second_start_joins_the_active_run_and_a_nightly_upgrades_a_queued_hourly(session, tool, linked):
    hourly, created = time_runs.start(session, tool.connection, "hourly")
    joined, again = time_runs.start(session, tool.connection, "webhook")
    assert created and not again and joined.id == hourly.id and joined.params["mode"] == "recent"
    nightly, _ = time_runs.start(session, tool.connection, "nightly")
    session.expire_all()
    assert nightly.id == hourly.id and (nightly.kind, nightly.params["mode"]) == ("nightly", "full")



def test_a_deleted_toggl_project_and_time_entered_twice_are_named_with_their_checks(session, tool, linked, run_jobs):
    (entry_id,) = generate(tool, linked, count=1, seconds=7200)
    sync(session, run_jobs, tool.connection)
    entry = synced(session, tool.connection)[str(entry_id)]
    session.add(TimeEntry(resource_id=entry.resource_id, project_id=entry.project_id, offering_id=entry.offering_id,
                          work_date=entry.work_date, hours=entry.hours, description="Typed in the portal too"))
    gone = link(session, tool, tool.offering(name="Old phase"))
    tool.sandbox.http.delete(f"/api/v9/workspaces/{tool.world.workspace_id}/projects/{gone.toggl_project_id}",
                             auth=("test-toggl-token-0001", "api_token")).raise_for_status()
    session.commit()
    run = sync(session, run_jobs, tool.connection, "nightly")
    reasons = [m.reason for m in messages(session, run.id, action="check")]
    assert any("no longer exists in the workspace" in r and "Old phase" in r for r in reasons)
    assert any("1 entry typed into the portal match Toggl time exactly" in r and "entered in both systems" in r
               for r in reasons)
