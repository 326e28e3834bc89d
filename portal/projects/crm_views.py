"""Reference pages: clients (with their duplicates), CRM deals, and resources with their rates."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal import htmx
from portal.auth import policy
from portal.auth.access import allow
from portal.extensions import db
from portal.finance.services import list_cost_categories
from portal.forms import submit
from portal.integrations import panel
from portal.projects import crm, resources
from portal.projects.forms import ClientForm, DealForm, DealStageForm, RateForm, ResourceForm
from portal.projects.models import Client, Deal, Project, Resource, ResourceRate

bp = Blueprint("crm", __name__)


# Clients
@bp.route("/clients", methods=["GET", "POST"])
@allow(policy.is_internal)
def clients():
    form = ClientForm()
    if form.is_submitted():
        policy.require(policy.can_manage_reference_data(current_user), "You cannot create clients.")
    created = submit(form, lambda: crm.create_client(db.session, current_user, form.name.data, form.crm_id.data))
    if created is not None:
        similar = crm.similar_clients(db.session, created)
        if similar:
            flash(f"Created {created.name}. It looks like a duplicate of "
                  f"{', '.join(c.name for c in similar)}; see Possible duplicates.", "warning")
        else:
            flash(f"Created {created.name}.", "success")
        return htmx.redirect_to(url_for(".clients"))
    search, after = request.args.get("q", ""), request.args.get("after")
    rows, cursor = crm.client_page(db.session, search, after)
    block = "client_form" if form.is_submitted() else "client_rows" if after else "client_table"
    return htmx.render("projects/clients.html", block=block, form=form, status=form.status, rows=rows,
                       next_cursor=cursor, search=search, duplicates=crm.duplicate_groups(db.session))


@bp.route("/clients/<int:client_id>")
@allow(policy.is_internal)
def client_detail(client_id: int):
    client = db.get_or_404(Client, client_id)
    projects = db.session.scalars(select(Project).where(Project.client_id == client.id).order_by(Project.name)).all()
    return htmx.render("projects/client.html", client=client, projects=projects,
                       similar=crm.similar_clients(db.session, client),
                       timesheet_rows=panel.client_panels(db.session, client))


# Deals
def _deal_form_choices(form: DealForm) -> None:
    form.client_id.resolve(db.session)
    form.project_id.resolve(db.session)


def _deals_page(block: str, status: int = 200, form: DealForm | None = None, **context):
    """The deals page, or one of its blocks: whole pages (plain requests) get everything they show."""
    if form is None:
        form = DealForm(formdata=None)
        _deal_form_choices(form)
    deals, more = crm.deal_page(db.session, request.args.get("before", type=int))
    return htmx.render("projects/deals.html", block=block, form=form, status=status, deals=deals, more=more,
                       stage_form=DealStageForm(formdata=None), **context)


@bp.route("/deals", methods=["GET", "POST"])
@allow(policy.is_internal)
def deals():
    form = DealForm()
    _deal_form_choices(form)
    if form.is_submitted():
        policy.require(policy.can_manage_deals(current_user), "You cannot manage deals.")
    created = submit(form, lambda: crm.create_deal(
        db.session, current_user, name=form.name.data, client_id=form.client_id.data,
        project_id=form.project_id.data, amount=form.amount.data, start_date=form.start_date.data,
        end_date=form.end_date.data, stage=form.stage.data,
    ))
    if created is not None:
        flash(f"Created deal {created.name}.", "success")
        return htmx.redirect_to(url_for(".deals"))
    load_more = request.args.get("before") and not form.is_submitted()
    return _deals_page("deal_rows" if load_more else "deal_form", status=form.status, form=form)


@bp.route("/deals/<int:deal_id>/stage", methods=["POST"])
@allow(policy.can_manage_deals, "You cannot manage deals.")
def deal_stage(deal_id: int):
    deal = db.get_or_404(Deal, deal_id)
    form = DealStageForm()
    saved = submit(form, lambda: crm.set_deal_stage(db.session, current_user, deal.id, form.stage.data))
    if saved is not None and deal.stage == "closed_won" and deal.project_id:
        flash(f"{deal.name} is Closed Won: {deal.project.name} is now Active.", "success")
    if saved is not None and not htmx.is_fragment_request():
        return htmx.redirect_to(url_for(".deals"))
    return _deals_page("deal_row", status=form.status, deal=deal)


# Resources
def _resource_choices(form: ResourceForm) -> None:
    form.default_cost_category_id.choices = [("", "—")] + [(c.id, c.name) for c in list_cost_categories(db.session)]
    form.time_zone.choices = resources.time_zone_choices(current_app.config.get("PORTAL_TIMEZONE") or "UTC")


@bp.route("/resources", methods=["GET", "POST"])
@allow(policy.is_internal)
def resource_list():
    form = ResourceForm()
    _resource_choices(form)
    if form.is_submitted():
        policy.require(policy.can_manage_reference_data(current_user), "You cannot manage resources.")
    created = submit(form, lambda: resources.create_resource(
        db.session, current_user, name=form.name.data, email=form.email.data, title=form.title.data or "",
        default_cost_category_id=form.default_cost_category_id.data, login_email=form.login_email.data or "",
    ))
    if created is not None:
        flash(f"Added {created.name}. Set their rates next.", "success")
        return htmx.redirect_to(url_for(".resource_detail", resource_id=created.id))
    search, after = request.args.get("q", ""), request.args.get("after")
    people, cursor = resources.resource_page(db.session, search, after)
    block = "resource_form" if form.is_submitted() else "resource_rows" if after else "resource_table"
    return htmx.render("projects/resources.html", block=block, form=form, status=form.status, resources=people,
                       next_cursor=cursor, search=search)


def _resource_page(resource: Resource, block: str, status: int = 200, form: ResourceForm | None = None,
                   rate_form: RateForm | None = None):
    """A resource's page, or one of its blocks: whole pages (plain requests) get everything they show."""
    if form is None:
        form = ResourceForm(formdata=None, obj=resource)
        _resource_choices(form)
    return htmx.render("projects/resource.html", block=block, form=form, resource=resource, status=status,
                       rate_form=rate_form or RateForm(formdata=None))


@bp.route("/resources/<int:resource_id>", methods=["GET", "POST"])
@allow(policy.is_internal)
def resource_detail(resource_id: int):
    resource = db.get_or_404(Resource, resource_id)
    form = ResourceForm(obj=resource, login_email=resource.user.email if resource.user else "")
    _resource_choices(form)
    if form.is_submitted():
        policy.require(policy.can_manage_reference_data(current_user), "You cannot manage resources.")
    saved = submit(form, lambda: resources.update_resource(
        db.session, current_user, resource.id, name=form.name.data, email=form.email.data,
        title=form.title.data or "", active=form.active.data,
        default_cost_category_id=form.default_cost_category_id.data, login_email=form.login_email.data or "",
        expected_hours_per_week=form.expected_hours_per_week.data,
        time_zone=form.time_zone.data if policy.is_admin(current_user) else None,
    ))
    if saved is not None:
        flash(f"Saved {resource.name}.", "success")
    return _resource_page(resource, "resource_form", status=form.status, form=form)


@bp.route("/resources/<int:resource_id>/rates", methods=["POST"])
@allow(policy.can_manage_reference_data, "You cannot manage resources.")
def set_rate(resource_id: int):
    resource = db.get_or_404(Resource, resource_id)
    form = RateForm()
    saved = submit(form, lambda: resources.set_rate(db.session, current_user, resource.id, form.rate_type.data,
                                                    form.amount.data, form.effective_from.data))
    if saved is not None and not htmx.is_fragment_request():
        return htmx.redirect_to(url_for(".resource_detail", resource_id=resource.id))
    return _resource_page(resource, "rates", status=form.status, rate_form=None if saved is not None else form)


@bp.route("/rates/<int:rate_id>/remove", methods=["POST"])
@allow(policy.can_manage_reference_data, "You cannot manage resources.")
def remove_rate(rate_id: int):
    rate = db.get_or_404(ResourceRate, rate_id)
    resource = rate.resource
    resources.remove_rate(db.session, current_user, rate.id)
    db.session.commit()
    if not htmx.is_fragment_request():
        return htmx.redirect_to(url_for(".resource_detail", resource_id=resource.id))
    return _resource_page(resource, "rates")
