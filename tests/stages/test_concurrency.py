"""Concurrent stage-editor saves and budget checks on PostgreSQL (row locks, unique keys)."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.auth.models import Permission, User
from portal.extensions import db
from portal.mail import OutboundEmail
from portal.stages import notifications, services
from portal.stages.models import BudgetAlert, Stage
from tests.factories import (
    AssignmentFactory,
    ProjectFactory,
    ResourceFactory,
    TimeEntryFactory,
    UserFactory,
    stage,
)
from tests.stages.helpers import set_flags

pytestmark = [pytest.mark.postgres, pytest.mark.committed]


def in_thread(app, work):
    """Run `work(session)` in its own app context (its own session and connection); keep any error."""
    errors = []

    def run():
        with app.app_context():
            try:
                work(db.session)
            except Exception as error:  # reported by the caller
                errors.append(error)
                db.session.rollback()
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_two_admins_saving_different_settings_of_one_stage_keep_both_changes(app, committed):
    with committed():
        first = UserFactory(role="admin", permissions=[Permission.SYSTEM_SETTINGS]).id
        second = UserFactory(role="admin", permissions=[Permission.SYSTEM_SETTINGS]).id
        stage_id = stage("Planning").id
    first_holds_the_lock, release_first = threading.Event(), threading.Event()

    def save_time_cost(session):
        services.update_stage_settings(session, session.get(User, first), stage_id, {"open_for_time": "y"})
        first_holds_the_lock.set()
        release_first.wait(10)
        session.commit()

    def save_likelihood(session):
        services.update_stage_settings(session, session.get(User, second), stage_id, {"percent_likelihood": "75"})
        session.commit()

    thread_one, errors_one = in_thread(app, save_time_cost)
    assert first_holds_the_lock.wait(10)
    thread_two, errors_two = in_thread(app, save_likelihood)
    thread_two.join(0.5)
    assert thread_two.is_alive(), "the second save waits for the first one's row lock"
    release_first.set()
    thread_one.join(10)
    thread_two.join(10)
    assert errors_one == errors_two == []
    with app.app_context():
        saved = db.session.get(Stage, stage_id)
        assert (saved.flag("open_for_time"), saved.flag("percent_likelihood")) == (True, 75)


def test_concurrent_budget_checks_alert_once(app, committed):
    with committed():
        pm = UserFactory(role="pm")
        project = ProjectFactory(pm=pm, stage=stage("In Progress"))
        set_flags(stage("In Progress"), send_budget_alerts=True)
        person = ResourceFactory()
        assignment = AssignmentFactory(offering__project=project, offering__budget_amount=Decimal("100"),
                                       resource=person, bill_rate=Decimal("100"))
        TimeEntryFactory(offering=assignment.offering, resource=person, work_date=date(2026, 3, 3),
                         hours=Decimal("2"), bill_rate=Decimal("100"))
        offering_id = assignment.offering_id
    start = threading.Barrier(4)

    def check(session):
        start.wait(10)
        with app.test_request_context():
            notifications.check_budget_alerts(session, offering_id)
        session.commit()

    threads = [in_thread(app, check) for _ in range(4)]
    for thread, _ in threads:
        thread.join(20)
    assert [errors for _, errors in threads] == [[], [], [], []]
    with app.app_context():
        assert sorted(db.session.scalars(select(BudgetAlert.threshold))) == [80, 100]
        assert db.session.scalar(select(func.count()).select_from(OutboundEmail)
                                 .where(OutboundEmail.category == "budget_alert")) == 2
