"""Two cron processes running the reminders at the same moment send each reminder and each digest once
(PostgreSQL: two connections, the unique index on (resource, week, kind) and the settings row lock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import select

from portal.extensions import db
from portal.mail import OutboundEmail
from portal.org.services import get_settings
from portal.timesheets import reminders
from tests.factories import ResourceFactory, TimesheetFactory, UserFactory
from tests.finance.test_concurrency import _together

pytestmark = [pytest.mark.postgres, pytest.mark.committed]

MONDAY_0930 = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)


def _cron_run(app, now):
    with app.app_context():
        try:
            sent = reminders.send(db.session, now)
            db.session.commit()
            return len(sent.reminded), len(sent.digests)
        finally:
            db.session.remove()


def test_two_cron_processes_at_once_remind_each_person_and_digest_each_approver_once(app, committed):
    with committed() as session:
        settings = get_settings(session)
        settings.reminders_enabled, settings.reminder_weekday, settings.reminder_hour = True, 0, 9
        settings.expected_hours_per_week = Decimal("40")
        for name in ("Dan", "Mia", "Sol"):
            user = UserFactory(name=name, email=f"{name.lower()}@example.test")
            resource = ResourceFactory(name=name, user_id=user.id)
            if name == "Dan":
                TimesheetFactory(resource=resource, period_start=date(2026, 3, 2))
        UserFactory(email="avery@example.test", role="approver")

    with time_machine.travel(MONDAY_0930, tick=False):
        results = _together(2, lambda _: _cron_run(app, MONDAY_0930))
    assert sorted(r[0] for r in results) == [0, 3], results
    with time_machine.travel(MONDAY_0930 + timedelta(days=2), tick=False):
        results = _together(2, lambda _: _cron_run(app, MONDAY_0930 + timedelta(days=2)))
    assert sorted(r[1] for r in results) == [0, 1], results

    with committed() as session:
        recipients = [e.recipients for e in session.scalars(select(OutboundEmail).order_by(OutboundEmail.id))]
    assert sorted(r[0] for r in recipients) == ["avery@example.test", "dan@example.test", "mia@example.test",
                                                "sol@example.test"]
