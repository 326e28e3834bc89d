"""Concurrency on PostgreSQL: two clicks at once start one provisioning, and only one project is made."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from portal.auth.models import User
from portal.errors import Conflict
from portal.extensions import db
from portal.integrations import provisioning
from portal.integrations.models import ClientLink, ProjectLink
from portal.runs.models import SyncRun
from tests.factories import (
    AssignmentFactory,
    ClientFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    UserFactory,
)
from tests.toggl_sandbox import make_connection


@pytest.mark.postgres
@pytest.mark.committed
def test_two_simultaneous_clicks_start_one_provisioning(app, committed, toggl, run_jobs):
    world = toggl.standard(members=["ana@example.test"])
    toggl_client = toggl.seed(clients=[{"workspace_id": world.workspace_id, "name": "Northwind"}])["clients"][0]
    with committed() as session:
        pm = UserFactory(role="pm")
        connection = make_connection(session, world)
        client = ClientFactory()
        session.add(ClientLink(connection_id=connection.id, client_id=client.id, external_id=str(toggl_client["id"]),
                               external_name="Northwind", method="connected"))
        offering = OfferingFactory(project=ProjectFactory(client=client, pm=pm))
        AssignmentFactory(offering=offering, resource=ResourceFactory(email="ana@example.test"))
        session.flush()
        ids = (pm.id, offering.id, connection.id)

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def click() -> None:
        with app.app_context():
            try:
                user = db.session.get(User, ids[0])
                barrier.wait(timeout=10)
                provisioning.start_provision(db.session, user, ids[1], ids[2])
                db.session.commit()
                outcomes.append("started")
            except Conflict:
                db.session.rollback()
                outcomes.append("joined")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(outcomes) == ["joined", "started"]
    run_jobs()
    with committed() as session:
        assert len(session.scalars(select(SyncRun)).all()) == 1
        assert len(session.scalars(select(ProjectLink)).all()) == 1
    assert len(toggl.projects()) == 1 and "ana@example.test" in toggl.team(toggl.projects()[0]["id"])
