"""The project list and a project's tabs (Overview, Offerings, Team, Integrations, Finance).

Each view: load by id (404), authorise through the policy, parse the form, call one service, commit,
render the page or the block htmx asked for.
"""

from __future__ import annotations

from flask import Blueprint, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal import htmx, inputs, lookups
from portal.auth import policy
from portal.auth.access import allow
from portal.columns import today
from portal.extensions import db
from portal.finance import burnup
from portal.finance import reports as finance_reports
from portal.finance.services import list_cost_categories
from portal.forms import submit
from portal.integrations.panel import project_panels, team_change_note
from portal.org.services import get_settings
from portal.projects import services
from portal.projects.forms import AssignmentForm, BookingForm, OfferingForm, PmTeamForm, ProjectForm
from portal.projects.models import Assignment, Booking, Offering, Project
from portal.projects.rates import FEE_MODELS, fixed_fee_rate
from portal.projects.tabs import overview_context, render_tab
from portal.timesheets import adjustments

bp = Blueprint("projects", __name__)


# The project list
@bp.route("/projects")
@allow(policy.is_internal)
def project_list():
    args = request.args
    stage_name = args.get("stage", "").strip()
    client_id = inputs.query_int("client")
    include_closed = args.get("closed") == "1"
    search = args.get("q", "")
    projects, next_cursor = services.list_projects(
        db.session, current_user, stage_name=stage_name, client_id=client_id, include_closed=include_closed,
        search=search, after=args.get("after"),
    )
    filters = {"stage": stage_name, "client": client_id or "", "closed": "1" if include_closed else "", "q": search}
    # Why a project may be missing: closed projects are hidden unless asked for (the list says how many).
    hidden = 0 if include_closed or args.get("after") else services.hidden_closed_projects(
        db.session, stage_name=stage_name, client_id=client_id, search=search)
    context = dict(projects=projects, next_cursor=next_cursor, filters=filters, hidden_closed=hidden,
                   stages=services.stage_names(db.session), client_name=lookups.name(db.session, "clients", client_id))
    # "Load more" appends rows; changing a filter replaces the table.
    block = "project_rows" if args.get("after") else "project_table"
    return htmx.render("projects/list.html", block=block, **context)


def _project_form_choices(form: ProjectForm, project: Project | None = None) -> None:
    form.client_id.resolve(db.session)
    form.pm_id.resolve(db.session)
    form.default_cost_category_id.choices = [("", "— (resource's or system default)")] + [
        (c.id, c.name) for c in list_cost_categories(db.session)
    ]
    if project is None:
        stages = services.creatable_stages(db.session, current_user)
        several_types = len({s.engagement_type_id for s in stages}) > 1
        form.stage_id.choices = [(s.id, f"{s.engagement_type.name} · {s.name}" if several_types else s.name)
                                 for s in stages]


@bp.route("/projects/new", methods=["GET", "POST"])
@allow(policy.can_create_projects, "You do not have the create-projects permission.")
def new_project():
    form = ProjectForm()
    _project_form_choices(form)
    project = submit(form, lambda: services.create_project(
        db.session, current_user, name=form.name.data, client_id=form.client_id.data, stage_id=form.stage_id.data,
        pm_id=form.pm_id.data, code=form.code.data, start_date=form.start_date.data, end_date=form.end_date.data,
        description=form.description.data or "", percent_likelihood=form.percent_likelihood.data,
        default_cost_category_id=form.default_cost_category_id.data,
    ))
    if project is not None:
        flash(f"Created {project.name}. Add its offerings next.", "success")
        return htmx.redirect_to(url_for(".offerings_tab", project_id=project.id))
    return htmx.render("projects/new.html", block="project_form", form=form, status=form.status)


# A project's tabs
def _project(project_id: int) -> Project:
    return db.get_or_404(Project, project_id)


@bp.route("/projects/<int:project_id>")
@allow(policy.is_internal)
def overview_tab(project_id: int):
    project = _project(project_id)
    return render_tab("projects/overview.html", project, "overview", **overview_context(db.session, project))


@bp.route("/projects/<int:project_id>/edit", methods=["GET", "POST"])
@allow(policy.is_internal)
def edit_project(project_id: int):
    project = _project(project_id)
    policy.refuse(policy.project_info_refusal(current_user, project))
    form = ProjectForm(obj=project)
    _project_form_choices(form, project)
    del form.stage_id  # stages change through the move dialog, under its own rules
    saved = submit(form, lambda: services.update_project(
        db.session, current_user, project.id, name=form.name.data, client_id=form.client_id.data,
        code=form.code.data, start_date=form.start_date.data, end_date=form.end_date.data,
        description=form.description.data or "", percent_likelihood=form.percent_likelihood.data,
        default_cost_category_id=form.default_cost_category_id.data,
    ))
    extras = overview_context(db.session, project)
    if saved is not None:
        return render_tab("projects/overview.html", project, "overview", block="project_info", **extras)
    return render_tab("projects/overview.html", project, "overview", block="project_info", editing=True, form=form,
                      status=form.status, **extras)


@bp.route("/projects/<int:project_id>/offerings")
@allow(policy.is_internal)
def offerings_tab(project_id: int):
    return _offerings_tab(_project(project_id))


@bp.route("/projects/<int:project_id>/offerings/new", methods=["POST"])
@allow(policy.is_internal)
def new_offering(project_id: int):
    project = _project(project_id)
    policy.refuse(policy.cost_plan_refusal(current_user, project))
    form = OfferingForm()
    created = submit(form, lambda: services.create_offering(db.session, current_user, project.id,
                                                            **_offering_values(form)))
    # The whole tab either way: the new row appears, or the form comes back with its errors (422).
    return _offerings_tab(project, form=form if created is None else None, status=form.status)


def _offering_values(form: OfferingForm) -> dict:
    return dict(name=form.name.data, billing_model=form.billing_model.data, sold_hours=form.sold_hours.data,
                planned_hours=form.planned_hours.data, fixed_fee=form.fixed_fee.data,
                budget_amount=form.budget_amount.data, start_date=form.start_date.data,
                end_date=form.end_date.data, sale_status=form.sale_status.data)


@bp.route("/offerings/<int:offering_id>/edit", methods=["GET", "POST"])
@allow(policy.is_internal)
def edit_offering(offering_id: int):
    offering = db.get_or_404(Offering, offering_id)
    project = offering.project
    policy.refuse(policy.cost_plan_refusal(current_user, project))
    form = OfferingForm(obj=offering)
    saved = submit(form, lambda: services.update_offering(
        db.session, current_user, offering.id, **_offering_values(form), archived=form.archived.data,
    ))
    if saved is not None:
        return _offerings_tab(project, block="offering_row", offering=offering)
    return _offerings_tab(project, block="offering_row", offering=offering, edit_form=form,
                          edit_offering_id=offering.id, status=form.status)


@bp.route("/offerings/<int:offering_id>")
@allow(policy.is_internal)
def offering_row(offering_id: int):
    """The read-only row (Cancel of an inline edit)."""
    offering = db.get_or_404(Offering, offering_id)
    return _offerings_tab(offering.project, block="offering_row", offering=offering)


def _offerings_tab(project: Project, block: str = "tab_content", form: OfferingForm | None = None, **context):
    return render_tab("projects/offerings.html", project, "offerings", block=block,
                form=form or OfferingForm(formdata=None), **context)


# Team: PM team, assignments, bookings


def _team_context(project: Project) -> dict:
    assignment_form = AssignmentForm(formdata=None)
    booking_form = BookingForm(formdata=None)
    _booking_choices(booking_form, project)
    pm_form = PmTeamForm(formdata=None, pm_id=project.pm_id, team_ids=[m.user_id for m in project.team])
    _pm_choices(pm_form)
    bookings = db.session.scalars(select(Booking).where(Booking.project_id == project.id)
                                  .order_by(Booking.on, Booking.resource_id)).all()
    source = get_settings(db.session).timesheet_hours_source
    return dict(assignment_form=assignment_form, booking_form=booking_form, pm_form=pm_form,
                bookings=bookings, fee_rates={o.id: fixed_fee_rate(o, source) for o in project.offerings
                                              if o.billing_model in FEE_MODELS})


def _booking_choices(form: BookingForm, project: Project) -> None:
    form.resource_id.resolve(db.session)
    form.offering_id.choices = [("", "—")] + [(o.id, o.name) for o in project.offerings]


def _pm_choices(form: PmTeamForm) -> None:
    form.pm_id.resolve(db.session)
    form.team_ids.resolve(db.session)


@bp.route("/projects/<int:project_id>/team")
@allow(policy.is_internal)
def team_tab(project_id: int):
    project = _project(project_id)
    return render_tab("projects/team.html", project, "team", **_team_context(project))


@bp.route("/projects/<int:project_id>/pm-team", methods=["POST"])
@allow(policy.is_internal)
def set_pm_team(project_id: int):
    project = _project(project_id)
    policy.require(policy.can_change_pm_team(current_user, project),
                   f"You cannot change the PM team while the project is in {project.stage.name}.")
    form = PmTeamForm()
    _pm_choices(form)
    saved = submit(form, lambda: services.set_pm_team(db.session, current_user, project.id, form.pm_id.data,
                                                      form.team_ids.data or []))
    context = _team_context(project)
    if saved is None:
        context["pm_form"] = form
    return render_tab("projects/team.html", project, "team", block="pm_team", status=form.status, **context)


@bp.route("/offerings/<int:offering_id>/assignments", methods=["POST"])
@allow(policy.is_internal)
def add_assignment(offering_id: int):
    offering = db.get_or_404(Offering, offering_id)
    project = offering.project
    policy.require(policy.can_create_roles(current_user, project),
                   f"You cannot add people while the project is in {project.stage.name}.")
    form = AssignmentForm()
    form.resource_id.resolve(db.session)
    saved = submit(form, lambda: services.add_assignment(
        db.session, current_user, offering.id, form.resource_id.data, bill_rate=form.bill_rate.data,
        planned_hours=form.planned_hours.data or 0, role=form.role.data or "",
    ))
    context = _team_context(project)
    if saved is None:
        context.update(assignment_form=form, form_offering_id=offering.id)
    else:
        context["note"] = team_change_note(db.session, offering, None)
    return render_tab("projects/team.html", project, "team", block="assignments", status=form.status, **context)


@bp.route("/assignments/<int:assignment_id>", methods=["POST"])
@allow(policy.is_internal)
def update_assignment(assignment_id: int):
    assignment = db.get_or_404(Assignment, assignment_id)
    project = assignment.offering.project
    form = AssignmentForm()
    form.resource_id.choices = [(assignment.resource_id, assignment.resource.name)]
    form.resource_id.data = assignment.resource_id
    before = {name: getattr(assignment, name) for name in ("bill_rate", "planned_hours", "role")}
    saved = submit(form, lambda: adjustments.change_assignment(
        db.session, current_user, assignment.id, bill_rate=form.bill_rate.data,
        planned_hours=form.planned_hours.data or 0, role=form.role.data or "", revalue=form.revalue.data,
    ))
    context = _team_context(project)
    if saved is None:
        context.update(edit_form=form, edit_assignment_id=assignment.id)
    else:
        changed = {name: True for name, value in before.items() if getattr(saved, name) != value}
        context["note"] = team_change_note(db.session, saved.offering, changed)
    return render_tab("projects/team.html", project, "team", block="assignments", status=form.status, **context)


@bp.route("/assignments/<int:assignment_id>/remove", methods=["POST"])
@allow(policy.is_internal)
def remove_assignment(assignment_id: int):
    assignment = db.get_or_404(Assignment, assignment_id)
    offering = assignment.offering
    services.remove_assignment(db.session, current_user, assignment.id)
    db.session.commit()
    return render_tab("projects/team.html", offering.project, "team", block="assignments",
                      note=team_change_note(db.session, offering, None),
                      **_team_context(offering.project))


@bp.route("/projects/<int:project_id>/bookings", methods=["POST"])
@allow(policy.is_internal)
def set_booking(project_id: int):
    project = _project(project_id)
    policy.require(policy.can_schedule_resources(current_user, project),
                   f"You cannot book hours while the project is in {project.stage.name}.")
    form = BookingForm()
    _booking_choices(form, project)
    first_weekday = get_settings(db.session).week_start
    submit(form, lambda: services.set_booking(
        db.session, current_user, project.id, form.resource_id.data, mode=form.mode.data, on=form.on.data,
        hours=form.hours.data, offering_id=form.offering_id.data, first_weekday=first_weekday,
    ))
    context = _team_context(project)
    if form.has_errors:
        context["booking_form"] = form
    return render_tab("projects/team.html", project, "team", block="bookings", status=form.status, **context)


@bp.route("/projects/<int:project_id>/integrations")
@allow(policy.is_internal)
def integrations_tab(project_id: int):
    """One panel per connected timesheet tool: each offering's link, status dot and actions."""
    project = _project(project_id)
    return render_tab("projects/integrations.html", project, "integrations", panels=project_panels(db.session, project))


@bp.route("/projects/<int:project_id>/finance")
@allow(policy.is_internal)
def finance_tab(project_id: int):
    """Hours, cost and revenue per offering against budget with a burn-up of each; the posted actuals:
    items with forecast and actual, transactions, unposted portions."""
    project = _project(project_id)
    money = policy.can_see_money(current_user, project)
    after = request.args.get("after")
    context = {}
    if money:
        transactions, next_cursor = finance_reports.transactions(
            db.session, finance_reports.LedgerFilters(project_id=project.id), after=after)
        settings = get_settings(db.session)
        context = dict(summary=finance_reports.project_finance(db.session, project), transactions=transactions,
                       next_cursor=next_cursor, sync_enabled=settings.finance_sync_enabled,
                       figures=burnup.burn_ups(db.session, project, today()) if not after else [],
                       hours_source=settings.timesheet_hours_source)
    return render_tab("projects/finance.html", project, "finance", block="ledger_rows" if after else "tab_content",
                money=money, **context)
