"""The timesheet page's finance banner says what was posted, and polls while a posting runs (issue 15, item 10)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from portal.finance import services as finance
from portal.projects.models import ResourceRate
from portal.timesheets import workflow
from tests.factories import OfferingFactory, ResourceFactory
from tests.finance.support import MONDAY, timesheet


@pytest.fixture
def approver(login_as):
    return login_as("approver")


def _approved(session, run_jobs, resource, entries, approver):
    sheet = timesheet(session, resource, MONDAY, entries, status="submitted")
    workflow.transition(session, approver, sheet.id, "approve", sheet.version)
    session.commit()
    run_jobs()
    session.expire_all()
    return sheet


def _banner(client, sheet) -> str:
    body = client.get(f"/timesheets/{sheet.id}").get_data(as_text=True)
    return body[body.index('id="posting-note"'):body.index("</div>", body.index('id="posting-note"'))]


def test_everything_posted_says_so(client, session, org, run_jobs, approver):
    resource = ResourceFactory(rates={"cost": "50"})
    sheet = _approved(session, run_jobs, resource, [(OfferingFactory(), MONDAY, "7.5")], approver)
    banner = _banner(client, sheet)
    assert "note-ok" in banner and "Actuals posted to finance" in banner and "all 7.5 h." in banner


def test_nothing_posted_for_want_of_a_rate_is_not_a_green_banner(client, session, org, run_jobs, approver):
    resource = ResourceFactory(name="Rateless")
    sheet = _approved(session, run_jobs, resource, [(OfferingFactory(), MONDAY, 8)], approver)
    banner = _banner(client, sheet)
    assert "note-ok" not in banner and "Actuals posted" not in banner
    assert "Nothing was posted to finance." in banner
    assert "8 h not posted: Rateless has no cost rate effective on 02 Mar." in banner


def test_nothing_posted_at_a_rate_of_zero_says_why(client, session, org, run_jobs, approver):
    resource = ResourceFactory(name="Pro Bono", rates={"cost": "0"})
    sheet = _approved(session, run_jobs, resource, [(OfferingFactory(), MONDAY, 8)], approver)
    banner = _banner(client, sheet)
    assert "Nothing was posted to finance." in banner and "rate of 0 they come to nothing" in banner


def test_part_posted_says_how_much_and_why_not_the_rest(client, session, org, run_jobs, approver):
    resource = ResourceFactory(name="New Starter")
    session.add(ResourceRate(resource=resource, rate_type="cost", amount=Decimal("50"),
                             effective_from=MONDAY + timedelta(days=1)))
    offering = OfferingFactory()
    sheet = _approved(session, run_jobs, resource, [(offering, MONDAY, 8), (offering, MONDAY + timedelta(days=1), 6)],
                      approver)
    banner = _banner(client, sheet)
    assert "Posted to finance" in banner and "6 h of 14 h." in banner
    assert "8 h not posted: New Starter has no cost rate effective on 02 Mar." in banner


def test_a_locked_period_holds_the_hours_back_and_the_banner_says_until_when(client, session, org, months, run_jobs,
                                                                           approver):
    finance.set_period_lock(session, "test", months["2026-03"].id, True)
    resource = ResourceFactory(rates={"cost": "50"})
    sheet = _approved(session, run_jobs, resource, [(OfferingFactory(), MONDAY, 8)], approver)
    banner = _banner(client, sheet)
    assert "Nothing was posted to finance." in banner
    assert "8 h held back: 2026-03 is locked; they are posted when it is unlocked." in banner


def test_the_banner_polls_while_posting_and_stops_when_done(client, session, org, run_jobs, approver):
    resource = ResourceFactory(rates={"cost": "50"})
    sheet = timesheet(session, resource, MONDAY, [(OfferingFactory(), MONDAY, 8)], status="submitted")
    workflow.transition(session, approver, sheet.id, "approve", sheet.version)
    session.commit()

    pending = client.get(f"/timesheets/{sheet.id}/posting", htmx=True).get_data(as_text=True)
    assert "Posting the actuals to finance…" in pending
    assert f'hx-get="/timesheets/{sheet.id}/posting"' in pending and 'hx-trigger="load delay:1s"' in pending

    run_jobs()
    done = client.get(f"/timesheets/{sheet.id}/posting", htmx=True).get_data(as_text=True)
    assert "Actuals posted to finance" in done and "hx-get" not in done.split('id="timesheet-finance"')[0]
    # The approver sees money: the finance card comes along out of band, now with the transaction.
    assert 'id="timesheet-finance" hx-swap-oob="true"' in done and "400.00" in done


def test_only_those_who_see_the_timesheet_poll_its_posting(client, session, org, login_as):
    sheet = timesheet(session, ResourceFactory(), MONDAY, [(OfferingFactory(), MONDAY, 8)], status="approved")
    login_as("staff")
    assert client.get(f"/timesheets/{sheet.id}/posting", htmx=True).status_code == 403
