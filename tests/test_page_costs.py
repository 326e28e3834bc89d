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
from portal.extensions import db
from portal.finance.models import CostCategory, FinancialItem, FinancialTransaction
from portal.projects.models import Client, Deal, Offering, Project, Resource
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


# (page, role of the viewer, how to add n rows of its data)
PAGES: list[tuple[str, str, Callable[[World, int], None]]] = [
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
]


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


@pytest.mark.parametrize("url, role, add", PAGES, ids=[f"{url} as {role}" for url, role, _ in PAGES])
def test_a_list_page_costs_the_same_with_20_and_200_rows(app, client, session, login_as, url, role, add):
    viewer = login_as(role, permissions=["maintain_projects"] if role == "admin" else [])
    world = World(session)
    world.viewer = viewer
    world.person.user_id = viewer.id
    session.flush()
    client.get(url)  # warm: templates compiled, the login loaded
    add(world, 20)
    statements_20, _ = _measure(app, client, url)
    add(world, 80)
    _, bytes_100 = _measure(app, client, url)
    add(world, 100)
    statements_200, bytes_200 = _measure(app, client, url)
    assert statements_200 == statements_20, f"{url}: {statements_20} statements with 20 rows, {statements_200} with 200"
    assert bytes_200 <= bytes_100 * 1.03, f"{url}: {bytes_100} bytes with 100 rows, {bytes_200} with 200"
