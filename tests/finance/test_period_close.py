"""Period close (issue 16): periods open, on hold (reopenable) or closed (for good), and the finance rule for
actuals that would land in a period on hold: kept as unposted portions, or posted late on the first day of the
next open period with a note naming the period they belong to (always so for a closed period)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.audit import AuditEvent
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.finance import batches
from portal.finance import services as finance
from portal.finance.models import FiscalPeriod
from portal.finance.posting import post_timesheet
from portal.integrations.models import Connection
from portal.runs.models import SyncRun
from portal.timesheets import conflicts, workflow
from portal.timesheets.models import TimesheetConflict
from tests.factories import OfferingFactory, ResourceFactory, UserFactory
from tests.finance.support import CROSSING, actuals, timesheet, unposted

FEB_WEEK = date(2026, 2, 9)  # Mon 9 – Sun 15 Feb 2026, inside 2026-02


def _audit(session, action):
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def _run_latest(session, kind):
    """What the worker does with the run a state or rule change started."""
    run = session.scalars(select(SyncRun).where(SyncRun.kind == kind).order_by(SyncRun.id.desc())).first()
    for target_kind, ident in batches.list_targets(session, run):
        batches.bring_up_to_date(session, target_kind, ident)


def _feb_sheet(session, hours=8, status="approved"):
    return timesheet(session, ResourceFactory(name="Dana", rates={"cost": "50"}), FEB_WEEK,
                     [(OfferingFactory(), FEB_WEEK, hours)], status=status)


def test_closing_needs_the_periods_name_and_an_admin(session, org, months):
    admin, mpe = UserFactory(role="admin"), UserFactory(role="pm", permissions=["maintain_projects"])
    period = months["2026-02"]
    with pytest.raises(NotAllowed):
        finance.close_period(session, mpe, period.id, "2026-02")
    with pytest.raises(InvalidInput, match=r"type the period's name \(2026-02\)"):
        finance.close_period(session, admin, period.id, "2026-2")
    assert period.state == "open"
    finance.close_period(session, admin, period.id, " 2026-02 ")
    assert (period.state, period.closed_by_id, period.locked) == ("closed", admin.id, True)
    (closed,) = _audit(session, "fiscal_period.closed")
    assert closed.before == {"state": "open"} and closed.after["state"] == "closed"


def test_nobody_reopens_or_changes_a_closed_period(session, org, months):
    period = months["2026-02"]
    finance.close_period(session, "test", period.id, "2026-02")
    super_admin = UserFactory(role="super_admin")
    for change in (lambda: finance.set_period_lock(session, super_admin, period.id, False),
                   lambda: finance.set_period_lock(session, super_admin, period.id, True),
                   lambda: finance.close_period(session, super_admin, period.id, "2026-02")):
        with pytest.raises(Conflict, match="2026-02 is closed: a closed period cannot be reopened"):
            change()
    assert period.state == "closed"


def test_hold_rule_keeps_actuals_of_a_period_on_hold_unposted_until_it_reopens(session, org, months):
    finance.set_period_lock(session, "test", months["2026-02"].id, True)
    sheet = _feb_sheet(session)
    post_timesheet(session, sheet.id)
    assert actuals(session) == []
    (portion,) = unposted(session)
    assert (portion.amount, portion.label) == (Decimal("400.00"), "Not posted: period on hold")
    assert "posted when it is reopened" in portion.detail


def test_closing_a_period_on_hold_posts_what_it_held_back_on_the_first_day_of_the_next_open_period(
        session, org, months):
    finance.set_period_lock(session, "test", months["2026-02"].id, True)
    finance.set_period_lock(session, "test", months["2026-03"].id, True)  # the next period is on hold too
    sheet = _feb_sheet(session)
    post_timesheet(session, sheet.id)
    held = finance.holdings(session, [months["2026-02"].id])[months["2026-02"].id]
    assert (held.held_portions, held.held_hours, held.held_amount) == (1, Decimal("8"), Decimal("400.00"))

    finance.close_period(session, "test", months["2026-02"].id, "2026-02")
    _run_latest(session, batches.PERIOD_CLOSED)
    (late,) = actuals(session)
    assert (late.date, late.fiscal_period.name, late.belongs_to_period_id, late.amount) == (
        date(2026, 4, 1), "2026-04", months["2026-02"].id, Decimal("400.00"))
    assert late.split_note.startswith("Posted late: belongs to 2026-02 (closed), 09 Feb – 15 Feb 2026; posted on "
                                      "01 Apr 2026, the first open day after it (2026-04).")
    assert unposted(session) == []
    after = finance.holdings(session, [months["2026-02"].id, months["2026-04"].id])
    assert (after[months["2026-02"].id].late_out, after[months["2026-04"].id].late_in) == (1, 1)


def test_next_open_rule_posts_late_and_a_reopened_period_takes_its_money_back(session, org, months):
    finance.set_locked_period_rule(session, "test", "next_open")
    finance.set_period_lock(session, "test", months["2026-02"].id, True)
    sheet = _feb_sheet(session)
    post_timesheet(session, sheet.id)
    (late,) = actuals(session)
    assert (late.date, late.belongs_to_period_id, unposted(session)) == (date(2026, 3, 1), months["2026-02"].id, [])

    finance.set_period_lock(session, "test", months["2026-02"].id, False)
    _run_latest(session, batches.PERIOD_UNLOCKED)
    (home,) = actuals(session)
    assert (home.date, home.fiscal_period.name, home.belongs_to_period_id) == (date(2026, 2, 28), "2026-02", None)


def test_a_recall_after_a_close_posts_the_reversal_late(session, org, months):
    sheet = _feb_sheet(session)
    post_timesheet(session, sheet.id)
    (posted,) = actuals(session)
    finance.close_period(session, "test", months["2026-02"].id, "2026-02")
    workflow.recall(session, "test", sheet.id, sheet.version, "wrong project", then="draft")
    post_timesheet(session, sheet.id)
    kept, reversal = actuals(session)
    assert kept.id == posted.id and kept.amount == Decimal("400.00")  # the closed period is untouched
    assert (reversal.date, reversal.amount, reversal.hours, reversal.belongs_to_period_id) == (
        date(2026, 3, 1), Decimal("-400.00"), Decimal("-8"), months["2026-02"].id)
    assert unposted(session) == []


def test_a_held_tool_change_accepted_after_a_close_reverses_late(session, org, months):
    sheet = _feb_sheet(session)
    post_timesheet(session, sheet.id)
    finance.close_period(session, "test", months["2026-02"].id, "2026-02")
    connection = Connection(kind="toggl", status="connected")
    session.add(connection)
    session.flush()
    entry = sheet.entries[0]
    held = TimesheetConflict(timesheet_id=sheet.id, time_entry_id=entry.id, connection_id=connection.id,
                             external_id="77", action="delete", summary="Deleted in Toggl after approval")
    session.add(held)
    session.flush()
    conflicts.accept(session, UserFactory(role="approver"), held.id)
    post_timesheet(session, sheet.id)
    assert [(t.date, t.amount) for t in actuals(session)] == [(date(2026, 2, 15), Decimal("400.00")),
                                                              (date(2026, 3, 1), Decimal("-400.00"))]


def test_changing_the_rule_brings_held_portions_and_late_postings_in_line(session, org, months):
    admin = UserFactory(role="admin")
    finance.set_period_lock(session, admin, months["2026-02"].id, True)
    sheet = timesheet(session, ResourceFactory(rates={"cost": "50"}), CROSSING,
                      [(OfferingFactory(), CROSSING, 8), (OfferingFactory(), date(2026, 3, 1), 2)])
    post_timesheet(session, sheet.id)
    assert [t.amount for t in actuals(session)] == [Decimal("100.00")] and len(unposted(session)) == 1

    assert finance.set_locked_period_rule(session, admin, "next_open") is True
    _run_latest(session, batches.RULE_CHANGED)
    assert sorted((t.date, t.amount) for t in actuals(session)) == [(date(2026, 3, 1), Decimal("100.00")),
                                                                    (date(2026, 3, 1), Decimal("400.00"))]
    assert unposted(session) == []
    (changed,) = _audit(session, "finance.locked_period_rule_changed")
    assert (changed.actor_id, changed.after) == (admin.id, {"locked_period_actuals": "next_open"})

    finance.set_locked_period_rule(session, admin, "hold")
    _run_latest(session, batches.RULE_CHANGED)
    assert [t.amount for t in actuals(session)] == [Decimal("100.00")] and len(unposted(session)) == 1
    assert finance.set_locked_period_rule(session, admin, "hold") is False
    with pytest.raises(InvalidInput):
        finance.set_locked_period_rule(session, admin, "sometimes")
    with pytest.raises(NotAllowed):
        finance.set_locked_period_rule(session, UserFactory(role="pm", permissions=["maintain_projects"]), "hold")


def test_a_late_posting_after_the_last_period_goes_outside_every_period(session, org):
    admin = UserFactory(role="admin")
    only = finance.create_fiscal_period(session, admin, "2026-02", date(2026, 2, 1), date(2026, 2, 28))
    sheet = _feb_sheet(session)
    finance.close_period(session, admin, only.id, "2026-02")
    post_timesheet(session, sheet.id)
    (late,) = actuals(session)
    assert (late.date, late.fiscal_period_id, late.belongs_to_period_id) == (date(2026, 3, 1), None, only.id)
    assert "first open day after it." in late.split_note


# Pages -------------------------------------------------------------------------------------------------

def test_the_periods_page_shows_states_what_they_hold_back_and_the_allowed_actions(client, login_as, session, org,
                                                                                  months):
    login_as("admin")
    finance.set_period_lock(session, "test", months["2026-02"].id, True)
    post_timesheet(session, _feb_sheet(session).id)
    finance.close_period(session, "test", months["2026-01"].id, "2026-01")
    session.flush()
    page = client.get("/finance/fiscal-periods").get_data(as_text=True)
    row = page[page.index(f'id="period-{months["2026-02"].id}"'):]
    row = row[:row.index("</tr>")]
    assert "On hold" in row and "1 portion · 8.00 h · 400.00" in row and ">Reopen<" in row and "Close…" in row
    closed = page[page.index(f'id="period-{months["2026-01"].id}"'):]
    closed = closed[:closed.index("</tr>")]
    assert "Closed" in closed and "Nobody can reopen it" in closed and "Reopen" not in closed
    march = page[page.index(f'id="period-{months["2026-03"].id}"'):]
    assert "Put on hold" in march[:march.index("</tr>")]


def test_closing_from_the_page_asks_for_confirmation_naming_what_the_period_holds(client, login_as, session, org,
                                                                                  months):
    login_as("admin")
    period = months["2026-02"]
    post_timesheet(session, _feb_sheet(session).id)
    finance.set_period_lock(session, "test", period.id, True)
    post_timesheet(session, _feb_sheet(session, hours=2).id)
    session.flush()
    dialog = client.get(f"/finance/fiscal-periods/{period.id}/close", htmx=True).get_data(as_text=True)
    assert "Close 2026-02 for good?" in dialog and "cannot be reopened, by anyone" in dialog
    assert "1 transaction: 400.00 actual" in dialog
    assert "1 portion held back while it was on hold (2.00 h, 100.00)" in dialog

    refused = client.post(f"/finance/fiscal-periods/{period.id}/close", htmx=True, data={"confirm_name": "yes"})
    assert refused.status_code == 422 and "type the period&#39;s name (2026-02) to confirm" in refused.get_data(
        as_text=True)
    session.refresh(period)
    assert period.state == "on_hold"

    done = client.post(f"/finance/fiscal-periods/{period.id}/close", htmx=True, data={"confirm_name": "2026-02"})
    body = done.get_data(as_text=True)
    assert done.status_code == 200 and "Closed 2026-02 for good" in body and "/sync-runs/" in body
    session.refresh(period)
    assert period.state == "closed"
    again = client.post(f"/finance/fiscal-periods/{period.id}/unlock", htmx=True)
    assert again.status_code == 409 and "cannot be reopened" in again.get_data(as_text=True)


def test_the_rule_is_chosen_on_the_periods_page_by_admins(client, login_as, session, org):
    login_as("admin")
    response = client.post("/finance/fiscal-periods/rule", htmx=True, data={"rule": "next_open"})
    assert response.status_code == 200 and "post them on the first day of the next open period" in response.get_data(
        as_text=True)
    session.refresh(org)
    assert org.locked_period_actuals == "next_open"
    assert client.post("/finance/fiscal-periods/rule", htmx=True, data={"rule": "bogus"}).status_code == 422


def test_mpe_users_see_periods_but_cannot_close_them(client, login_as, session, months):
    login_as("pm", permissions=["maintain_projects"])
    period = months["2026-02"]
    assert client.get("/finance/fiscal-periods").status_code == 200
    closing = client.post(f"/finance/fiscal-periods/{period.id}/close", data={"confirm_name": "2026-02"})
    assert closing.status_code == 403
    assert client.post("/finance/fiscal-periods/rule", data={"rule": "next_open"}).status_code == 403
    assert session.get(FiscalPeriod, period.id).state == "open"


def test_the_timesheet_page_says_what_a_recall_does_to_actuals_in_locked_periods(client, login_as, session, org,
                                                                                months):
    login_as("approver")
    sheet = _feb_sheet(session)
    post_timesheet(session, sheet.id)
    finance.set_period_lock(session, "test", months["2026-02"].id, True)
    session.flush()
    page = client.get(f"/timesheets/{sheet.id}").get_data(as_text=True)
    assert ("Actuals of this timesheet lie in 2026-02, which is on hold: a recall leaves them there; the difference "
            "waits as an unposted portion until 2026-02 is reopened.") in page
    finance.close_period(session, "test", months["2026-02"].id, "2026-02")
    session.flush()
    page = client.get(f"/timesheets/{sheet.id}").get_data(as_text=True)
    assert ("which is closed: a recall leaves them there and posts the reversal on the first open day after it, "
            "noting that it belongs to 2026-02.") in page
