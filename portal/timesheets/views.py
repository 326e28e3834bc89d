"""My time (a person's week: enter, change, submit) and a timesheet's detail (approval_views.py: the queue).

Each view parses the request, calls one service, commits, and renders the page or the region htmx asked
for: the week (`week`), the detail (`timesheet`).
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal import formatting, htmx, inputs
from portal.auth import policy
from portal.auth.access import allow
from portal.columns import today
from portal.errors import InvalidInput, NotAllowed
from portal.extensions import db
from portal.finance import reports
from portal.formatting import hours_text
from portal.forms import submit
from portal.org.services import get_settings
from portal.projects.models import Project
from portal.timesheets import conflicts, entries, notifications, reminders, standins, weeks, workflow
from portal.timesheets import grid as grids
from portal.timesheets.forms import (
    CellEntryForm,
    DecisionForm,
    EntryEditForm,
    EntryForm,
    GridCellForm,
    billable_value,
)
from portal.timesheets.models import (
    STATUS_LABELS,
    PostingStatus,
    TimeEntry,
    Timesheet,
    TimesheetConflict,
)

bp = Blueprint("timesheets", __name__)

# What a person does to their own week on the My time page; approvers decide on the detail page.
OWNER_ACTIONS = ("submit", "withdraw", "resubmit", "reopen")


# My time ----------------------------------------------------------------------------------------------
def _entry_choices(form: EntryForm, resource_id: int) -> bool:
    """The Add time form's offerings (a bounded first page; the search box asks for more) and the tasks of
    the chosen one's project. Returns whether more offerings match than are listed."""
    form.offering_id.choices, more = weeks.offering_choices(db.session, resource_id, chosen=form.offering_id.data)
    if form.offering_id.data is None and form.offering_id.choices:  # what the select shows first
        form.offering_id.data = int(form.offering_id.choices[0].value)
    form.task_id.choices = weeks.task_choices(db.session, form.offering_id.data)
    return more


def _added_rows() -> list[grids.RowKey]:
    """Grid rows the person added that hold no time yet: `row` values, plus the row the add-row form names."""
    keys = [grids.parse_key(value) for value in request.values.getlist("row")]
    offering_id = inputs.query_int("offering_id")
    if offering_id:
        keys.append((offering_id, inputs.query_int("task_id")))
    return list(dict.fromkeys(k for k in keys if k))


def _week_context(resource, day: date, added: list[grids.RowKey], form: EntryForm | None = None,
                  decision_form: DecisionForm | None = None) -> dict:
    """Everything the week's regions show: the grid, the entry list, the Add time form, the week's actions."""
    week = weeks.week(db.session, resource, day)
    if form is None:
        default_day = today() if week.start <= today() <= week.end else week.start
        form = EntryForm(formdata=None, work_date=default_day)
    more = _entry_choices(form, resource.id)
    actions = [a for a in OWNER_ACTIONS if week.sheet and workflow.may(db.session, current_user, week.sheet, a)]
    own = resource.user_id == current_user.id
    return dict(week=week, grid=grids.entry_grid(db.session, week, added), added=added, form=form,
                more_offerings=more, actions=actions,
                unavailable=weeks.unavailable_assignments(db.session, resource.id) if week.editable else None,
                decision_form=decision_form or DecisionForm(formdata=None),
                own=own, who={} if own else {"resource": resource.id},
                org_reminders=get_settings(db.session).reminders_enabled)


def _week_page(resource, day: date, status: int = 200, form: EntryForm | None = None,
               edit_form: EntryEditForm | None = None, edit_entry_id: int | None = None,
               decision_form: DecisionForm | None = None, focus_row: grids.RowKey | None = None):
    context = _week_context(resource, day, _added_rows(), form=form, decision_form=decision_form)
    return htmx.render("timesheets/week.html", block="week", status=status, edit_form=edit_form,
                       edit_entry_id=edit_entry_id, focus_row=focus_row, **context)


@bp.route("/time")
@allow(policy.is_internal)
def my_time():
    resource = weeks.whose_time(db.session, current_user, inputs.query_int("resource"), required=False)
    if resource is None:  # an admin or approver who does not enter time: say why, and where to go instead
        return htmx.render("timesheets/no_resource.html")
    offering_id = inputs.query_int("offering_id")
    focus = (offering_id, inputs.query_int("task_id")) if offering_id else None
    return _week_page(resource, inputs.query_date("week") or today(), focus_row=focus)


@bp.route("/time/offerings")
@allow(policy.is_internal)
def offering_options():
    """The offerings a search finds, as options for the Add time form's and the add-row form's select."""
    resource = weeks.whose_time(db.session, current_user, inputs.query_int("resource"))
    choices, more = weeks.offering_choices(db.session, resource.id, request.args.get("q", "")[:100])
    return htmx.render("timesheets/_options.html", block="offering_options", choices=choices, more=more,
                       query=request.args.get("q", ""))


@bp.route("/time/tasks")
@allow(policy.is_internal)
def task_options():
    """The tasks of the chosen offering's project (issue 15 item 12: never another project's tasks)."""
    return htmx.render("timesheets/_options.html", block="task_options",
                       choices=weeks.task_choices(db.session, inputs.query_int("offering_id")))


# The week grid: a cell's hours, and its panel of entries -------------------------------------------------
def _grid_cell_target():
    """The person, row and day a grid request names (admins: anyone's, by `resource`)."""
    resource = weeks.whose_time(db.session, current_user, inputs.query_int("resource"))
    key = grids.parse_key(request.args.get("row"))
    day = inputs.query_date("day")
    if key is None or day is None:
        raise InvalidInput("That cell is not readable; reload the page.")
    return resource, key, day


def _grid_answer(resource, key: grids.RowKey, day: date, block: str, status: int = 200, changed: bool = True,
                 **extra):
    """A grid region, and after a change the regions it touched, swapped out of band: the cell (when the panel
    changed it), its row's and day's totals, the week's total, the entry list and the week's card."""
    context = _week_context(resource, day, [key, *_added_rows()])
    row = context["grid"].row(key)
    if row is None:
        raise InvalidInput("That row is gone (its offering or task was deleted); reload the page.")
    return htmx.render("timesheets/week.html", block=block, oob=["grid_changes"] if changed else None,
                       status=status, row=row, cell=row.cells.get(day), **context, **extra)


@bp.route("/time/grid/cell", methods=["POST"])
@allow(policy.is_internal)
def set_cell():
    """Typing hours into a cell of the week grid: the cell comes back (with its own message on a 422)."""
    resource = weeks.whose_time(db.session, current_user, inputs.query_int("resource"))
    form = GridCellForm()
    key = (form.offering_id.data, form.task_id.data)
    try:
        submit(form, lambda: grids.set_cell(db.session, current_user, resource.id, key, form.work_date.data,
                                            form.hours.data))
    except NotAllowed as refusal:  # a refusal belongs in the cell too, next to what was typed
        db.session.rollback()
        form.attach(refusal)
    if form.work_date.data is None or form.offering_id.data is None:
        raise InvalidInput("That cell is not readable; reload the page.")
    return _grid_answer(resource, key, form.work_date.data, "grid_cell", status=form.status, cell_form=form)


def _panel(resource, key: grids.RowKey, day: date, status: int = 200, changed: bool = True, **extra):
    return _grid_answer(resource, key, day, "cell_panel", status=status, changed=changed, panel_open=True,
                        **extra)


@bp.route("/time/grid/panel")
@allow(policy.is_internal)
def cell_panel():
    """A cell's entries, for their descriptions and billable flags (and time synced from a tool, read-only)."""
    return _panel(*_grid_cell_target(), changed=False)


@bp.route("/time/grid/panel", methods=["POST"])
@allow(policy.is_internal)
def add_cell_entry():
    """Another entry in the cell (with its description and billable flag)."""
    resource, key, day = _grid_cell_target()
    form = CellEntryForm()
    entry = submit(form, lambda: entries.add_entry(
        db.session, current_user, resource_id=resource.id, offering_id=key[0], work_date=day,
        hours=form.hours.data, description=form.description.data or "",
        billable=form.billable.data == "yes", task_id=key[1]))
    if entry is None:
        return _panel(resource, key, day, status=form.status, new_form=form)
    return _panel(resource, key, day, saved=f"Added {formatting.hours_text(entry.hours)}.")


@bp.route("/time/grid/entries/<int:entry_id>", methods=["POST"])
@allow(policy.is_internal)
def save_cell_entry(entry_id: int):
    entry = _own_entry(entry_id)
    resource, key, day = entry.resource, (entry.offering_id, entry.task_id), entry.work_date
    form = CellEntryForm()
    saved = submit(form, lambda: entries.update_entry(
        db.session, current_user, entry.id, work_date=entry.work_date,
        hours=form.hours.data, description=form.description.data or "",
        billable=form.billable.data == "yes"))
    if saved is None:
        return _panel(resource, key, day, status=form.status, entry_form=form, entry_form_id=entry.id)
    return _panel(resource, key, day, saved="Saved.")


@bp.route("/time/grid/entries/<int:entry_id>/delete", methods=["POST"])
@allow(policy.is_internal)
def delete_cell_entry(entry_id: int):
    entry = _own_entry(entry_id)
    resource, key, day = entry.resource, (entry.offering_id, entry.task_id), entry.work_date
    entries.delete_entry(db.session, current_user, entry.id)
    db.session.commit()
    return _panel(resource, key, day, saved="Deleted.")


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
    flash(f"Added {hours_text(entry.hours)} on {entry.project.name} for {entry.work_date:%a %d %b}.", "success")
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
    form.task_id.choices = weeks.task_choices(db.session, entry.offering_id)
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


def _finance(sheet: Timesheet, projects: list[Project]) -> dict:
    """The timesheet's place in finance: the banner's summary (hours, for everyone who sees the timesheet) and,
    for those who see money, its transactions and the portions kept out."""
    money = policy.can_see_money(current_user) or (bool(projects) and all(
        policy.can_see_money(current_user, p) for p in projects))
    ledger = reports.LedgerFilters(kind="", timesheet_id=sheet.id)
    settings = get_settings(db.session)
    transactions = reports.transactions(db.session, ledger)[0] if money else []
    return {
        "money": money, "posting": reports.posting_summary(db.session, sheet),
        "finance_sync_enabled": settings.finance_sync_enabled,
        "transactions": transactions,
        "unposted": reports.unposted_portions(db.session, timesheet_id=sheet.id) if money else [],
        # Issue 16: locked periods holding its actuals, which a recall leaves as they are.
        "locked_periods": sorted({t.fiscal_period for t in transactions if t.fiscal_period and t.fiscal_period.locked},
                                 key=lambda p: p.start_date),
        "late_rule": settings.locked_period_actuals,
    }


def _detail(sheet: Timesheet, status: int = 200, decision_form: DecisionForm | None = None,
            failed_action: str | None = None):
    principals = standins.principals(db.session, current_user)
    projects = workflow.viewable_projects(db.session, current_user, sheet, principals)
    actions = [a for a in workflow.TRANSITIONS
               if workflow.may(db.session, current_user, sheet, a, projects, principals)]
    decider = workflow.decider(db.session, current_user, sheet, projects, principals)
    return htmx.render(
        "timesheets/detail.html", block="timesheet", status=status, sheet=sheet, projects=projects,
        grid=grids.timesheet_grid(db.session, sheet), actions=actions,
        decision_form=decision_form or DecisionForm(formdata=None), failed_action=failed_action,
        history=workflow.history(db.session, sheet.id), conflicts=conflicts.for_timesheet(db.session, sheet.id),
        **_finance(sheet, projects),
        # A stand-in decides on the approver's behalf.
        may_decide=decider is not None, on_behalf=decider if decider and decider.id != current_user.id else None,
    )


@bp.route("/timesheets/<int:timesheet_id>")
@allow(policy.is_internal)
def detail(timesheet_id: int):
    return _detail(db.get_or_404(Timesheet, timesheet_id))


@bp.route("/timesheets/<int:timesheet_id>/posting")
@allow(policy.is_internal)
def posting(timesheet_id: int):
    """The posting banner, polled while the actuals are being posted or removed; once that is done it comes
    back without polling, with the finance card refreshed out of band. Opened as a page, it is the timesheet."""
    sheet = db.get_or_404(Timesheet, timesheet_id)
    if not htmx.is_fragment_request():
        return _detail(sheet)  # the address works as a page too: the timesheet's own
    context = _finance(sheet, workflow.viewable_projects(db.session, current_user, sheet))
    done = sheet.posting_status != PostingStatus.PENDING
    oob = ["timesheet_finance"] if done and context["money"] else []
    return htmx.render("timesheets/detail.html", block="posting", oob=oob, oob_finance=bool(oob), sheet=sheet,
                       **context)


@bp.route("/timesheets/conflicts/<int:conflict_id>/<decision>", methods=["POST"])
@allow(policy.is_internal)
def decide_conflict(conflict_id: int, decision: str):
    """The approver's decision on time a tool changed after approval: accept the change, or keep the time."""
    conflict = db.get_or_404(TimesheetConflict, conflict_id)
    decide = {"accept": conflicts.accept, "reject": conflicts.reject}.get(decision)
    if decide is None:
        return htmx.render_error(404, "Not found", "Accept or reject the change.")
    decide(db.session, current_user, conflict.id)
    db.session.commit()
    flash("Accepted: the change is applied and the timesheet is back in the approval queue." if decision == "accept"
          else "Rejected: the approved time stays as it was.", "success")
    return htmx.redirect_to(url_for("timesheets.detail", timesheet_id=conflict.timesheet_id))


# A person's own emails: reminders (issue 16) and decisions (issue 15) --------------------------------------
@bp.route("/time/reminders", methods=["POST"])
@allow(policy.is_internal)
def my_reminders():
    """A person turns their weekly reminder email on or off (My time)."""
    changed = reminders.set_own_reminders(db.session, current_user, request.form.get("on") == "y")
    db.session.commit()
    if changed:
        flash("Reminders on: you get an email when last week's timesheet is missing or not submitted."
              if current_user.timesheet_reminders else "Reminders off: no more reminder emails.", "success")
    if not htmx.is_fragment_request():
        return htmx.redirect_to(url_for(".my_time"))
    return htmx.render("timesheets/week.html", block="reminder_preference", own=True,
                       org_reminders=get_settings(db.session).reminders_enabled)


@bp.route("/time/decision-emails", methods=["POST"])
@allow(policy.is_internal)
def my_decision_emails():
    """A person turns the emails about decisions on their timesheets on or off (My time, issue 15 item 22)."""
    changed = notifications.set_own_decision_emails(db.session, current_user, request.form.get("decisions") == "y")
    db.session.commit()
    if changed:
        flash("You get an email when your timesheet is approved, rejected or recalled."
              if current_user.timesheet_decision_emails else
              "No more emails about decisions on your timesheets; your home page still lists them.", "success")
    if not htmx.is_fragment_request():
        return htmx.redirect_to(url_for(".my_time"))
    return htmx.render("timesheets/week.html", block="reminder_preference", own=True,
                       org_reminders=get_settings(db.session).reminders_enabled)
