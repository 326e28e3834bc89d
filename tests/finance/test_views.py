"""The Finance tab, the Actuals page with its CSV export, and the reference-data pages over HTTP."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.finance import services as finance
from portal.finance.forecasts import refresh_forecast
from portal.finance.models import CostCategory, FiscalPeriod
from portal.finance.posting import post_timesheet
from tests.factories import BookingFactory, OfferingFactory, ProjectFactory, ResourceFactory, UserFactory
from tests.finance.support import CROSSING, MONDAY, timesheet


@pytest.fixture
def project(session, org, months):
    """A project with two offerings (one with a budget), a forecast, a split actual and a locked portion."""
    project = ProjectFactory(name="Northwind")
    build = OfferingFactory(project=project, name="Build", budget_amount=Decimal("1000"))
    OfferingFactory(project=project, name="Support", budget_amount=None)
    dana = ResourceFactory(name="Dana", rates={"cost": "50"})
    BookingFactory(project=project, offering=build, resource=dana, on=date(2026, 4, 6), hours=Decimal("4"))
    session.flush()
    refresh_forecast(session, project.id)
    post_timesheet(session, timesheet(session, dana, CROSSING, [(build, CROSSING, 8), (build, date(2026, 3, 1), 2)]).id)
    finance.set_period_lock(session, "test", months["2026-03"].id, True)
    post_timesheet(session, timesheet(session, dana, MONDAY, [(build, MONDAY, 8)]).id)
    return project


def test_the_finance_tab_shows_items_budget_vs_actual_transactions_and_unposted_portions(client, login_as, project):
    login_as("admin")
    response = client.get(f"/projects/{project.id}/finance", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    items = body.split('id="finance-items"')[1].split("</table>")[0]
    assert "<td>Dana</td><td>Professional services</td><td class=\"num\">200.00</td>" in items  # forecast 4 h × 50
    assert '<td class="num">10.00</td><td class="num">500.00</td>' in items  # actual hours and money
    transactions = body.split('id="finance-transactions"')[1]
    assert 'title="Split transaction, part 1 of 2' in transactions and "2026-02" in transactions
    assert "Not posted: period locked" in body and "400.00" in body


def test_the_finance_tab_keeps_money_from_staff(client, login_as, project):
    login_as("staff")
    body = client.get(f"/projects/{project.id}/finance").get_data(as_text=True)
    assert "visible to its PM team" in body and "500.00" not in body
    assert client.get(f"/projects/{project.id}/finance.csv").status_code == 403


def test_the_project_csv_export_lists_its_transactions(client, login_as, project):
    login_as("pm", permissions=["maintain_projects"])
    # Buffered: the export streams, and the body must be read while the request's context is alive.
    response = client.get(f"/projects/{project.id}/finance.csv", buffered=True)
    lines = response.get_data(as_text=True).strip().split("\r\n")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    assert len(lines) == 3
    assert lines[1].startswith("2026-02-28,Northwind,Dana,Professional services,actual,8.00,400.00")


def test_the_actuals_page_filters_by_period_and_project_and_exports_the_same(client, login_as, session, project,
                                                                             months):
    login_as("admin")
    other = OfferingFactory(project=ProjectFactory(name="Other"))
    post_timesheet(session, timesheet(session, ResourceFactory(rates={"cost": "10"}), CROSSING,
                                      [(other, CROSSING, 1)]).id)
    body = client.get("/finance/actuals").get_data(as_text=True)
    assert '<strong id="ledger-count">3</strong>' in body
    february = months["2026-02"].id
    body = client.get(f"/finance/actuals?period={february}&project={project.id}").get_data(as_text=True)
    assert '<strong id="ledger-count">1</strong>' in body and '<strong id="ledger-amount">400.00</strong>' in body
    csv = client.get(f"/finance/actuals.csv?period={february}&project={project.id}", buffered=True).get_data(
        as_text=True)
    assert csv.count("\r\n") == 2 and "Northwind" in csv and "Other" not in csv
    assert client.get("/finance/actuals?kind=forecast").get_data(as_text=True).count('class="txn txn-forecast"') == 1


def test_the_actuals_page_says_when_the_sync_is_off(client, login_as, session, org):
    org.finance_sync_enabled = False
    session.flush()
    login_as("admin")
    assert "approving timesheets posts nothing" in client.get("/finance/actuals").get_data(as_text=True)
    login_as("staff")
    assert client.get("/finance/actuals").status_code == 403


def test_overlapping_fiscal_periods_are_refused_on_the_page(client, login_as, session, months):
    login_as("admin")
    response = client.post("/finance/fiscal-periods", htmx=True,
                           data={"name": "Spring", "start_date": "2026-03-15", "end_date": "2026-04-15"})
    assert response.status_code == 422 and "may not overlap: 2026-03" in response.get_data(as_text=True)
    assert session.scalar(select(FiscalPeriod).where(FiscalPeriod.name == "Spring")) is None
    response = client.post("/finance/fiscal-periods", htmx=True,
                           data={"name": "2026-07", "start_date": "2026-07-01", "end_date": "2026-07-31"})
    assert response.status_code == 200 and "2026-07" in response.get_data(as_text=True)


def test_locking_and_unlocking_a_period_from_the_page(client, login_as, session, months, run_jobs):
    login_as("admin")
    period = months["2026-01"]
    response = client.post(f"/finance/fiscal-periods/{period.id}/lock", htmx=True)
    assert response.status_code == 200 and "Locked 2026-01" in response.get_data(as_text=True)
    session.refresh(period)
    assert period.locked
    response = client.post(f"/finance/fiscal-periods/{period.id}/unlock", htmx=True)
    body = response.get_data(as_text=True)
    assert "Unlocked 2026-01" in body and "/sync-runs/" in body  # the run re-posting what the lock held back
    run_jobs()


def test_mpe_users_see_the_pages_but_only_admins_lock(client, login_as, session, months):
    login_as("pm", permissions=["maintain_projects"])
    assert client.get("/finance/fiscal-periods").status_code == 200
    assert client.post(f"/finance/fiscal-periods/{months['2026-01'].id}/lock").status_code == 403


def test_cost_categories_are_added_and_edited_on_their_pages(client, login_as, session):
    login_as("admin")
    response = client.post("/finance/cost-categories", htmx=True, data={"name": "Subcontractors", "code": "SUB"})
    assert response.headers.get("HX-Redirect", "").endswith("/finance/cost-categories")
    category = session.scalar(select(CostCategory).where(CostCategory.name == "Subcontractors"))
    response = client.post(f"/finance/cost-categories/{category.id}", htmx=True,
                           data={"name": "", "code": "SUB", "active": "y"})
    assert response.status_code == 422
    client.post(f"/finance/cost-categories/{category.id}", htmx=True, data={"name": "Contractors", "code": "SUB"})
    session.refresh(category)
    assert (category.name, category.active) == ("Contractors", False)


def test_post_now_starts_a_run_the_page_can_watch(client, session, org, run_jobs):
    admin = UserFactory(role="admin")
    org.finance_sync_enabled = False
    sheet = timesheet(session, ResourceFactory(rates={"cost": "50"}), MONDAY, [(OfferingFactory(), MONDAY, 8)])
    post_timesheet(session, sheet.id)
    org.finance_sync_enabled = True
    session.flush()
    client.login(admin)
    assert "Post now" in client.get("/finance/actuals").get_data(as_text=True)
    response = client.post("/finance/post-held", htmx=True)
    assert response.status_code == 200 and "sync-run-" in response.get_data(as_text=True)
    run_jobs()
    session.refresh(sheet)
    assert sheet.posting_status == "posted"
