"""Expenses (cost entries): people report their own costs on projects that take them (seed 004).

Whether a project takes a cost now is its stage's and its own options' decision
(policy.cost_entry_refusal): open for cost, who may enter costs, which cost categories. PMs transfer and
adjust cost entries under the stage's "transfer cost" and "adjust time and cost" rights.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal import audit
from portal.auth import policy
from portal.auth.models import User
from portal.errors import InvalidInput, NotAllowed, NotFound, get_or_raise
from portal.expenses.models import Expense
from portal.finance.models import CostCategory
from portal.planning.tasks import task_for_entry
from portal.projects.entry_settings import allowed_category_ids
from portal.projects.models import Project, Resource
from portal.projects.services import MAX_MONEY, get_project
from portal.timesheets.entries import resource_of

EXPENSE_FIELDS = ["project_id", "resource_id", "cost_category_id", "task_id", "spent_on", "amount", "description",
                  "billable"]


def clean_amount(amount: Any) -> Decimal:
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        raise InvalidInput("Enter the amount as a number, like 42.50.", fields={"amount": "Enter a number."}) from None
    if value <= 0 or value > MAX_MONEY:
        raise InvalidInput("An amount is more than 0 and at most 1,000,000,000.", fields={"amount": "Out of range."})
    return value


def get_expense(session: Session, expense_id: int) -> Expense:
    return get_or_raise(session, Expense, expense_id, "expense")


def _check_owner(session: Session, actor: User | str | None, resource_id: int) -> None:
    """People report their own costs; admins anyone's."""
    if not isinstance(actor, User) or policy.is_admin(actor):
        return
    own = resource_of(session, actor)
    if own is None or own.id != resource_id:
        raise NotAllowed("You can report costs only for yourself.")


def _check_rules(session: Session, project: Project, resource_id: int, cost_category_id: int | None,
                 task_id: int | None) -> None:
    category = session.get(CostCategory, cost_category_id) if cost_category_id else None
    if category is None or not category.active:
        raise InvalidInput("Choose a cost category.", fields={"cost_category_id": "Choose a category."})
    refusal = policy.cost_entry_refusal(project, resource_id, cost_category_id,
                                        allowed_category_ids(session, project.id))
    if refusal:
        raise NotAllowed(refusal)
    task_for_entry(session, project.id, task_id)


def add_expense(session: Session, actor: User | str | None, *, resource_id: int, project_id: int | None,
                spent_on: date, amount: Any, cost_category_id: int | None, description: str = "",
                task_id: int | None = None, billable: bool = True) -> Expense:
    if project_id is None or session.get(Project, project_id) is None:
        raise InvalidInput("Choose the project.", fields={"project_id": "Choose a project."})
    project = get_project(session, project_id)
    if session.get(Resource, resource_id) is None:
        raise NotFound("That person does not exist.")
    _check_owner(session, actor, resource_id)
    if spent_on is None:
        raise InvalidInput("Enter the date of the expense.", fields={"spent_on": "Enter a date."})
    value = clean_amount(amount)
    if not (description or "").strip():
        raise InvalidInput("Say what the expense was for.", fields={"description": "Describe the expense."})
    _check_rules(session, project, resource_id, cost_category_id, task_id)
    expense = Expense(project_id=project.id, resource_id=resource_id, cost_category_id=cost_category_id,
                      task_id=task_id, spent_on=spent_on, amount=value, description=description.strip(),
                      billable=billable, created_by_id=actor.id if isinstance(actor, User) else None)
    session.add(expense)
    session.flush()
    audit.record(session, actor, "expense.created", expense, after=audit.snapshot(expense, EXPENSE_FIELDS),
                 summary=f"{value} spent on {project.name} ({spent_on})")
    return expense


def delete_expense(session: Session, actor: User | str | None, expense_id: int) -> None:
    """Withdraw one's own expense, while its project still takes costs."""
    expense = get_expense(session, expense_id)
    _check_owner(session, actor, expense.resource_id)
    refusal = policy.cost_entry_refusal(expense.project)
    if refusal:
        raise NotAllowed(refusal)
    audit.record(session, actor, "expense.deleted", expense, before=audit.snapshot(expense, EXPENSE_FIELDS),
                 summary=f"Deleted an expense of {expense.amount} on {expense.project.name}")
    session.delete(expense)
    session.flush()


def _record(session: Session, actor: User | str | None, expense: Expense, before: dict, action: str,
            summary: str) -> None:
    old, new = audit.changes(before, audit.snapshot(expense, EXPENSE_FIELDS))
    if new:
        audit.record(session, actor, action, expense, before=old, after=new, summary=summary)


def transfer_expenses(session: Session, actor: User | str | None, expense_ids: list[int],
                      target_project_id: int | None) -> list[Expense]:
    """Move cost entries to another project the PM manages, open for cost transfers; all or none."""
    if not expense_ids:
        raise InvalidInput("Tick the expenses to transfer.", fields={"expense_ids": "Tick at least one."})
    target = session.get(Project, target_project_id) if target_project_id else None
    if target is None:
        raise InvalidInput("Choose the project to transfer to.", fields={"target_project_id": "Choose one."})
    policy.refuse(policy.transfer_onto_refusal(actor, target, "cost"))
    moved = []
    for expense_id in expense_ids:
        expense = get_expense(session, expense_id)
        source = expense.project
        policy.refuse(policy.transfer_off_refusal(actor, source, "cost"))
        if expense.project_id == target.id:
            continue
        before = audit.snapshot(expense, EXPENSE_FIELDS)
        expense.project_id, expense.task_id = target.id, None
        session.flush()
        session.expire(expense, ["project"])
        _record(session, actor, expense, before, "expense.transferred",
                f"Expense of {expense.amount} transferred from {source.name} to {target.name}")
        moved.append(expense)
    return moved


def adjust_expense(session: Session, actor: User | str | None, expense_id: int, *, amount: Any,
                   cost_category_id: int | None, task_id: int | None, billable: bool) -> Expense:
    """Write a cost up or down, or change its category, task or billable flag ("adjust time and cost")."""
    expense = get_expense(session, expense_id)
    project = expense.project
    if isinstance(actor, User):
        policy.require(policy.can_adjust_time_cost(actor, project),
                       f"You cannot adjust costs while {project.name} is in {project.stage.name}.")
    value = clean_amount(amount)
    category = session.get(CostCategory, cost_category_id) if cost_category_id else None
    if category is None:
        raise InvalidInput("Choose a cost category.", fields={"cost_category_id": "Choose a category."})
    task_for_entry(session, project.id, task_id)
    before = audit.snapshot(expense, EXPENSE_FIELDS)
    expense.amount, expense.cost_category_id, expense.task_id, expense.billable = (value, cost_category_id,
                                                                                   task_id, billable)
    session.flush()
    _record(session, actor, expense, before, "expense.adjusted", f"Expense on {project.name} adjusted")
    return expense


def expenses_of(session: Session, resource_id: int, limit: int = 50) -> list[Expense]:
    return list(session.scalars(select(Expense).where(Expense.resource_id == resource_id)
                                .options(selectinload(Expense.project).selectinload(Project.stage),
                                         selectinload(Expense.cost_category))
                                .order_by(Expense.spent_on.desc(), Expense.id.desc()).limit(limit)))


def project_expenses(session: Session, project_id: int, start: date, end: date) -> list[Expense]:
    return list(session.scalars(select(Expense).where(Expense.project_id == project_id, Expense.spent_on >= start,
                                                      Expense.spent_on <= end)
                                .options(selectinload(Expense.resource), selectinload(Expense.cost_category))
                                .order_by(Expense.spent_on, Expense.id)))
