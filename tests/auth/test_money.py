"""Who sees money is one rule (policy.can_see_money): admins, approvers and MPE users everywhere, a project's PM
team on that project; every page, fragment, CSV and email that shows a rate or an amount follows it."""

from __future__ import annotations

import pytest

from portal.projects.models import ProjectManager
from tests.auth import world as worlds
from tests.auth.world import LOGINS
from tests.factories import UserFactory

EVERYWHERE = {"approver", "admin", "super_admin", "mpe"}
ON_P = EVERYWHERE | {"pm"}
RATES = ["55.50", "131.25"]  # every internal login's cost and sell rate
BILL_RATE, FEE, BUDGET, DEAL, EXPENSE = "187.40", "48,000.00", "52,000.00", "96,500.00", "42.10"


def pages(w) -> list[tuple[str, list[str], set[str]]]:
    """(url, amounts it shows to those who may see them, who may)."""
    p = w.project
    return [
        (f"/resources/{w.resource}", RATES, EVERYWHERE),
        (f"/projects/{p}/team", [BILL_RATE], ON_P),
        (f"/projects/{p}/offerings", [FEE, BUDGET], ON_P),
        (f"/projects/{p}", [DEAL], ON_P),
        (f"/projects/{p}/plan", [BUDGET], ON_P),
        (f"/projects/{p}/entries?month=2026-03", [EXPENSE], ON_P),
        (f"/workspace/{p}", [BUDGET], ON_P),
        ("/deals", [DEAL], ON_P),
    ]


@pytest.mark.parametrize("role", [key for key, _, _ in LOGINS if key != "client"])
def test_rates_and_amounts_show_only_to_those_who_may_see_money(client, session, role):
    world = worlds.build(session)
    client.login(world.users[role])
    leaks, missing = [], []
    for url, amounts, allowed in pages(world.ids):
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        for amount in amounts:
            if role in allowed and amount not in body:
                missing.append(f"{url}: {amount}")
            if role not in allowed and amount in body:
                leaks.append(f"{url}: {amount}")
        fragment = client.get(url, htmx=True).get_data(as_text=True)
        if role not in allowed:
            leaks += [f"{url} (fragment): {a}" for a in amounts if a in fragment]
    assert not leaks and not missing, {"shown to " + role: leaks, "hidden from " + role: missing}


def test_the_forecast_lists_only_projects_whose_money_the_user_may_see(client, session):
    world = worlds.build(session)
    client.login(world.users["pm_other"])
    page = client.get("/forecast").get_data(as_text=True)
    assert "Warehouse" in page and "Platform" not in page
    client.login(world.users["maeps"])
    assert client.get("/forecast").status_code == 403


def test_budget_alerts_go_only_to_pm_team_members_who_may_see_the_money(app, session, run_jobs, mailbox):
    from tests.stages.test_notifications import budgeted_offering, log_time, received

    person, assignment = budgeted_offering(session, budget="1000", sends_alerts=True)
    project = assignment.offering.project
    former = UserFactory(role="client", client_id=project.client_id, email="former-pm@example.test")
    session.add(ProjectManager(project_id=project.id, user_id=former.id))  # on the team, now a client login
    session.commit()
    log_time(app, session, person, assignment, 2, "9")
    run_jobs()
    (alert,) = received(mailbox, 1)
    assert alert == (project.pm.email,)
