"""The approvals queue (an approver's timesheets to decide, filtered and paged, decided in bulk), reminders
sent from it, and stand-ins (issue 16).

Each view parses the request, calls one service, commits, and renders the page or the region htmx asked
for: the queue (`approval_queue`, `approval_rows`), a row's week (`sheet_week`), the stand-ins (`stand_ins`).
"""

from __future__ import annotations

from flask import Blueprint, flash, request, url_for
from flask_login import current_user

from portal import htmx, inputs, lookups
from portal.auth import policy
from portal.auth.access import allow
from portal.columns import today
from portal.errors import InvalidInput
from portal.extensions import db
from portal.forms import submit
from portal.timesheets import approvals, reminders, standins, workflow
from portal.timesheets import grid as grids
from portal.timesheets.forms import BulkDecisionForm, StandInForm
from portal.timesheets.models import StandIn, Timesheet, TimesheetStatus

bp = Blueprint("approvals", __name__)


# The approvals queue ----------------------------------------------------------------------------------
def _filters() -> approvals.Filters:
    values = request.values  # the filters come with the bulk decision form too
    return approvals.Filters(status=values.get("status", "submitted"),
                             week_from=inputs.query_date("week_from", values=values),
                             week_to=inputs.query_date("week_to", values=values),
                             project_id=inputs.query_int("project", values=values),
                             resource_id=inputs.query_int("person", values=values), held=values.get("held") == "1")


def _queue(block: str, form: BulkDecisionForm | None = None, status: int = 200, after: str | None = None,
           selected: frozenset[str] = frozenset()):
    """The queue; `selected` keeps the ticks of a bulk decision that was refused (no reason, nothing ticked)."""
    filters = _filters()
    queue = approvals.approval_queue(db.session, current_user._get_current_object(), filters, after=after)
    # Approve/Reject only where there is something to tick: submitted timesheets this user may decide on.
    selectable = any(row.decidable and row.sheet.status == TimesheetStatus.SUBMITTED for row in queue.rows) or (
        bool(queue.next_cursor) and filters.status in (TimesheetStatus.SUBMITTED, ""))
    return htmx.render(
        "timesheets/approvals.html", block=block, status=status, queue=queue, filters=filters,
        selected=selected, selectable=selectable,
        form=form or BulkDecisionForm(formdata=None), statuses=approvals.STATUS_FILTERS,
        labels=approvals.FILTER_LABELS, remindable=approvals.UNSUBMITTED, count_label=approvals.count_label,
        chosen={"project": lookups.name(db.session, "projects", filters.project_id),
                "person": lookups.name(db.session, "people", filters.resource_id)},
    )


@bp.route("/approvals")
@allow(policy.is_internal)
def approvals_page():
    after = request.args.get("after")
    return _queue("approval_rows" if after else "approval_queue", after=after)


@bp.route("/approvals/<int:timesheet_id>/week")
@allow(policy.is_internal)
def sheet_week(timesheet_id: int):
    """A timesheet's days × projects inline in the queue, so an approver decides without opening each one
    (loaded when its row is expanded: the queue stays O(its page))."""
    sheet = db.get_or_404(Timesheet, timesheet_id)
    workflow.viewable_projects(db.session, current_user, sheet)
    table = grids.timesheet_grid(db.session, sheet)
    described = [e for row in table.rows for cell in row.cells.values() for e in cell.entries if e.description]
    return htmx.render("timesheets/sheet_week.html", block="sheet_week", sheet=sheet, grid=table,
                       described=sorted(described, key=lambda e: (e.work_date, e.id)))


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
    return _queue("approval_queue", form=form, status=form.status if form else 200,
                  selected=frozenset(request.form.getlist("selected")) if form else frozenset())


@bp.route("/approvals/<int:timesheet_id>/remind", methods=["POST"])
@allow(policy.is_internal)
def remind(timesheet_id: int):
    """An approver's Remind on a row of the approvals list (once a day per person)."""
    sheet = db.get_or_404(Timesheet, timesheet_id)
    reminders.remind_now(db.session, current_user, sheet.id)
    db.session.commit()
    flash(f"Reminded {sheet.resource.name} to submit the week of {sheet.period_start:%d %b}.", "success")
    if not htmx.is_fragment_request():
        return htmx.redirect_to(url_for(".approvals_page", status="unsubmitted"))
    return htmx.render("timesheets/approvals.html", block="remind_cell", sheet=sheet, reminded=True)


def _stand_ins_page(form: StandInForm | None = None, status: int = 200):
    return htmx.render("timesheets/stand_ins.html", block="stand_ins", status=status,
                       lists=standins.lists_for(db.session, current_user), today=today(),
                       form=form or _stand_in_form(formdata=None), admin=policy.is_admin(current_user),
                       approves=standins.approves_anything(db.session, current_user))


def _stand_in_form(**kwargs) -> StandInForm:
    first, last = standins.default_range()
    return StandInForm(approver_email=current_user.email, starts_on=first, ends_on=last, **kwargs)


@bp.route("/approvals/stand-ins", methods=["GET", "POST"])
@allow(policy.is_internal)
def stand_ins():
    """Name a stand-in (approvers for themselves, admins for anyone) and see who stands in for whom."""
    form = _stand_in_form()
    if not policy.is_admin(current_user):
        form.approver_email.data = current_user.email  # approvers name their own stand-ins only
    named = submit(form, lambda: standins.name_stand_in(
        db.session, current_user, approver_email=form.approver_email.data, stand_in_email=form.stand_in_email.data,
        starts_on=form.starts_on.data, ends_on=form.ends_on.data, note=form.note.data or ""))
    if named is not None:
        flash(f"{named.stand_in.name} stands in for {named.approver.name} from {named.starts_on:%a %d %b} to "
              f"{named.ends_on:%a %d %b %Y}.", "success")
        form = None
    return _stand_ins_page(form, status=form.status if form else 200)


@bp.route("/approvals/stand-ins/<int:stand_in_id>/end", methods=["POST"])
@allow(policy.is_internal)
def end_stand_in(stand_in_id: int):
    ended = standins.end_stand_in(db.session, current_user, db.get_or_404(StandIn, stand_in_id).id)
    db.session.commit()
    flash(f"Ended: {ended.stand_in.name} no longer stands in for {ended.approver.name}.", "success")
    return _stand_ins_page()
