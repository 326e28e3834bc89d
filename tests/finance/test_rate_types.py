"""Rate types in the ledger (issue 15 items 11 and 16): each transaction records the rate type it was posted at,
the pages say which amounts are which, open periods are re-posted at a new rate type in one audited run, and
locked periods say what they hold."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.audit import AuditEvent
from portal.errors import Conflict
from portal.finance import batches
from portal.finance import services as finance
from portal.finance.posting import post_timesheet
from tests.factories import OfferingFactory, ProjectFactory, ResourceFactory, UserFactory
from tests.finance.support import MONDAY, actuals, timesheet, unposted

FEBRUARY_WEEK = date(2026, 2, 9)


@pytest.fixture
def mixed(session, org, months):
    """Dana's February week posted at cost rates, February locked, then the rate type changed to sell."""
    project = ProjectFactory(name="Northwind")
    build = OfferingFactory(project=project, name="Build")
    dana = ResourceFactory(name="Dana", rates={"cost": "50", "sell": "120"})
    february = timesheet(session, dana, FEBRUARY_WEEK, [(build, FEBRUARY_WEEK, 8)])
    march = timesheet(session, dana, MONDAY, [(build, MONDAY, 4)])
    for sheet in (february, march):
        post_timesheet(session, sheet.id)
    finance.set_period_lock(session, "test", months["2026-02"].id, True)
    org.finance_rate_type = "sell"
    session.flush()
    return project, february, march


def test_a_transaction_records_the_rate_type_it_was_posted_at(session, mixed):
    assert [(t.rate_type, t.amount) for t in actuals(session)] == [("cost", Decimal("400.00")),
                                                                   ("cost", Decimal("200.00"))]


def test_re_posting_moves_open_periods_to_the_new_rate_type_and_locked_ones_say_what_they_hold(
        session, mixed, run_jobs):
    _, february, _ = mixed
    admin = UserFactory(role="admin")
    run = batches.start_repost(session, admin)
    session.commit()
    run_jobs()
    session.refresh(run)
    assert run.status == "succeeded" and run.progress_total == 1  # the March week; February is locked
    assert [(t.date.month, t.rate_type, t.amount) for t in actuals(session)] == [
        (2, "cost", Decimal("400.00")), (3, "sell", Decimal("480.00"))]
    (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "finance.repost_started"))
    assert event.actor_id == admin.id and event.after == {"rate_type": "sell"}

    post_timesheet(session, february.id)  # anything that posts the locked week again records what it holds
    (held,) = unposted(session)
    assert held.detail == ("2026-02 is locked and holds 8 h / 400.00 at cost rates for this portion; the "
                           "timesheet now says 8 h / 960.00 at sell rates.")


def test_re_posting_needs_the_sync_on_and_finance_rights(session, mixed):
    from portal.errors import NotAllowed

    with pytest.raises(NotAllowed):
        batches.start_repost(session, UserFactory(role="staff"))
    from portal.org.services import get_settings

    get_settings(session).finance_sync_enabled = False
    with pytest.raises(Conflict, match="Sync is off"):
        batches.start_repost(session, UserFactory(role="admin"))


def test_the_pages_say_which_amounts_are_at_which_rate_type(client, session, mixed, run_jobs):
    project, _, _ = mixed
    client.login(UserFactory(role="admin"))
    tab = client.get(f"/projects/{project.id}/finance").get_data(as_text=True)
    assert 'id="mixed-rate-types"' not in tab  # one rate type so far, only not the current one
    page = client.get("/finance/actuals").get_data(as_text=True)
    card = page.split('id="rate-types"')[1].split("</section>")[0]
    assert "posted at <strong>sell rates</strong> now" in card
    assert "Open periods: 1 actual transaction, 4.00 h / 200.00 at cost rates" in card
    assert "2026-02 (locked): 1 actual transaction, 8.00 h / 400.00 at cost rates" in card
    assert "Re-post open periods at sell rates" in card
    assert '<small class="rate-type" title="Posted at the cost rate">cost</small>' in page
    csv = client.get("/finance/actuals.csv", buffered=True).get_data(as_text=True).splitlines()
    assert csv[0].endswith(",rate_type") and csv[1].endswith(",cost")

    response = client.post("/finance/repost", htmx=True)
    assert response.status_code == 200 and "sync-run-" in response.get_data(as_text=True)
    run_jobs()
    tab = client.get(f"/projects/{project.id}/finance").get_data(as_text=True)
    note = tab.split('id="mixed-rate-types"')[1].split("</p>")[0]
    assert "400.00 at cost rates and 480.00 at sell rates" in note
    card = client.get("/finance/actuals").get_data(as_text=True).split('id="rate-types"')[1].split("</section>")[0]
    assert "Open periods" not in card and "2026-02 (locked)" in card
