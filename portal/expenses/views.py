"""My expenses, and a project's "Time & costs" tab where PMs transfer and adjust entries."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import htmx, inputs
from portal.auth import policy
from portal.auth.access import allow
from portal.columns import today
from portal.errors import Conflict, InvalidInput
from portal.expenses import services
from portal.expenses.forms import AdjustExpenseForm, AdjustTimeForm, ExpenseForm
from portal.expenses.models import Expense
from portal.extensions import db
from portal.finance.services import list_cost_categories
from portal.formatting import money, plural
from portal.forms import submit
from portal.planning.tasks import list_tasks
from portal.projects.models import Project
from portal.projects.tabs import render_tab
from portal.timesheets import adjustments
from portal.timesheets.entries import resource_of
from portal.timesheets.models import TimeEntry

bp = Blueprint("expenses", __name__)


def _task_choices(project_id: int | None) -> list:
    tasks = list_tasks(db.session, project_id, active_only=True) if project_id else []
    return [("", "—")] + [(t.id, t.name) for t in tasks]


def _category_choices() -> list:
    return [("", "Choose…")] + [(c.id, c.name) for c in list_cost_categories(db.session) if c.active]


# My expenses ------------------------------------------------------------------------------------------

def _expense_form() -> ExpenseForm:
    form = ExpenseForm()
    form.project_id.resolve(db.session)
    form.cost_category_id.choices = _category_choices()
    form.task_id.resolve(db.session)
    return form


@bp.route("/expenses", methods=["GET", "POST"])
@allow(policy.is_internal)
def my_expenses():
    resource = resource_of(db.session, current_user)
    form = _expense_form()
    if request.method == "GET":
        form.spent_on.data = today()
    created = submit(form, lambda: services.add_expense(
        db.session, current_user, resource_id=resource.id if resource else 0, project_id=form.project_id.data,
        spent_on=form.spent_on.data, amount=form.amount.data, cost_category_id=form.cost_category_id.data,
        description=form.description.data or "", task_id=form.task_id.data, billable=form.billable.data,
    )) if resource else None
    if created is not None:
        flash(f"Recorded {money(created.amount)} on {created.project.name}.", "success")
        return htmx.redirect_to(url_for(".my_expenses"))
    expenses = services.expenses_of(db.session, resource.id) if resource else []
    return htmx.render("expenses/mine.html", block="expense_form", form=form, resource=resource,
                       expenses=expenses, status=form.status)


@bp.route("/expenses/<int:expense_id>/delete", methods=["POST"])
@allow(policy.is_internal)
def delete_expense(expense_id: int):
    services.delete_expense(db.session, current_user, expense_id)
    db.session.commit()
    flash("Expense deleted.", "success")
    return htmx.redirect_to(url_for(".my_expenses"))


# A project's time and costs ---------------------------------------------------------------------------

def _month(value: str | None) -> date:
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return today().replace(day=1)


def _month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _entries_tab(project: Project, status: int = 200, **context):
    first = _month(request.values.get("month"))
    last = _month_end(first)
    entries = db.session.scalars(select(TimeEntry).where(
        TimeEntry.project_id == project.id, TimeEntry.work_date >= first, TimeEntry.work_date <= last)
        .options(selectinload(TimeEntry.resource), selectinload(TimeEntry.offering), selectinload(TimeEntry.task),
                 selectinload(TimeEntry.project_item))
        .order_by(TimeEntry.work_date, TimeEntry.id)).all()
    return render_tab("expenses/project.html", project, "entries", block="entries_panel", status=status,
                      entries=entries, expenses=services.project_expenses(db.session, project.id, first, last),
                      month=first, previous=(first - timedelta(days=1)).replace(day=1),
                      following=last + timedelta(days=1),
                      tasks=_task_choices(project.id), categories=_category_choices(), **context)


@bp.route("/projects/<int:project_id>/entries")
@allow(policy.is_internal)
def entries_tab(project_id: int):
    return _entries_tab(db.get_or_404(Project, project_id))


def _failed(project: Project, error: InvalidInput | Conflict, **context):
    db.session.rollback()
    return _entries_tab(project, status=422 if isinstance(error, InvalidInput) else 409,
                        panel_error=error.message, **context)


def _transfer(project: Project, action, one: str, many: str):
    """Run one transfer service; the tab comes back with the outcome, or with the reason it failed."""
    try:
        moved = action()
        db.session.commit()
    except (InvalidInput, Conflict) as error:
        return _failed(project, error)
    flash(f"Transferred {plural(len(moved), one, many)}.", "success")
    return _entries_tab(project)


@bp.route("/projects/<int:project_id>/entries/transfer", methods=["POST"])
@allow(policy.is_internal)
def transfer_time(project_id: int):
    project = db.get_or_404(Project, project_id)
    return _transfer(project, lambda: adjustments.transfer_time_entries(
        db.session, current_user, inputs.form_ids("entry_ids"), inputs.form_id("target_offering_id")),
        "time entry", "time entries")


@bp.route("/projects/<int:project_id>/expenses/transfer", methods=["POST"])
@allow(policy.is_internal)
def transfer_costs(project_id: int):
    project = db.get_or_404(Project, project_id)
    return _transfer(project, lambda: services.transfer_expenses(
        db.session, current_user, inputs.form_ids("expense_ids"), inputs.form_id("target_project_id")),
        "expense", "expenses")


@bp.route("/time-entries/<int:entry_id>/adjust", methods=["POST"])
@allow(policy.is_internal)
def adjust_time(entry_id: int):
    entry = db.get_or_404(TimeEntry, entry_id)
    project = entry.project
    form = AdjustTimeForm()
    form.task_id.choices = _task_choices(project.id)
    saved = submit(form, lambda: adjustments.adjust_time_entry(
        db.session, current_user, entry.id, hours=form.hours.data, bill_rate=form.bill_rate.data,
        task_id=form.task_id.data, billable=form.billable.data))
    if saved is None:
        return _entries_tab(project, status=form.status, adjust_form=form, adjust_entry_id=entry.id)
    return _entries_tab(project)


@bp.route("/expenses/<int:expense_id>/adjust", methods=["POST"])
@allow(policy.is_internal)
def adjust_cost(expense_id: int):
    expense = db.get_or_404(Expense, expense_id)
    project = expense.project
    form = AdjustExpenseForm()
    form.task_id.choices = _task_choices(project.id)
    form.cost_category_id.choices = _category_choices()
    saved = submit(form, lambda: services.adjust_expense(
        db.session, current_user, expense.id, amount=form.amount.data, cost_category_id=form.cost_category_id.data,
        task_id=form.task_id.data, billable=form.billable.data))
    if saved is None:
        return _entries_tab(project, status=form.status, adjust_form=form, adjust_expense_id=expense.id)
    return _entries_tab(project)

