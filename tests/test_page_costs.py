"""Guards that every list page is O(its page) (issue 14; bench/pages.py measures the times at 1M rows):
- the same number of SQL statements with 20 and with 200 rows of its data (no query per row, no list that
  loads its table), and
- the same size in bytes with 100 and with 200 rows (both more than a page): nothing grows with the data
  beyond the page's own rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from portal.audit import AuditEvent
from portal.auth.models import User
from portal.extensions import db
from portal.finance.models import CostCategory, FinancialItem, FinancialTransaction
from portal.integrations.models import (
    ClientLink,
    Connection,
    ConnectionStatus,
    PersonLink,
    ProjectLink,
    WaitingTimeEntry,
)
from portal.projects.models import Client, Deal, Offering, Project, Resource
from portal.runs.models import SyncRun
from portal.timesheets.models import TimeEntry, Timesheet
from tests.factories import BookingFactory, ResourceFactory, UserFactory, stage

MONDAY = date(2026, 3, 2)


class World:
    """What the pages show, grown in steps; `n` counts the rows added so far."""

    def __init__(self, session):
        self.session = session
        self.n = 0
        self.stage = stage("In Progress")
        self.client = Client(name="Client", normalized_name="client")
        self.person = ResourceFactory(name="Viewer")
        self.pm = UserFactory(role="pm", name="Pat PM")
        self.category = CostCategory(name="Services")
        session.add_all([self.client, self.category])
        session.flush()

    def projects(self, count: int, **fields) -> list[Project]:
        made = []
        for _ in range(count):
            self.n += 1
            project = Project(name=f"Project {self.n:04d}", client=self.client, stage=self.stage,
                              engagement_type_id=self.stage.engagement_type_id, is_active=True, **fields)
            project.offerings.append(Offering(name=f"Offering {self.n:04d}", sale_status="sold"))
            made.append(project)
        self.session.add_all(made)
        self.session.flush()
        return made

    def connection(self, kind: str) -> Connection:
        """The tool's connection: Toggl's not connected (its clients page would read Toggl over HTTP);
        Procore's connected (its page reads only the database)."""
        found = self.session.query(Connection).filter_by(kind=kind).one_or_none()
        if found is None:
            status = ConnectionStatus.CONNECTED if kind == "procore" else ConnectionStatus.DISCONNECTED
            found = Connection(kind=kind, status=status, account_id="1",
                               settings={"projects": [{"id": str(n), "name": f"Procore {n}", "active": True}
                                                      for n in range(1, 6)]})
            self.session.add(found)
            self.session.flush()
        return found

    def timesheets(self, count: int, status: str = "submitted", pm=None) -> None:
        project = self.projects(1, pm_id=pm.id if pm else None)[0]
        for _ in range(count):
            self.n += 1
            resource = Resource(name=f"Person {self.n:04d}", email=f"p{self.n}@example.test")
            sheet = Timesheet(resource=resource, period_start=MONDAY, period_end=MONDAY + timedelta(days=6),
                              status=status)
            self.session.add_all([resource, sheet, TimeEntry(
                resource=resource, project=project, offering=project.offerings[0], work_date=MONDAY,
                hours=Decimal("8"), timesheet=sheet)])
        self.session.flush()


def _add_clients(world: World, count: int) -> None:
    for _ in range(count):
        world.n += 1
        world.session.add(Client(name=f"Client {world.n:04d}", normalized_name=f"client {world.n:04d}"))
    world.session.flush()


def _add_resources(world: World, count: int) -> None:
    for _ in range(count):
        world.n += 1
        world.session.add(Resource(name=f"Person {world.n:04d}", email=f"r{world.n}@example.test"))
    world.session.flush()


def _add_deals(world: World, count: int) -> None:
    for project in world.projects(count):
        world.session.add(Deal(name=f"Deal {project.name}", client=world.client, project=project))
    world.session.flush()


def _add_audit(world: World, count: int) -> None:
    world.session.add_all(AuditEvent(actor_label="Someone", action="project.updated", subject_type="projects",
                                     subject_id=i, summary=f"Change {i}") for i in range(count))
    world.session.flush()


def _add_transactions(world: World, count: int) -> None:
    project = world.projects(1)[0]
    item = FinancialItem(project=project, resource=world.person, cost_category=world.category, name="Viewer")
    world.session.add(item)
    for _ in range(count):
        world.n += 1
        world.session.add(FinancialTransaction(item=item, kind="actual", date=MONDAY, hours=Decimal("8"),
                                               amount=Decimal("800"), posting_key=f"key-{world.n}", rate_type="cost"))
    world.session.flush()


def _add_bookings(world: World, count: int) -> None:
    for project in world.projects(count):
        BookingFactory(project=project, resource=world.person, mode="week", on=date.today() + timedelta(days=7))
    world.session.flush()


def _add_people(world: World, count: int) -> None:
    """A tool's people: half unmatched with time waiting (on a linked project), half matched to resources."""
    connection = world.connection("toggl")
    offering = world.projects(1)[0].offerings[0]
    link = ProjectLink(connection_id=connection.id, offering_id=offering.id, external_id=f"p{world.n}",
                       method="connected")
    world.session.add(link)
    world.session.flush()
    for n in range(count):
        world.n += 1
        person = PersonLink(connection_id=connection.id, external_id=f"u{world.n}", external_email=f"u{world.n}@t.test",
                            external_name=f"User {world.n}")
        if n % 2:
            person.resource = Resource(name=f"Person {world.n:04d}", email=f"m{world.n}@example.test")
            person.method = "auto_mapped"
        world.session.add(person)
        world.session.flush()
        if not n % 2:
            world.session.add(WaitingTimeEntry(connection_id=connection.id, person_link_id=person.id,
                                               project_link_id=link.id, external_id=f"w{world.n}",
                                               external_project_id=link.external_id, work_date=MONDAY, seconds=3600))
    world.session.flush()


def _add_runs(world: World, count: int) -> None:
    connection = world.connection("toggl")
    world.session.add_all(SyncRun(kind="hourly", scope=f"toggl:time:{connection.id}", connection_id=connection.id,
                                  status="succeeded", job="portal.jobs.time_sync", queue="sync") for _ in range(count))
    world.session.flush()


def _add_procore_links(world: World, count: int) -> None:
    connection = world.connection("procore")
    for project in world.projects(count):
        world.session.add(ProjectLink(connection_id=connection.id, offering_id=project.offerings[0].id,
                                      external_id=f"x{world.n}-{project.id}", external_name=f"Procore {project.name}",
                                      method="connected"))
    world.session.flush()


def _add_mapped_clients(world: World, count: int) -> None:
    """CRM clients, every other one mapped in the tool and one run each, every third with a duplicate."""
    connection = world.connection("toggl")
    for n in range(count):
        world.n += 1
        client = Client(name=f"Client {world.n:04d}", normalized_name=f"client {world.n // 3 * 3:04d}")
        world.session.add(client)
        world.session.flush()
        if n % 2:
            world.session.add(ClientLink(connection_id=connection.id, client_id=client.id, external_id=f"c{world.n}",
                                         external_name=client.name, method="provisioned"))
        world.session.add(SyncRun(kind="provision_client", scope=f"toggl:client:{client.id}", status="succeeded",
                                   connection_id=connection.id, job="portal.jobs.provision_client", queue="sync"))
    world.session.flush()


def _add_users(world: World, count: int) -> None:
    for _ in range(count):
        world.n += 1
        world.session.add(User(email=f"member{world.n}@example.test", name=f"User {world.n:04d}", role="staff",
                               password_hash="x"))
    world.session.flush()


def _sync_log(world: World) -> str:
    return f"/settings/integrations/connections/{world.connection('toggl').id}/sync-log"


def _client_mapping(world: World) -> str:
    return f"/settings/integrations/connections/{world.connection('toggl').id}/clients"


# (page, role of the viewer, how to add n rows of its data); a page's address may depend on the world
PAGES: list[tuple[str | Callable[[World], str], str, Callable[[World, int], None]]] = [
    ("/projects", "admin", lambda w, n: w.projects(n)),
    ("/clients", "admin", _add_clients),
    ("/resources", "admin", _add_resources),
    ("/deals", "admin", _add_deals),
    ("/approvals", "approver", lambda w, n: w.timesheets(n)),
    ("/approvals?status=", "approver", lambda w, n: w.timesheets(n, status="approved")),
    ("/approvals", "pm", lambda w, n: w.timesheets(n, pm=w.viewer)),
    (f"/time?week={MONDAY}", "staff", lambda w, n: w.projects(n)),  # offerings open for time, not the person's
    ("/forecast", "admin", _add_bookings),
    ("/finance/actuals", "admin", _add_transactions),
    ("/settings/audit", "admin", _add_audit),
    ("/expenses", "staff", lambda w, n: w.projects(n)),
    ("/lookup/projects", "staff", lambda w, n: w.projects(n)),
    ("/lookup/people", "staff", _add_resources),
    (_sync_log, "admin", _add_people),
    (_sync_log, "admin", _add_runs),
    ("/settings/integrations/procore", "admin", _add_procore_links),
    (_client_mapping, "admin", _add_mapped_clients),
    ("/admin/users", "admin", _add_users),
]


def _label(url, role: str, add) -> str:
    return f"{url if isinstance(url, str) else url.__name__} ({add.__name__}) as {role}"


def _measure(app, client, url: str) -> tuple[int, int]:
    statements = []

    def count(*_):
        statements.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return len(statements), len(response.data)


@pytest.mark.parametrize("url, role, add", PAGES, ids=[_label(*page) for page in PAGES])
def test_a_list_page_costs_the_same_with_20_and_200_rows(app, client, session, login_as, url, role, add):
    viewer = login_as(role, permissions=["maintain_projects"] if role == "admin" else [])
    world = World(session)
    world.viewer = viewer
    world.person.user_id = viewer.id
    session.flush()
    if not isinstance(url, str):
        url = url(world)
    client.get(url)  # warm: templates compiled, the login loaded
    add(world, 20)
    statements_20, _ = _measure(app, client, url)
    add(world, 80)
    _, bytes_100 = _measure(app, client, url)
    add(world, 100)
    statements_200, bytes_200 = _measure(app, client, url)
    assert statements_200 == statements_20, f"{url}: {statements_20} statements with 20 rows, {statements_200} with 200"
    assert bytes_200 <= bytes_100 * 1.03, f"{url}: {bytes_100} bytes with 100 rows, {bytes_200} with 200"


def test_the_approvers_queue_reads_the_user_its_page_with_its_count_and_its_hours(app, client, session, login_as):
    """The page approvers keep open (bench/approvals_load.py): the signed-in user, the page of timesheets with the
    queue's count riding along, and their hours per project. An approver's stand-ins add nothing to what they
    may do, so they are not read."""
    viewer = login_as("approver")
    world = World(session)
    world.viewer = viewer
    world.timesheets(30)
    client.get("/approvals")  # warm: templates compiled
    read = []
    with app.app_context():
        engine = db.engine

    def note(_connection, _cursor, statement, *_):
        if not statement.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):  # the tests' own isolation
            read.append(statement.split(None, 6)[:6])

    event.listen(engine, "before_cursor_execute", note)
    try:
        assert client.get("/approvals").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert len(read) == 3, read
