"""My time (a person's week: enter, change, submit), the approvals queue, and a timesheet's detail.

Each view parses the request, calls one service, commits, and renders the page or the region htmx asked
for: the week (`week`), the queue (`approval_queue`, `approval_rows`), the detail (`timesheet`).
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, flash, request
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from portal import htmx, inputs
from portal.auth import policy
from portal.auth.access import allow
from portal.columns import today
from portal.errors import InvalidInput, NotAllowed
from portal.extensions import db
from portal.finance import reports
from portal.forms import submit
from portal.org.services import get_settings
from portal.projects.models import Project
from portal.projects.resources import list_resources
from portal.timesheets import approvals, entries, weeks, workflow
from portal.timesheets.forms import BulkDecisionForm, DecisionForm, EntryEditForm, EntryForm, billable_value
from portal.timesheets.models import STATUS_LABELS, TimeEntry, Timesheet

bp = Blueprint("timesheets", __name__)

# What a person does to their own week on the My time page; approvers decide on the detail page.
OWNER_ACTIONS = ("submit", "withdraw", "resubmit", "reopen")


# My time ----------------------------------------------------------------------------------------------
def _entry_choices(form: EntryForm, resource_id: int) -> None:
    form.offering_id.choices = weeks.offering_choices(db.session, resource_id)
    form.task_id.choices = weeks.task_choices(db.session, form.offering_id.choices)


def _week_page(resource, day: date, status: int = 200, form: EntryForm | None = None,
               edit_form: EntryEditForm | None = None, edit_entry_id: int | None = None,
               decision_form: DecisionForm | None = None):
    week = weeks.week(db.session, resource, day)
    if form is None:
        default_day = today() if week.start <= today() <= week.end else week.start
        form = EntryForm(formdata=None, work_date=default_day)
    _entry_choices(form, resource.id)
    if edit_form is not None:
        edit_form.task_id.choices = form.task_id.choices
    actions = [a for a in OWNER_ACTIONS if week.sheet and workflow.may(db.session, current_user, week.sheet, a)]
    return htmx.render("timesheets/week.html", block="week", status=status, week=week, form=form, actions=actions,
                       edit_form=edit_form, edit_entry_id=edit_entry_id,
                       decision_form=decision_form or DecisionForm(formdata=None),
                       own=resource.user_id == current_user.id)


@bp.route("/time")
@allow(policy.is_internal)
def my_time():
    resource = weeks.whose_time(db.session, current_user, inputs.query_int("resource"))
    return _week_page(resource, inputs.query_date("week") or today())


@bp.route("/time/entries", methods=["POST"])
@allow(policy.is_internal)
def add_entry():
    resource = weeks.whose_time(db.session, current_user, inputs.query_int("resource"))
    form = EntryForm()
    _entry_choices(form, resource.id)
    entry = submit(form, lambda: entries.add_entry(
        db.session, current_user, resource_id=resource.id, offering_id=form.offering_id.data,
        work_date=form.work_date.data, hours=form.hours.data, description=form.description.data or "",
        billable=billable_value(form.billable.data), task_id=form.task_id.data,
    ))
    if entry is None:
        return _week_page(resource, form.work_date.data or today(), status=form.status, form=form)
    flash(f"Added {entry.hours} h on {entry.project.name} for {entry.work_date:%a %d %b}.", "success")
    return _week_page(resource, entry.work_date)


def _own_entry(entry_id: int) -> TimeEntry:
    entry = db.get_or_404(TimeEntry, entry_id)
    resource = weeks.whose_time(db.session, current_user, entry.resource_id)
    if resource.id != entry.resource_id:
        raise NotAllowed("You can change only your own time.")
    return entry


@bp.route("/time/entries/<int:entry_id>/edit", methods=["GET", "POST"])
@allow(policy.is_internal)
def edit_entry(entry_id: int):
    entry = _own_entry(entry_id)
    day = entry.work_date
    form = EntryEditForm(obj=entry, billable="yes" if entry.billable else "no")
    form.task_id.choices = weeks.task_choices(db.session, weeks.offering_choices(db.session, entry.resource_id))
    if entry.task is not None and not entry.task.active:  # a task closed since keeps its entries editable
        form.task_id.choices.append(SelectChoice(str(entry.task.id), f"{entry.task.name} (closed)"))
    saved = submit(form, lambda: entries.update_entry(
        db.session, current_user, entry.id, work_date=form.work_date.data, hours=form.hours.data,
        description=form.description.data or "", billable=form.billable.data == "yes", task_id=form.task_id.data,
    ))
    if saved is not None:
        flash("Saved.", "success")
        return _week_page(entry.resource, day)
    return _week_page(entry.resource, day, status=form.status, edit_form=form, edit_entry_id=entry.id)


@bp.route("/time/entries/<int:entry_id>/delete", methods=["POST"])
@allow(policy.is_internal)
def delete_entry(entry_id: int):
    entry = _own_entry(entry_id)
    resource, day = entry.resource, entry.work_date
    entries.delete_entry(db.session, current_user, entry.id)
    db.session.commit()
    flash("Deleted.", "success")
    return _week_page(resource, day)


# Transitions of one timesheet -------------------------------------------------------------------------
@bp.route("/timesheets/<int:timesheet_id>/<action>", methods=["POST"])
@allow(policy.is_internal)
def decide(timesheet_id: int, action: str):
    if action not in workflow.TRANSITIONS:
        abort(404)
    sheet = db.get_or_404(Timesheet, timesheet_id)
    form = DecisionForm()
    reason = form.reason.data or ""
    done = submit(form, lambda: workflow.recall(db.session, current_user, sheet.id, form.version.data, reason,
                                                then=form.then.data)
                  if action == "recall" else
                  workflow.transition(db.session, current_user, sheet.id, action, form.version.data, reason))
    if done is not None:
        flash(f"The timesheet of {sheet.resource.name} for the week of {sheet.period_start:%d %b} is now "
              f"{STATUS_LABELS[done.status].lower()}.", "success")
    failed = form if done is None else None
    if form.view.data == "week":
        return _week_page(sheet.resource, sheet.period_start, status=form.status, decision_form=failed)
    return _detail(sheet, status=form.status, decision_form=failed, failed_action=action if failed else None)


def _detail(sheet: Timesheet, status: int = 200, decision_form: DecisionForm | None = None,
            failed_action: str | None = None):
    projects = workflow.projects_of(db.session, sheet.id)
    policy.require(policy.can_view_timesheet(current_user, sheet, projects), "You cannot see this timesheet.")
    actions = [a for a in workflow.TRANSITIONS if workflow.may(db.session, current_user, sheet, a, projects)]
    money = policy.can_see_money(current_user) or (bool(projects) and all(
        policy.can_see_money(current_user, p) for p in projects))
    ledger = reports.LedgerFilters(kind="", timesheet_id=sheet.id)
    days = [sheet.period_start + timedelta(days=i) for i in range((sheet.period_end - sheet.period_start).days + 1)]
    return htmx.render(
        "timesheets/detail.html", block="timesheet", status=status, sheet=sheet, projects=projects,
        days=days, grid=weeks.hours_grid(sheet.entries),
        finance_sync_enabled=get_settings(db.session).finance_sync_enabled,
        actions=actions, decision_form=decision_form or DecisionForm(formdata=None), failed_action=failed_action,
        money=money, transactions=reports.transactions(db.session, ledger)[0] if money else [],
        unposted=reports.unposted_portions(db.session, timesheet_id=sheet.id) if money else [],
        history=workflow.history(db.session, sheet.id),
    )


@bp.route("/timesheets/<int:timesheet_id>")
@allow(policy.is_internal)
def detail(timesheet_id: int):
    return _detail(db.get_or_404(Timesheet, timesheet_id))


# The approvals queue ----------------------------------------------------------------------------------
def _filters() -> approvals.Filters:
    values = request.values  # the filters come with the bulk decision form too
    return approvals.Filters(status=values.get("status", "submitted"),
                             week_from=inputs.query_date("week_from", values=values),
                             week_to=inputs.query_date("week_to", values=values),
                             project_id=inputs.query_int("project", values=values),
                             resource_id=inputs.query_int("person", values=values), held=values.get("held") == "1")


def _queue(block: str, form: BulkDecisionForm | None = None, status: int = 200, after: str | None = None):
    filters = _filters()
    queue = approvals.approval_queue(db.session, current_user, filters, after=after)
    return htmx.render(
        "timesheets/approvals.html", block=block, status=status, queue=queue, filters=filters,
        form=form or BulkDecisionForm(formdata=None), statuses=approvals.STATUS_FILTERS, labels=STATUS_LABELS,
        projects=db.session.execute(select(Project.id, Project.name).order_by(Project.name)).all(),
        people=list_resources(db.session, include_inactive=True),
    )


@bp.route("/approvals")
@allow(policy.is_internal)
def approvals_page():
    after = request.args.get("after")
    return _queue("approval_rows" if after else "approval_queue", after=after)


@bp.route("/approvals/decide", methods=["POST"])
@allow(policy.is_internal)
def decide_many():
    form = BulkDecisionForm()
    selections = []
    for value in request.form.getlist("selected"):
        ident, _, version = value.partition(":")
        if not (ident.isdigit() and version.isdigit()):
            raise InvalidInput("The selection is not readable; reload the page.")
        selections.append((int(ident), int(version)))
    result = submit(form, lambda: workflow.decide_many(db.session, current_user, form.action.data, selections,
                                                       form.reason.data or ""))
    if result is not None:
        verb = "Approved" if form.action.data == "approve" else "Rejected"
        if result.done:
            flash(f"{verb} {len(result.done)} timesheet{'s' if len(result.done) != 1 else ''}.", "success")
        for which, why in result.refused:
            flash(f"Not {verb.lower()}: {which}. {why}", "warning")
        form = None
    return _queue("approval_queue", form=form, status=form.status if form else 200)
