"""Finance pages: the organization's actuals (filter, export, post held timesheets), cost categories and
fiscal periods (create, lock, unlock), and a project's transactions as CSV."""

from __future__ import annotations

from flask import Blueprint, Response, flash, request, stream_with_context, url_for
from flask_login import current_user

from portal import htmx
from portal.auth import policy
from portal.auth.access import allow
from portal.extensions import db
from portal.finance import batches, reports, services
from portal.finance.forms import CostCategoryForm, FiscalPeriodForm
from portal.finance.models import CostCategory, FiscalPeriod
from portal.forms import submit
from portal.org.services import get_settings
from portal.projects.models import Project

bp = Blueprint("finance", __name__)
FINANCE = "Finance pages are for admins and MPE users."


def _ledger_filters() -> reports.LedgerFilters:
    args = request.args
    return reports.LedgerFilters(project_id=args.get("project", type=int), period_id=args.get("period", type=int),
                                 kind=args.get("kind", "actual"))


def _csv(rows, filename: str) -> Response:
    response = Response(stream_with_context(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# Actuals -----------------------------------------------------------------------------------------------
@bp.route("/finance/actuals")
@allow(policy.can_view_finance, FINANCE)
def actuals():
    filters = _ledger_filters()
    after = request.args.get("after")
    rows, cursor = reports.transactions(db.session, filters, after=after)
    projects, periods = reports.filter_choices(db.session)
    settings = get_settings(db.session)
    return htmx.render(
        "finance/actuals.html", block="ledger_rows" if after else "actuals_table", filters=filters,
        transactions=rows, next_cursor=cursor, totals=reports.totals(db.session, filters), projects=projects,
        periods=periods, unposted=reports.unposted_portions(db.session, filters.project_id, filters.period_id),
        held=batches.held_count(db.session), sync_enabled=settings.finance_sync_enabled,
        rate_types=reports.rate_types(db.session, settings.finance_rate_type),
    )


@bp.route("/finance/actuals.csv")
@allow(policy.can_view_finance, FINANCE)
def actuals_csv():
    return _csv(reports.transactions_csv(db.session, _ledger_filters()), "actuals.csv")


@bp.route("/projects/<int:project_id>/finance.csv")
@allow(policy.is_internal)
def project_csv(project_id: int):
    project = db.get_or_404(Project, project_id)
    policy.require(policy.can_see_money(current_user, project), "You cannot see this project's money.")
    filters = reports.LedgerFilters(project_id=project.id, kind=request.args.get("kind", "actual"))
    return _csv(reports.transactions_csv(db.session, filters), f"project-{project.id}-transactions.csv")


@bp.route("/finance/post-held", methods=["POST"])
@allow(policy.is_internal)
def post_held():
    run = batches.start_post_held(db.session, current_user)
    db.session.commit()
    return htmx.render("runs/run.html", block="sync_run", run=run)


@bp.route("/finance/repost", methods=["POST"])
@allow(policy.can_view_finance, FINANCE)
def repost():
    """Re-post the open periods at the organization's rate type (after it changed), as a watched run."""
    run = batches.start_repost(db.session, current_user)
    db.session.commit()
    return htmx.render("runs/run.html", block="sync_run", run=run)


# Cost categories ---------------------------------------------------------------------------------------
@bp.route("/finance/cost-categories", methods=["GET", "POST"])
@allow(policy.can_view_finance, FINANCE)
def cost_categories():
    form = CostCategoryForm()
    created = submit(form, lambda: services.create_cost_category(db.session, current_user, form.name.data,
                                                                 form.code.data or ""))
    if created is not None:
        flash(f"Added the cost category {created.name}.", "success")
        return htmx.redirect_to(url_for(".cost_categories"))
    return htmx.render("finance/cost_categories.html", block="category_form", form=form, status=form.status,
                       categories=services.list_cost_categories(db.session, include_inactive=True),
                       default_id=get_settings(db.session).default_cost_category_id)


@bp.route("/finance/cost-categories/<int:category_id>", methods=["GET", "POST"])
@allow(policy.can_view_finance, FINANCE)
def edit_cost_category(category_id: int):
    category = db.get_or_404(CostCategory, category_id)
    form = CostCategoryForm(obj=category)
    saved = submit(form, lambda: services.update_cost_category(db.session, current_user, category.id,
                                                               name=form.name.data, code=form.code.data or "",
                                                               active=form.active.data))
    if saved is not None:
        flash(f"Saved {category.name}.", "success")
        return htmx.redirect_to(url_for(".cost_categories"))
    return htmx.render("finance/cost_category.html", block="category_form", form=form, category=category,
                       status=form.status)


# Fiscal periods ----------------------------------------------------------------------------------------
def _periods_page(form: FiscalPeriodForm, block: str = "periods", status: int = 200, run=None):
    return htmx.render("finance/fiscal_periods.html", block=block, form=form, status=status, run=run,
                       periods=services.list_fiscal_periods(db.session))


@bp.route("/finance/fiscal-periods", methods=["GET", "POST"])
@allow(policy.can_view_finance, FINANCE)
def fiscal_periods():
    form = FiscalPeriodForm()
    created = submit(form, lambda: services.create_fiscal_period(db.session, current_user, form.name.data,
                                                                 form.start_date.data, form.end_date.data))
    if created is not None:
        flash(f"Added the fiscal period {created.name}.", "success")
        form = FiscalPeriodForm(formdata=None)
    return _periods_page(form, status=form.status)


@bp.route("/finance/fiscal-periods/<int:period_id>/<any(lock, unlock):action>", methods=["POST"])
@allow(policy.can_view_finance, FINANCE)
def lock_period(period_id: int, action: str):
    period = db.get_or_404(FiscalPeriod, period_id)
    services.set_period_lock(db.session, current_user, period.id, action == "lock")
    db.session.commit()
    if action == "lock":
        flash(f"Locked {period.name}: nothing in it will be added, changed or deleted.", "success")
        run = None
    else:
        flash(f"Unlocked {period.name}: what the lock held back is being posted now.", "success")
        run = batches.latest_period_run(db.session, period.id)
    return _periods_page(FiscalPeriodForm(formdata=None), run=run)
