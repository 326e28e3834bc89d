"""The nightly reconcile within Toggl's quota (issue 13 item 2): after a first full read, a nightly reads the
changes since the last one, then a week at a time lists every id (summary report) and compares the daily totals
(weekly report), and reads only the days that differ; edits and deletions are found, and the requests are counted."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from portal.integrations.models import Connection, ProjectLink, WaitingTimeEntry
from portal.integrations.toggl import reconcile
from portal.runs.models import SyncMessage, SyncRun
from tests.factories import ResourceFactory, stage
from tests.integrations.toggl.time_sync_support import days_ago, enqueue_scheduled, link, sync, synced

DAYS = 62
STARTER_TENTH = 24  # 10 % of a Starter plan's 240 requests an hour


@pytest.fixture
def world(session, tool, run_jobs):
    """Five linked projects; 600 entries of two people over the last 60 days, changed an hour ago."""
    ResourceFactory(email="ben@example.test", name="Ben")
    projects = [link(session, tool, tool.offering(people={"ana@example.test": "150"}, name=f"Stream {n}"))
                for n in range(5)]
    tool.sandbox.advance(-3600)
    ids = tool.sandbox.entries(count=600, emails=["ana@example.test", "ben@example.test"],
                               project_ids=[p.toggl_project_id for p in projects],
                               start_date=days_ago(DAYS - 2).isoformat(), days=DAYS - 4)
    tool.sandbox.advance(3600)
    first = sync(session, run_jobs, tool.connection, "nightly")
    assert first.status == "succeeded" and first.counts["new"] == 600
    return projects, ids


def requests(tool, mark: int) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for entry in tool.sandbox.requests(mark):
        kind = entry["path"].rsplit("/", 2)[-2] if "/reports/" in entry["path"] else "api"
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def test_a_no_change_nightly_spends_a_tenth_of_a_starter_hour(session, tool, world, run_jobs):
    mark = tool.sandbox.mark()
    run = sync(session, run_jobs, tool.connection, "nightly")
    assert run.status == "succeeded", run.error
    spent = requests(tool, mark)
    assert spent == {"search": 1, "summary": 9, "weekly": 9, "api": 1}  # changes, ids and totals a week, projects
    assert sum(spent.values()) <= STARTER_TENTH and run.requests == sum(spent.values())
    assert not any(run.counts.get(k) for k in ("new", "updated", "deleted"))


def test_scattered_edits_and_deletions_are_all_found(session, tool, world, run_jobs):
    _, ids = world
    before = synced(session, tool.connection)
    edited = ids[5:600:30]  # 20 entries spread over the window
    for n, entry_id in enumerate(edited):
        if n % 2:
            tool.sandbox.edit(entry_id, description=f"Edited {n}", emit=False)
        else:
            tool.sandbox.edit(entry_id, duration=7200, emit=False)
    deleted = [ids[11], ids[311], ids[590]]
    for entry_id in deleted:
        tool.sandbox.delete(entry_id, emit=False)
    mark = tool.sandbox.mark()
    run = sync(session, run_jobs, tool.connection, "nightly")
    assert run.status == "succeeded", run.error
    spent = requests(tool, mark)
    assert spent["summary"] == 9 and spent["weekly"] == 9
    assert spent["search"] == 1  # the 20 changes fit one page of 50; the totals then agree: no day re-read
    assert sum(spent.values()) <= STARTER_TENTH
    after = synced(session, tool.connection)
    assert set(before) - set(after) == {str(i) for i in deleted}
    for n, entry_id in enumerate(edited):
        entry = after[str(entry_id)]
        assert (entry.description == f"Edited {n}") if n % 2 else entry.hours == Decimal("2.00")
    assert run.counts["updated"] == 20 and run.counts["deleted"] == 3


def test_a_nightly_paused_for_the_quota_while_comparing_resumes_at_its_next_week(app, session, tool, world,
                                                                              run_jobs):
    by_date = sorted(synced(session, tool.connection).values(), key=lambda e: e.work_date)
    deleted = [by_date[10].external_id, by_date[-10].external_id]  # one compared before the pause, one after
    for entry_id in deleted:
        tool.sandbox.delete(entry_id, emit=False)
    tool.sandbox.advance(3601)  # the first nightly's requests are out of the hour
    organization = tool.sandbox.state()["workspaces"][0]["organization_id"]
    tool.sandbox.limits(organizations={str(organization): {"quota": 10}})
    app.config["SYNC_QUOTA_RESERVE"] = 1
    try:
        mark = tool.sandbox.mark()
        run = sync(session, run_jobs, tool.connection, "nightly")
        assert run.status == "queued" and run.status_text.startswith("Waiting for the Toggl quota to reset at")
        assert run.checkpoint["phase"] == "compare" and run.checkpoint["compared_to"] < days_ago(30).isoformat()
        assert run.counts["deleted"] == 1
        for _ in range(2):  # ten requests an hour: the nightly's twenty take three hours
            tool.sandbox.advance(3601)
            assert enqueue_scheduled(app) == 1
            run_jobs()
            run = session.get(SyncRun, run.id)
        assert run.status == "succeeded", run.error
        assert run.attempts == 3
    finally:
        app.config["SYNC_QUOTA_RESERVE"] = 3
    spent = requests(tool, mark)
    # The changes read once, and no week asked twice: the resumed leg went on from the checkpoint.
    assert spent == {"search": 1, "summary": 9, "weekly": 9, "api": 1}
    assert run.counts["deleted"] == 2 and not set(deleted) & set(synced(session, tool.connection))


def test_time_no_change_read_saw_is_found_by_the_totals_reading_only_those_days(session, tool, world, run_jobs):
    # A Toggl project linked after the first nightly: its entries are older than what the nightly has seen.
    late = tool.sandbox.seed(projects=[{"workspace_id": tool.world.workspace_id, "name": "Late",
                                        "client_id": tool.toggl_client_id}])["projects"][0]
    tool.sandbox.advance(-7200)
    old = tool.sandbox.entries(count=4, emails=["ana@example.test"], project_ids=[late["id"]],
                               start_date=days_ago(40).isoformat(), days=2)
    tool.sandbox.advance(7200)
    link_to_existing(session, tool, late)
    mark = tool.sandbox.mark()
    run = sync(session, run_jobs, tool.connection, "nightly")
    assert run.status == "succeeded", run.error
    spent = requests(tool, mark)
    assert spent["search"] == 1 + 1  # the changes, then the two differing days (consecutive: one query)
    assert sum(spent.values()) <= STARTER_TENTH + 1
    assert {str(i) for i in old} <= set(synced(session, tool.connection))


def link_to_existing(session, tool, project):
    offering = tool.offering(people={"ana@example.test": "150"}, name="Late offering")
    session.add(ProjectLink(connection_id=tool.connection.id, offering_id=offering.id,
                            external_id=str(project["id"]), external_name=project["name"], method="connected"))
    session.commit()


def test_deleted_time_of_unmatched_people_stops_waiting(session, tool, world, run_jobs):
    projects, _ = world
    tool.sandbox.advance(-7200)
    waiting = tool.sandbox.entries(count=2, emails=["cy@example.test"], project_ids=[projects[0].toggl_project_id],
                                   start_date=days_ago(20).isoformat(), days=1)
    tool.sandbox.advance(7200)
    sync(session, run_jobs, tool.connection, "hourly")  # too old for the hourly
    assert sync(session, run_jobs, tool.connection, "nightly").counts["unmatched"] == 2  # found by the totals
    tool.sandbox.delete(waiting[0], emit=False)
    tool.sandbox.advance(60)  # the next night: Toggl's burst limit (a request a second) has room again
    assert sync(session, run_jobs, tool.connection, "nightly").status == "succeeded"
    left = session.scalars(select(WaitingTimeEntry.external_id)).all()
    assert left == [str(waiting[1])]


def test_refused_time_counts_in_the_totals_and_is_resolved_once_deleted_in_toggl(session, tool, world, run_jobs):
    closed = link(session, tool, tool.offering(people={"ana@example.test": "150"}, name="Closed stream"))
    closed.offering.project.stage = stage("Closed")
    session.commit()
    refused = tool.sandbox.entries(count=3, emails=["ana@example.test"], project_ids=[closed.toggl_project_id],
                                   start_date=days_ago(20).isoformat(), days=1)
    mark = tool.sandbox.mark()
    run = sync(session, run_jobs, tool.connection, "nightly")
    assert run.counts["refused"] == 3
    assert requests(tool, mark)["search"] == 1  # the refused entries' time is the portal's too: no day re-read
    tool.sandbox.delete(refused[0], emit=False)
    tool.sandbox.advance(60)  # the next night: Toggl's burst limit has room again
    assert sync(session, run_jobs, tool.connection, "nightly").status == "succeeded"
    session.expire_all()
    status = dict(session.execute(select(SyncMessage.external_id, SyncMessage.status).where(
        SyncMessage.external_id.in_([str(i) for i in refused]))).all())
    assert status == {str(refused[0]): "processed", str(refused[1]): "failed", str(refused[2]): "failed"}


def test_a_summary_without_ids_never_removes_anything(session, tool, world, run_jobs):
    tool.sandbox.fault(r"/reports/api/v3/workspace/\d+/summary/time_entries", status=200,
                       body={"groups": [{"id": 1, "sub_groups": [{"id": 2, "seconds": 3600}]}]})
    before = synced(session, tool.connection)
    run = sync(session, run_jobs, tool.connection, "nightly")
    assert run.status == "succeeded" and set(synced(session, tool.connection)) == set(before)
    assert not session.scalars(select(SyncMessage).where(SyncMessage.action == "delete")).all()


@pytest.mark.postgres
def test_on_postgresql_the_ids_table_keeps_no_dead_rows_between_weeks(session):
    """The nightly stages each week's ids in a temporary table that nothing vacuums: emptied by TRUNCATE, not
    DELETE, it holds no page between weeks (it grew with every week a worker's connection judged)."""
    connection = Connection(kind="toggl", status="connected", account_id="1")
    session.add(connection)
    session.flush()
    week = (date(2026, 3, 2), date(2026, 3, 8))
    for first in range(3):
        reconcile.unlisted(session, connection, [str(n) for n in range(first * 2000, first * 2000 + 2000)], week,
                           (week[0] - timedelta(days=60), week[1]))
        assert session.scalar(text("SELECT pg_relation_size('reconcile_listed')")) == 0
