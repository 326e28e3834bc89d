"""The demo shows each part of issue 16: reminders on, a stand-in for the demo approver, and fiscal periods
open, on hold and closed."""

from __future__ import annotations

from datetime import date, timedelta

import time_machine
from sqlalchemy import select

from portal import demo
from portal.auth.models import User
from portal.columns import utcnow
from portal.finance.models import FiscalPeriod
from portal.org.services import get_settings
from portal.timesheets import approvals, reminders, standins


def test_the_demo_has_a_stand_in_reminders_and_periods_in_every_state(session):
    with time_machine.travel(date(2026, 6, 10), tick=False):  # mid-year: months on both sides of today
        demo.load(session)
        demo.load(session)  # idempotent
        session.flush()
        states = dict(session.execute(select(FiscalPeriod.name, FiscalPeriod.state)).all())
        assert [states[f"2026-0{m}"] for m in range(1, 7)] == ["closed"] * 3 + ["on_hold", "open", "open"]
        sky = session.scalar(select(User).where(User.email == "staff@demo.test"))
        avery = session.scalar(select(User).where(User.email == "approver@demo.test"))
        assert standins.principals(session, sky) == [avery]
        queue = approvals.approval_queue(session, sky, approvals.Filters())
        assert queue.rows and all(r.on_behalf == avery and r.sheet.resource.user_id != sky.id for r in queue.rows)
        assert get_settings(session).reminders_enabled
        planned = reminders.plan(session, utcnow(), by_hand=True)
        assert "pm@demo.test" in {d.user.email for d in planned.reminders}
        assert "approver@demo.test" not in {d.user.email for d in planned.reminders}  # never logs time
        (stand_in,) = standins.current(session, avery)
        assert stand_in.ends_on - stand_in.starts_on == timedelta(days=6)
