"""A connected Toggl workspace with people and a mapped client, and helpers to build offerings on it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.integrations.models import ClientLink, Connection, ProjectLink
from portal.projects.models import Client, Offering, Resource
from portal.runs.models import SyncRun
from tests.factories import (
    AssignmentFactory,
    ClientFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    UserFactory,
)
from tests.toggl_sandbox import TogglSandbox, World, make_connection

MEMBERS = ["ana@example.test", "ben@example.test", "cy@example.test"]


@dataclass
class Tool:
    sandbox: TogglSandbox
    world: World
    connection: Connection
    client: Client
    toggl_client_id: int

    def offering(self, billing_model: str = "time_and_materials", people: dict[str, str | None] | None = None,
                 **values) -> Offering:
        """An offering of an Active In Progress project of the mapped client, with `people` (email -> rate)."""
        project = values.pop("project", None) or ProjectFactory(client=self.client)
        fee = values.pop("fixed_fee", Decimal("24000") if billing_model in ("fixed_bid", "retainer") else None)
        offering = OfferingFactory(project=project, billing_model=billing_model, fixed_fee=fee, **values)
        for email, rate in (people if people is not None else {"ana@example.test": "150"}).items():
            resource = db.session.scalar(select(Resource).where(Resource.email == email.lower())) \
                or ResourceFactory(email=email, name=email.split("@")[0].title())
            AssignmentFactory(offering=offering, resource=resource,
                              bill_rate=Decimal(rate) if rate is not None else None)
        return offering

    def link(self, session, offering: Offering) -> ProjectLink | None:
        session.expire_all()
        return session.scalar(select(ProjectLink).where(ProjectLink.offering_id == offering.id,
                                                        ProjectLink.connection_id == self.connection.id))

    def last_run(self, session) -> SyncRun:
        session.expire_all()
        return session.scalar(select(SyncRun).order_by(SyncRun.id.desc()))


@pytest.fixture
def tool(session, toggl) -> Tool:
    world = toggl.standard(members=MEMBERS)
    connection = make_connection(session, world)
    toggl_client = toggl.seed(clients=[{"workspace_id": world.workspace_id, "name": "Northwind"}])["clients"][0]
    client = ClientFactory(name="Northwind Traders")
    session.add(ClientLink(connection_id=connection.id, client_id=client.id, external_id=str(toggl_client["id"]),
                           external_name="Northwind", method="connected"))
    session.flush()
    return Tool(toggl, world, connection, client, toggl_client["id"])


@pytest.fixture
def admin(session):
    return UserFactory(role="admin", permissions=["maintain_projects"])


@pytest.fixture
def run_jobs(run_jobs, session):
    """Run the queued jobs, then forget what the test's session had loaded: the jobs changed rows behind
    its back."""
    def run(*args, **kwargs):
        run_jobs(*args, **kwargs)
        session.expire_all()

    return run
