"""A project's offerings in hours, cost and revenue, one budget figure, and burn-ups (issue 15 items 16-18)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from portal.finance.burnup import burn_ups
from portal.finance.posting import post_timesheet
from portal.stages import notifications
from portal.timesheets.actuals import Actuals, BudgetBasis, budget_use
from tests.factories import (
    AssignmentFactory,
    BookingFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    TimeEntryFactory,
    UserFactory,
)
from tests.finance.support import MONDAY, timesheet

TODAY = MONDAY + timedelta(days=9)  # Wednesday of the following week


@pytest.mark.parametrize("fields, source, basis, budget", [
    ({"budget_amount": Decimal("1000")}, "sold", BudgetBasis.REVENUE, Decimal("1000")),
    ({"budget_amount": Decimal("1000"), "billing_model": "internal"}, "sold", BudgetBasis.COST, Decimal("1000")),
    ({"sold_hours": Decimal("80"), "planned_hours": Decimal("100")}, "sold", BudgetBasis.HOURS, Decimal("80")),
    ({"sold_hours": Decimal("80"), "planned_hours": Decimal("100")}, "current", BudgetBasis.HOURS, Decimal("100")),
    ({"sold_hours": Decimal("0"), "planned_hours": Decimal("0")}, "sold", BudgetBasis.REVENUE, None),
])
def test_one_budget_figure_says_its_basis(session, fields, source, basis, budget):
    offering = OfferingFactory(**fields)
    use = budget_use(offering, Actuals(hours=Decimal("40"), cost=Decimal("2000"), revenue=Decimal("4800")), source)
    assert (use.basis, use.budget) == (basis, budget)
    assert use.used == {"revenue": Decimal("4800"), "cost": Decimal("2000"), "hours": Decimal("40")}[basis]
    assert "all" in use.described and "approved or not" in use.described


@pytest.fixture
def project(session, org):
    """Build (T&M, budget 2,000) with 12 h entered at bill rate 100 / cost rate 40 and 8 h booked next week;
    Support (internal, no money budget, 10 sold hours) with 4 h."""
    project = ProjectFactory(name="Northwind", start_date=MONDAY)
    build = OfferingFactory(project=project, name="Build", budget_amount=Decimal("2000"), start_date=MONDAY,
                            end_date=MONDAY + timedelta(weeks=3))
    support = OfferingFactory(project=project, name="Support", billing_model="internal", sold_hours=Decimal("10"),
                              start_date=MONDAY)
    dana = ResourceFactory(name="Dana", rates={"cost": "40", "sell": "90"})
    AssignmentFactory(offering=build, resource=dana, bill_rate=Decimal("100"))
    sheet = timesheet(session, dana, MONDAY, [(build, MONDAY, 8), (support, MONDAY, 4)])
    TimeEntryFactory(offering=build, resource=dana, work_date=MONDAY + timedelta(days=7), hours=Decimal("4"))
    BookingFactory(project=project, offering=build, resource=dana, on=MONDAY + timedelta(days=14),
                   hours=Decimal("8"))
    session.flush()
    post_timesheet(session, sheet.id)  # posted at cost rates: the figures do not depend on it
    return project


def test_burn_ups_add_up_the_budget_use_and_forecast_the_bookings(session, project):
    build, support = burn_ups(session, project, TODAY)
    assert (build.actuals.hours, build.actuals.cost, build.actuals.revenue) == (12, Decimal("480.00"),
                                                                             Decimal("1200.00"))
    assert (build.use.basis, build.use.used, build.use.percent) == ("revenue", Decimal("1200.00"), 60)
    assert build.weeks == [MONDAY + timedelta(weeks=i) for i in range(4)]
    assert build.actual == [Decimal("800"), Decimal("1200"), None, None]
    assert build.forecast == [None, Decimal("1200"), Decimal("2000"), Decimal("2000")]
    assert not build.forecast_over
    data = json.loads(build.chart_data())
    assert data["budget"] == 2000.0 and data["actual"][2] is None and data["unit"] == ""
    assert (support.use.basis, support.use.budget, support.use.used) == ("hours", Decimal("10"), Decimal("4"))
    assert json.loads(support.chart_data())["unit"] == "h"


def test_the_finance_tab_shows_hours_cost_and_revenue_whatever_the_rate_type(client, login_as, session, project):
    login_as("admin")
    body = client.get(f"/projects/{project.id}/finance", headers={"HX-Request": "true"}).get_data(as_text=True)
    table = body.split('id="finance-offerings"')[1].split("</table>")[0]
    build = table.split("Build")[1].split("</tr>")[0]
    assert ('<td class="num">12.00</td>' in build and '<td class="num">480.00</td>' in build
            and '<td class="num">1,200.00</td>' in build and "1,200.00 <small>(60 %, revenue)</small>" in build)
    support = table.split("Support")[1].split("</tr>")[0]
    assert "10.00 h" in support and "4.00 h <small>(40 %, hours)</small>" in support
    assert '<th class="num" id="project-revenue">1,200.00</th>' in table
    assert "the figure the budget alert emails send" in body
    assert f'id="burnup-{project.offerings[0].id}"' in body and 'data-burnup="{' in body
    assert "Posted actuals" in body and 'id="finance-items"' in body


def test_a_budget_alert_says_on_what_basis_it_measured(app, session, project, mailbox, run_jobs):
    from portal.stages.models import BudgetAlert
    from tests.stages.helpers import set_flags

    set_flags(project.stage, send_budget_alerts=True)
    project.pm = UserFactory(role="pm")
    support = project.offerings[1]
    TimeEntryFactory(offering=support, resource=ResourceFactory(), work_date=MONDAY, hours=Decimal("5"))
    session.commit()
    with app.test_request_context():
        assert notifications.check_budget_alerts(session, support.id) == [80]
    session.commit()
    run_jobs()
    (message,) = [m for _, m in mailbox.wait_for(1)]
    text = message.get_content()
    assert "Budget: 10.00 hours" in text and "Used so far: 9.00 hours (90 %)" in text
    assert "Measured as all hours entered (approved or not) against the sold hours" in text
    assert session.query(BudgetAlert).one().basis == "hours"
