"""`make run`'s promise: the demo organization is connected to the Toggl sandbox the Procfile starts, which
the demo seeds through its admin API with a workspace of the demo people, so a newcomer can provision and
sync for real offline."""

from sqlalchemy import select

from portal import demo
from portal.integrations import people, provisioning
from portal.integrations.models import Connection
from portal.integrations.toggl import time_runs
from portal.projects.models import Offering
from portal.runs.models import SyncRun
from portal.timesheets.models import TimeEntry
from sandboxes.toggl import create_sandbox
from tests.servers import serve
from tests.toggl_sandbox import TogglSandbox, pointed_at


def test_the_demo_seeds_its_sandbox_once(app):
    with serve(create_sandbox()) as url, pointed_at(app, url), app.app_context():
        assert f"{url}: seeded the demo." in demo.seed_sandboxes(wait=5)
        assert f"{url}: already holds the demo." in demo.seed_sandboxes(wait=5)  # a restarted `make run`
        held = TogglSandbox(url).state()
    assert len(held["time_entries"]) == 8 and [w["name"] for w in held["workspaces"]] == ["Demo Consulting"]


def test_the_demo_provisions_against_the_sandbox_it_starts(app, session, run_jobs):
    with serve(create_sandbox()) as url, pointed_at(app, url):
        demo.seed_sandboxes(wait=5)
        demo.load(session)
        session.commit()
        demo.load(session)  # idempotent: nothing is connected or mapped twice
        session.commit()
        connection = session.scalar(select(Connection))
        offering = session.scalar(select(Offering).where(Offering.name == "Platform build"))
        run = provisioning.start_provision(session, "demo check", offering.id, connection.id)
        session.commit()
        run_jobs()
        sandbox = TogglSandbox(url)
        project = next(p for p in sandbox.projects() if p["name"] == "Platform build")
        team = set(sandbox.team(project["id"]))
    session.refresh(run)
    assert run.status == "succeeded", run.error
    assert project["client_name"] == "Northwind" and project["estimated_hours"] == 400
    assert {"staff@demo.test", "dana@demo.test", "toggl-admin@demo.test"} == team
    assert session.scalar(select(SyncRun.id).where(SyncRun.status == "failed")) is None


def test_the_demo_time_in_toggl_comes_in_once_an_offering_is_connected(app, session, run_jobs):
    with serve(create_sandbox()) as url, pointed_at(app, url):
        demo.seed_sandboxes(wait=5)
        demo.load(session)
        session.commit()
        connection = session.scalar(select(Connection))
        offering = session.scalar(select(Offering).where(Offering.name == "Support retainer"))
        provisioning.start_connect(session, "demo check", offering.id, connection.id, "200000001")
        session.commit()
        run_jobs()
        run = time_runs.start(session, connection, "manual_org")[0]
        session.commit()
        run_jobs()
    session.refresh(run)
    assert run.status == "succeeded", run.error
    assert (run.counts["new"], run.counts["unmatched"]) == (6, 2)
    assert {e.resource.email for e in session.scalars(select(TimeEntry))} == {"dana@demo.test", "lee@demo.test",
                                                                             "staff@demo.test"}
    (contractor,), _ = people.unmatched_page(session, connection)
    assert contractor.link.external_email == "contractor@demo.test" and contractor.waiting == 2
