"""A project's Finance tab (issue 15 items 16-18): hours, cost and revenue per offering against budget, and a
burn-up chart per offering drawn with the vendored uPlot, its numbers in a table beside it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from tests.conftest import browser_login
from tests.factories import (
    AssignmentFactory,
    BookingFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    TimeEntryFactory,
    UserFactory,
)


@pytest.mark.browser
def test_the_finance_tab_draws_a_burn_up_per_offering_beside_its_table(page, committed):
    this_monday = date.today() - timedelta(days=date.today().weekday())
    with committed():
        UserFactory(email="admin@example.test", role="admin")
        project = ProjectFactory(name="Northwind")
        build = OfferingFactory(project=project, name="Build", budget_amount=Decimal("3000"),
                                start_date=this_monday - timedelta(weeks=2), end_date=this_monday + timedelta(weeks=2))
        dana = ResourceFactory(name="Dana", rates={"cost": "40"})
        AssignmentFactory(offering=build, resource=dana, bill_rate=Decimal("100"))
        for weeks_ago in (2, 1, 0):
            TimeEntryFactory(offering=build, resource=dana, work_date=this_monday - timedelta(weeks=weeks_ago),
                             hours=Decimal("8"))
        BookingFactory(project=project, offering=build, resource=dana, on=this_monday + timedelta(weeks=1, days=1),
                       hours=Decimal("8"))
        project_id, build_id = project.id, build.id

    browser_login(page, "admin@example.test")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/projects/{project_id}/finance")
    row = page.locator(f"#figures-{build_id}").inner_text()
    assert "24.00" in row and "960.00" in row and "2,400.00" in row and "80 %, revenue" in row
    figure = page.locator(f"#burnup-{build_id}")
    figure.locator(".uplot canvas").wait_for()  # uPlot, loaded from static/vendor when the tab shows a chart
    assert "Budget" in figure.locator(".u-legend").inner_text()
    table = figure.locator(".burnup-table").inner_text()
    assert "2,400.00" in table and "3,200.00" in table  # the actual so far, and the forecast with the booking
    assert page.evaluate("!!window.uPlot")
    page.set_viewport_size({"width": 390, "height": 800})
    card = page.locator("#burn-ups")
    assert card.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
