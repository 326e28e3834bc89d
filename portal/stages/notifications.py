"""Email a stage asks for (seed 004): projects moved to or from it, projects created in it, budget alerts.

Everything here runs inside the transaction of the change and only queues mail (an outbox row sent by a
job after commit). Each recipient gets an email of their own, so subscribers never see each other's
addresses.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal import mail, queue
from portal.auth import policy
from portal.auth.models import Role, User
from portal.org.services import get_settings
from portal.projects.models import Offering, Project
from portal.stages.models import BudgetAlert, Stage
from portal.timesheets.actuals import budget_uses

log = logging.getLogger(__name__)

BUDGET_THRESHOLDS = (80, 100)
_BUDGET_CHECKS = "portal_budget_checks"


def actor_name(actor: User | str | None) -> str:
    if isinstance(actor, User):
        return actor.name
    return actor or "the system"


def project_link(project: Project) -> str:
    return f"{current_app.config['PORTAL_PUBLIC_URL'].rstrip('/')}/projects/{project.id}"


def subscribers(session: Session) -> list[User]:
    """Users with the notification setting "projects are moved to or from a stage"."""
    return list(session.scalars(select(User).where(User.notify_stage_moves.is_(True), User.active.is_(True),
                                                   User.role != Role.CLIENT)))


def pm_team(session: Session, project: Project) -> list[User]:
    ids = project.pm_team_ids()
    if not ids:
        return []
    return list(session.scalars(select(User).where(User.id.in_(ids), User.active.is_(True))))


def _send_each(session: Session, users: list[User], subject: str, template: str, category: str,
               **context: Any) -> list[str]:
    emails = sorted({u.email for u in users})
    for email in emails:
        mail.queue_email(session, [email], subject, template, category, **context)
    return emails


def notify_stage_move(session: Session, actor: User | str | None, project: Project, from_stage: Stage,
                      to_stage: Stage) -> list[str]:
    """Seed 004 "Notify cost-centre list users" and "Notify PM team when": moved to / moved from."""
    users: list[User] = []
    if from_stage.flag("notify_list_moved_from") or to_stage.flag("notify_list_moved_to"):
        users += subscribers(session)
    if from_stage.flag("notify_pm_moved_from") or to_stage.flag("notify_pm_moved_to"):
        users += pm_team(session, project)
    return _send_each(session, users, f"{project.name} moved to {to_stage.name}", "stage_move", "stage_move",
                      project=project, from_stage=from_stage, to_stage=to_stage, actor=actor_name(actor),
                      link=project_link(project))


def notify_project_created(session: Session, actor: User | str | None, project: Project) -> list[str]:
    """Seed 004 "Send project created emails": the PM team and the stage-move subscribers."""
    if not project.stage.flag("send_project_created_emails"):
        return []
    users = subscribers(session) + pm_team(session, project)
    return _send_each(session, users, f"New project: {project.name}", "project_created", "project_created",
                      project=project, actor=actor_name(actor), link=project_link(project))


# Budget alerts: on the one budget figure (portal.timesheets.actuals.budget_use), as the Finance tab shows it
def request_budget_check(session: Session, offering_id: int | None) -> None:
    """Queue one budget check per offering per transaction (a sync batch may touch hundreds of entries)."""
    if offering_id is None:
        return
    pending: set[int] = session.info.setdefault(_BUDGET_CHECKS, set())
    if offering_id in pending:
        return
    pending.add(offering_id)
    queue.enqueue_after_commit(session, "portal.jobs.check_budget_alerts", offering_id, queue=queue.MAIL)


@event.listens_for(Session, "after_commit")
def _forget_budget_checks(session: Session) -> None:
    session.info.pop(_BUDGET_CHECKS, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_budget_checks_on_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # a savepoint rolling back keeps the outer transaction's checks
        session.info.pop(_BUDGET_CHECKS, None)


def check_budget_alerts(session: Session, offering_id: int) -> list[int]:
    """Email the PM team when the offering's budget use reaches 80 % and 100 % of its budget (money or
    hours); returns the thresholds alerted now. Only in stages that send budget alerts; each threshold once
    per budget and basis."""
    offering = session.get(Offering, offering_id)
    if offering is None:
        return []
    project = offering.project
    if not project.stage.flag("send_budget_alerts"):
        return []
    use = budget_uses(session, [offering], get_settings(session).timesheet_hours_source)[offering.id]
    if not use.budget:
        return []
    sent: list[int] = []
    for threshold in BUDGET_THRESHOLDS:
        if use.used * 100 < threshold * use.budget:
            continue
        try:
            with session.begin_nested():  # the unique key decides between concurrent checks
                session.add(BudgetAlert(offering_id=offering.id, threshold=threshold, basis=use.basis,
                                        budget_amount=use.budget, used_amount=use.used))
        except IntegrityError:
            continue
        _send_each(session, [u for u in pm_team(session, project) if policy.can_see_money(u, project)],
                   f"Budget alert: {offering.name} has reached {threshold} % of its budget", "budget_alert",
                   "budget_alert", project=project, offering=offering, threshold=threshold, use=use,
                   link=project_link(project))
        sent.append(threshold)
    if sent:
        log.info("budget alerts %s sent for offering %s", sent, offering.id)
    return sent


def offerings_due_an_alert(session: Session) -> list[int]:
    """Offerings past a threshold whose alert was never sent: their check was lost (Redis down at the
    commit, a worker killed). The hourly sweep checks them again; the check itself sends each alert once."""
    budgeted = session.scalars(select(Offering).where(
        (Offering.budget_amount > 0) | (Offering.sold_hours > 0) | (Offering.planned_hours > 0)).options(
        selectinload(Offering.project).selectinload(Project.stage)))
    offerings = [o for o in budgeted if o.project.stage.flag("send_budget_alerts")]
    if not offerings:
        return []
    uses = budget_uses(session, offerings, get_settings(session).timesheet_hours_source)
    sent = set(session.execute(select(BudgetAlert.offering_id, BudgetAlert.threshold, BudgetAlert.basis,
                                      BudgetAlert.budget_amount)
                               .where(BudgetAlert.offering_id.in_(uses))).all())
    due = []
    for offering in offerings:
        use = uses[offering.id]
        if use.budget and any(use.used * 100 >= t * use.budget and (offering.id, t, use.basis, use.budget) not in sent
                              for t in BUDGET_THRESHOLDS):
            due.append(offering.id)
    return due
