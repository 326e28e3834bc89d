"""Stage emails received by a real SMTP server on loopback: moves, created projects, budget alerts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from portal import jobs, queue
from portal.auth.models import Permission
from portal.projects import services as projects
from portal.stages import moves
from portal.stages.models import BudgetAlert
from portal.timesheets import entries
from tests.factories import (
    AssignmentFactory,
    ClientFactory,
    ProjectFactory,
    ResourceFactory,
    UserFactory,
    stage,
)
from tests.stages.helpers import set_flags


def received(mailbox, count):
    messages = mailbox.wait_for(count)
    assert len(messages) == count, [m["Subject"] for _, m in messages]
    return {tuple(envelope.rcpt_tos): message for envelope, message in messages}


def test_moving_a_project_emails_subscribers_and_the_pm_team_as_the_stages_say(app, session, run_jobs, mailbox):
    pm, deputy = UserFactory(role="pm", name="Pat PM"), UserFactory(role="pm")
    subscriber = UserFactory(role="admin", notify_stage_moves=True)
    UserFactory(role="admin", notify_stage_moves=True, active=False)
    UserFactory(role="client", notify_stage_moves=True, client_id=ClientFactory().id)
    UserFactory(role="staff")  # not subscribed
    project = ProjectFactory(stage=stage("Planning"), pm=pm, name="Data platform")
    session.flush()
    projects.set_pm_team(session, "test", project.id, pm.id, [deputy.id])
    set_flags(stage("Planning"), notify_list_moved_from=False, notify_pm_moved_from=False)
    set_flags(stage("In Progress"), notify_list_moved_to=True, notify_pm_moved_to=True)
    with app.test_request_context():
        moves.move_project_to_stage(session, pm, project.id, stage("In Progress").id)
    session.commit()
    run_jobs()
    messages = received(mailbox, 3)
    assert set(messages) == {(pm.email,), (deputy.email,), (subscriber.email,)}, "one email each, no shared To"
    message = messages[(subscriber.email,)]
    assert message["Subject"] == "Data platform moved to In Progress"
    body = message.get_content()
    assert "moved from Planning to In Progress by Pat PM" in body
    assert f"/projects/{project.id}" in body


def test_a_move_between_stages_that_notify_nobody_sends_nothing(app, session, run_jobs, mailbox):
    UserFactory(role="admin", notify_stage_moves=True)
    project = ProjectFactory(stage=stage("Opportunity"), pm=UserFactory(role="pm"))
    for name in ("Opportunity", "Planning"):
        set_flags(stage(name), notify_list_moved_to=False, notify_list_moved_from=False,
                  notify_pm_moved_to=False, notify_pm_moved_from=False)
    session.flush()
    with app.test_request_context():
        moves.move_project_to_stage(session, "test", project.id, stage("Planning").id)
    session.commit()
    run_jobs()
    assert list(mailbox) == [], "jobs ran: anything sent has arrived"


def test_closing_emails_say_the_project_is_closed(app, session, run_jobs, mailbox):
    pm = UserFactory(role="pm")
    project = ProjectFactory(stage=stage("Pre-Close"), pm=pm, start_date=date(2020, 1, 1))
    set_flags(stage("Closed"), notify_list_moved_to=False, notify_pm_moved_to=True)
    session.flush()
    with app.test_request_context():
        moves.move_project_to_stage(session, "test", project.id, stage("Closed").id)
    session.commit()
    run_jobs()
    (message,) = received(mailbox, 1).values()
    assert "time and costs can no longer be reported" in message.get_content()


def test_creating_a_project_in_a_stage_that_says_so_emails_the_pm_team_and_subscribers(app, session, run_jobs,
                                                                                       mailbox):
    creator = UserFactory(role="pm", permissions=[Permission.CREATE_PROJECTS], name="Cora Creator")
    pm, subscriber = UserFactory(role="pm"), UserFactory(role="admin", notify_stage_moves=True)
    set_flags(stage("Opportunity"), send_project_created_emails=True, allow_create_projects=True)
    set_flags(stage("Planning"), send_project_created_emails=False, allow_create_projects=True)
    client_id = ClientFactory(name="Globex").id
    with app.test_request_context():
        projects.create_project(session, creator, name="Quiet one", client_id=client_id,
                                stage_id=stage("Planning").id, pm_id=pm.id)
        projects.create_project(session, creator, name="Announced", client_id=client_id,
                                stage_id=stage("Opportunity").id, pm_id=pm.id)
    session.commit()
    run_jobs()
    messages = received(mailbox, 2)
    assert set(messages) == {(pm.email,), (subscriber.email,)}
    assert all(m["Subject"] == "New project: Announced" for m in messages.values())
    assert "created by Cora Creator: Announced for Globex, in the Opportunity stage" in \
        messages[(pm.email,)].get_content()


def budgeted_offering(session, *, budget: str, sends_alerts: bool, **resource_fields):
    """(person, assignment): someone on "Build", an offering with `budget` billed at 100 an hour, in a stage
    that does or does not send budget alerts."""
    project = ProjectFactory(stage=stage("In Progress"), pm=UserFactory(role="pm"))
    set_flags(project.stage, send_budget_alerts=sends_alerts)
    person = UserFactory(role="staff")
    resource = ResourceFactory(user_id=person.id, **resource_fields)
    assignment = AssignmentFactory(offering__project=project, offering__budget_amount=Decimal(budget),
                                   offering__name="Build", resource=resource, bill_rate=Decimal("100"))
    session.commit()
    return person, assignment


def log_time(app, session, person, assignment, day: int, hours: str) -> None:
    with app.test_request_context():
        entries.add_entry(session, person, resource_id=assignment.resource_id, offering_id=assignment.offering_id,
                          work_date=date(2026, 3, day), hours=hours)
    session.commit()


def test_budget_alerts_at_80_and_100_percent_once_each(app, session, run_jobs, mailbox):
    # The cost rate does not count: a billable offering's budget is measured in billed value.
    person, assignment = budgeted_offering(session, budget="1000", sends_alerts=True, rates={"cost": "40"})

    def log(hours, day):
        log_time(app, session, person, assignment, day, hours)
        run_jobs()

    log("7.5", 2)  # 750 of 1,000: nothing yet
    assert list(mailbox) == [], "jobs ran: anything sent has arrived"
    log("1", 3)  # 850: 80 %
    (first,) = received(mailbox, 1).values()
    assert first["Subject"] == "Budget alert: Build has reached 80 % of its budget"
    assert "Used so far: 850.00 (85 %)" in first.get_content()
    log("1", 4)  # 950: still past 80 % only, no second email
    assert len(mailbox) == 1
    log("2", 5)  # 1,150: 100 %
    messages = mailbox.wait_for(2)
    assert messages[1][1]["Subject"] == "Budget alert: Build has reached 100 % of its budget"
    assert sorted(session.scalars(select(BudgetAlert.threshold))) == [80, 100]


def test_the_hourly_sweep_sends_a_budget_alert_whose_check_job_was_lost(app, session, run_jobs, mailbox):
    person, assignment = budgeted_offering(session, budget="1000", sends_alerts=True)
    log_time(app, session, person, assignment, 2, "9")
    queue.get_queue(queue.MAIL, app).empty()  # the check job is lost, as in a Redis outage

    assert jobs.sweep_budget_alerts() == [assignment.offering_id]
    run_jobs()
    (alert,) = received(mailbox, 1).values()
    assert alert["Subject"] == "Budget alert: Build has reached 80 % of its budget"
    assert jobs.sweep_budget_alerts() == []  # sent once: nothing is due any more


def test_no_budget_alerts_in_stages_that_do_not_send_them(app, session, run_jobs, mailbox):
    person, assignment = budgeted_offering(session, budget="100", sends_alerts=False)
    log_time(app, session, person, assignment, 2, "8")
    run_jobs()
    assert list(mailbox) == [], "jobs ran: anything sent has arrived"
    assert session.scalars(select(BudgetAlert)).all() == []
    assert jobs.sweep_budget_alerts() == []
