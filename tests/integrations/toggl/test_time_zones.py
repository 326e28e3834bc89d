"""Work dates as people see them (issue 13 item 4) and entries with no time (item 7)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from portal.projects.models import Resource
from portal.runs.models import SyncMessage
from portal.timesheets.entries import week_of
from portal.timesheets.models import TimeEntry
from tests.integrations.toggl.time_sync_support import days_ago, link, sync, synced

LOS_ANGELES = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def europe(app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_TIMEZONE", "Europe/Berlin")


def late_evening(day):
    """23:30 on `day` in Los Angeles, in UTC (already the next day there and in Berlin)."""
    return datetime.combine(day, time(23, 30), tzinfo=LOS_ANGELES).astimezone(ZoneInfo("UTC"))


def test_synced_time_is_dated_in_the_persons_own_zone(session, tool, run_jobs, europe):
    linked = link(session, tool, tool.offering())
    ana = session.scalar(select(Resource).where(Resource.email == "ana@example.test"))
    ana.time_zone = "America/Los_Angeles"
    tool.sandbox.set_member("ana@example.test", timezone="America/Los_Angeles")
    day = days_ago(5)
    started = late_evening(day)
    assert started.astimezone(ZoneInfo("Europe/Berlin")).date() == day + timedelta(days=1)
    (entry,) = tool.sandbox.seed(time_entries=[{
        "workspace_id": tool.world.workspace_id, "email": "ana@example.test", "project_id": linked.toggl_project_id,
        "start": started.isoformat(), "duration": 3600}])["time_entries"]
    session.commit()
    run = sync(session, run_jobs, tool.connection, "nightly")
    assert run.status == "succeeded", run.error
    imported = synced(session, tool.connection)[str(entry["id"])]
    assert imported.work_date == day  # its day, week and fiscal month are the 30 November of the example
    assert imported.timesheet.period_start == week_of(day, imported.timesheet.period_start.weekday())[0]
    # Someone who follows the organization's zone has it dated there.
    ana.time_zone = None
    session.commit()
    tool.sandbox.edit(entry["id"], description="Re-read")
    sync(session, run_jobs, tool.connection, "nightly")
    assert synced(session, tool.connection)[str(entry["id"])].work_date == day + timedelta(days=1)


def test_a_changed_zone_leaves_synced_entries_alone_until_reread(session, tool, run_jobs, europe):
    linked = link(session, tool, tool.offering())
    day = days_ago(6)
    (entry,) = tool.sandbox.seed(time_entries=[{
        "workspace_id": tool.world.workspace_id, "email": "ana@example.test", "project_id": linked.toggl_project_id,
        "start": late_evening(day).isoformat(), "duration": 1800}])["time_entries"]
    session.commit()
    sync(session, run_jobs, tool.connection, "nightly")
    assert synced(session, tool.connection)[str(entry["id"])].work_date == day + timedelta(days=1)  # Berlin
    ana = session.scalar(select(Resource).where(Resource.email == "ana@example.test"))
    ana.time_zone = "America/Los_Angeles"
    session.commit()
    sync(session, run_jobs, tool.connection, "hourly")  # not re-read: the date stays
    assert synced(session, tool.connection)[str(entry["id"])].work_date == day + timedelta(days=1)
    tool.sandbox.edit(entry["id"], duration=2700)
    sync(session, run_jobs, tool.connection, "nightly")
    assert synced(session, tool.connection)[str(entry["id"])].work_date == day


def test_admins_set_a_resources_zone_and_everyone_sees_it(session, client, login_as):
    from tests.factories import ResourceFactory

    resource = ResourceFactory(email="lee@example.test", name="Lee")
    login_as("admin")
    session.commit()
    form = {"name": "Lee", "email": "lee@example.test", "title": "", "active": "y", "login_email": "",
            "default_cost_category_id": "", "expected_hours_per_week": "", "time_zone": "America/Los_Angeles"}
    saved = client.post(f"/resources/{resource.id}", data=form, htmx=True)
    assert saved.status_code == 200, saved.get_data(True)
    session.expire_all()
    assert session.get(Resource, resource.id).time_zone == "America/Los_Angeles"
    bad = client.post(f"/resources/{resource.id}", data={**form, "time_zone": "Mars/Olympus"}, htmx=True)
    assert bad.status_code == 422
    login_as("staff")
    page = client.get(f"/resources/{resource.id}").get_data(True)
    assert "Works in <strong>America/Los_Angeles</strong>" in page


def test_an_mpe_user_cannot_change_a_zone(session, client, login_as):
    from tests.factories import ResourceFactory

    resource = ResourceFactory(email="kim@example.test", name="Kim")
    login_as("pm", permissions=["maintain_projects", "mpe"])
    session.commit()
    form = {"name": "Kim", "email": "kim@example.test", "title": "", "active": "y", "login_email": "",
            "default_cost_category_id": "", "expected_hours_per_week": "", "time_zone": "Asia/Tokyo"}
    client.post(f"/resources/{resource.id}", data=form, htmx=True)
    session.expire_all()
    assert session.get(Resource, resource.id).time_zone is None


def test_zero_length_entries_and_running_timers_are_skipped_not_failed(session, tool, run_jobs):
    linked = link(session, tool, tool.offering())
    start = datetime.combine(days_ago(3), time(10), tzinfo=ZoneInfo("UTC"))
    base = {"workspace_id": tool.world.workspace_id, "email": "ana@example.test",
            "project_id": linked.toggl_project_id}
    created = tool.sandbox.seed(time_entries=[
        {**base, "start": start.isoformat(), "duration": 0},
        {**base, "start": (start + timedelta(hours=1)).isoformat(), "duration": 12},  # 0.00 h
        {**base, "start": (start + timedelta(hours=2)).isoformat(), "duration": 3600},
    ])["time_entries"]
    session.commit()
    run = sync(session, run_jobs, tool.connection, "nightly")
    assert run.status == "succeeded", run.error
    assert run.counts["skipped_zero_length"] == 2 and run.counts["new"] == 1 and not run.counts.get("failed")
    assert not session.scalars(select(SyncMessage).where(SyncMessage.status == "failed")).all()
    assert "2 entries with no time" in " ".join(m.reason for m in session.scalars(select(SyncMessage)))
    # Shortened to nothing in Toggl: the portal's copy goes.
    tool.sandbox.edit(created[2]["id"], duration=0)
    sync(session, run_jobs, tool.connection, "hourly")
    assert session.scalars(select(TimeEntry)).all() == []


def test_the_nightly_compares_a_week_with_the_tools_ids_of_the_day_either_side(session, tool, run_jobs, europe):
    """Toggl dates the entry on the last day of a week of the nightly's comparison (Los Angeles), the portal
    on the first of the next (Berlin, the organization's zone): it is not taken for deleted."""
    linked = link(session, tool, tool.offering())
    tool.sandbox.set_member("ana@example.test", timezone="America/Los_Angeles")
    day = days_ago(62 - 20)  # the window starts 62 days ago; its weeks are compared 7 days at a time
    (entry,) = tool.sandbox.seed(time_entries=[{
        "workspace_id": tool.world.workspace_id, "email": "ana@example.test", "project_id": linked.toggl_project_id,
        "start": late_evening(day).isoformat(), "duration": 3600}])["time_entries"]
    session.commit()
    assert sync(session, run_jobs, tool.connection, "nightly").status == "succeeded"  # the first: read by date
    imported = synced(session, tool.connection)[str(entry["id"])]
    assert imported.work_date == day + timedelta(days=1)
    run = sync(session, run_jobs, tool.connection, "nightly")  # compares a week at a time
    assert run.status == "succeeded", run.error
    assert not run.counts.get("deleted") and synced(session, tool.connection)[str(entry["id"])].id == imported.id
