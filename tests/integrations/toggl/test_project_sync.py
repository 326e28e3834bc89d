"""A project's own Sync time (its Integrations tab): the look-back of its linked Toggl projects the first time,
then only what changed since, within Toggl's hourly quota; what was refused is applied again under today's rules."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.integrations.models import ProjectLink
from portal.integrations.toggl import time_runs
from portal.runs.models import MessageStatus, SyncMessage, SyncRun
from tests.integrations.toggl.time_sync_support import days_ago, link, synced


@pytest.fixture
def linked(session, tool):
    return link(session, tool, tool.offering(people={"ana@example.test": "150"}, name="Platform build"))


def generate(tool, toggl, toggl_project_id: int, count: int, hours_ago: int = 2) -> list[int]:
    """Entries of the last three weeks, last changed in Toggl `hours_ago` hours ago."""
    toggl.advance(-3600 * hours_ago)
    try:
        return tool.sandbox.entries(count=count, emails=["ana@example.test"], project_ids=[toggl_project_id],
                                    start_date=days_ago(20).isoformat(), days=20)
    finally:
        toggl.advance(3600 * hours_ago)


def sync_project(session, run_jobs, tool, project_id: int, admin) -> tuple[SyncRun, int]:
    """A project's Sync time, run as the worker would: the run as it ended, and the report requests it sent."""
    mark = tool.sandbox.mark()
    run = time_runs.start_project_sync(session, admin, project_id, tool.connection.id)
    session.commit()
    run_jobs()
    session.expire_all()
    reports = [r for r in tool.sandbox.requests(mark) if "/search/time_entries" in r["path"]]
    return session.get(SyncRun, run.id), len(reports)


def test_after_its_first_sync_a_project_reads_only_what_changed_since(session, tool, toggl, linked, run_jobs, admin,
                                                                       small_pages):
    project_id = linked.offering.project_id
    ids = generate(tool, toggl, linked.toggl_project_id, 30)
    elsewhere = link(session, tool, tool.offering(name="Another project"))
    generate(tool, toggl, elsewhere.toggl_project_id, 5)

    first, requests = sync_project(session, run_jobs, tool, project_id, admin)
    assert first.status == "succeeded" and first.counts["new"] == 30 and requests == 3  # the look-back, by date
    assert len(synced(session, tool.connection)) == 30  # the other project's entries are not read
    assert tool.link(session, linked.offering).time_read_up_to is not None

    quiet, requests = sync_project(session, run_jobs, tool, project_id, admin)
    assert (quiet.status, quiet.counts.get("new", 0), requests) == ("succeeded", 0, 1)

    for entry_id in ids[:12]:
        tool.sandbox.edit(entry_id, description="Reviewed with the client", emit=False)
    tool.sandbox.delete(ids[12], emit=False)  # found by reconciling (nightly), not by reading changes
    (added,) = generate(tool, toggl, linked.toggl_project_id, 1, hours_ago=0)
    changed, requests = sync_project(session, run_jobs, tool, project_id, admin)
    assert (changed.counts["updated"], changed.counts["new"]) == (12, 1)
    assert requests == 2  # 13 changes, newest first, in pages of 10
    entries = synced(session, tool.connection)
    assert entries[str(added)].work_date >= days_ago(20)
    assert {entries[str(i)].description for i in ids[:12]} == {"Reviewed with the client"}

    again, requests = sync_project(session, run_jobs, tool, project_id, admin)
    assert (again.counts.get("updated", 0), again.counts.get("new", 0), requests) == (0, 0, 1)


def test_an_offering_linked_since_the_last_sync_is_read_in_full(session, tool, toggl, linked, run_jobs, admin,
                                                                 small_pages):
    project = linked.offering.project
    generate(tool, toggl, linked.toggl_project_id, 4)
    sync_project(session, run_jobs, tool, project.id, admin)
    second = link(session, tool, tool.offering(project=project, name="Data migration"))
    older = generate(tool, toggl, second.toggl_project_id, 15, hours_ago=5)  # older than the first link's mark
    session.commit()
    run, requests = sync_project(session, run_jobs, tool, project.id, admin)
    assert run.counts["new"] == 15 and requests == 2  # both links' 19 entries, by date
    assert {str(i) for i in older} <= set(synced(session, tool.connection))
    marks = session.scalars(select(ProjectLink.time_read_up_to).where(ProjectLink.offering_id.in_(
        [linked.offering.id, second.offering.id])))
    assert all(marks)


def test_a_refused_entry_comes_in_with_the_next_project_sync_once_the_rules_allow_it(session, tool, toggl, linked,
                                                                                     run_jobs, admin):
    project = linked.offering.project
    project.time_descriptions_required = True
    project.stage.settings = {**project.stage.settings, "allow_time_entry_settings_changes": True}
    (entry_id, kept) = generate(tool, toggl, linked.toggl_project_id, 2)
    toggl.advance(-3600)
    tool.sandbox.edit(entry_id, description="", emit=False)
    toggl.advance(3600)
    session.commit()
    first, _ = sync_project(session, run_jobs, tool, project.id, admin)
    assert (first.counts["refused"], first.counts["new"]) == (1, 1)

    project.time_descriptions_required = False  # the PM relaxes the rule; nothing changed in Toggl
    session.commit()
    run, requests = sync_project(session, run_jobs, tool, project.id, admin)
    assert run.counts["new"] == 1 and requests == 1  # the copy the refusal kept, not a re-read
    assert set(synced(session, tool.connection)) == {str(entry_id), str(kept)}
    message = session.scalar(select(SyncMessage).where(SyncMessage.external_id == str(entry_id)))
    assert message.status == MessageStatus.PROCESSED and "resolved: imported" in message.reason
