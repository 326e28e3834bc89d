"""Finance pages: the organization's actuals (filter, export, post held timesheets), cost categories and
fiscal periods (create, put on hold, reopen, close for good; the rule for actuals of periods on hold), and a
project's transactions as CSV."""

from __future__ import annotations

from flask import Blueprint, Response, flash, request, stream_with_context, url_for
from flask_login import current_user

from portal import htmx, inputs, lookups
from portal.auth import policy
from portal.auth.access import allow
from portal.extensions import db
from portal.finance import batches, reports, services
from portal.finance.forms import ClosePeriodForm, CostCategoryForm, FiscalPeriodForm, LockedPeriodRuleForm
from portal.finance.models import LOCKED_RULE_LABELS, CostCategory, FiscalPeriod, TransactionKind
from portal.forms import submit
from portal.org.services import get_settings
from portal.projects.models import Project

bp = Blueprint("finance", __name__)
UNPOSTED_SHOWN = 50
FINANCE = "Finance pages are for admins and MPE users."


def _ledger_filters() -> reports.LedgerFilters:
    return reports.LedgerFilters(project_id=inputs.query_int("project"), period_id=inputs.query_int("period"),
                                 kind=_kind())


def _kind() -> str:
    """Actuals, forecasts, or both (empty)."""
    return inputs.query_choice("kind", [*TransactionKind, ""], TransactionKind.ACTUAL)


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
    unposted = reports.unposted_portions(db.session, filters.project_id, filters.period_id, limit=UNPOSTED_SHOWN + 1)
    settings = get_settings(db.session)
    return htmx.render(
        "finance/actuals.html", block="ledger_rows" if after else "actuals_table", filters=filters,
        transactions=rows, next_cursor=cursor, totals=reports.totals(db.session, filters),
        project_name=lookups.name(db.session, "projects", filters.project_id),
        periods=reports.fiscal_periods(db.session), unposted=unposted[:UNPOSTED_SHOWN],
        more_unposted=len(unposted) > UNPOSTED_SHOWN, held=batches.held_count(db.session),
        sync_enabled=settings.finance_sync_enabled,
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
    filters = reports.LedgerFilters(project_id=project.id, kind=_kind())
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
def _periods_page(form: FiscalPeriodForm | None = None, block: str = "periods", status: int = 200, run=None,
                  closing: FiscalPeriod | None = None, close_form: ClosePeriodForm | None = None,
                  rule_form: LockedPeriodRuleForm | None = None):
    periods = services.list_fiscal_periods(db.session)
    rule = get_settings(db.session).locked_period_actuals
    return htmx.render("finance/fiscal_periods.html", block=block, status=status, run=run, periods=periods,
                       form=form or FiscalPeriodForm(formdata=None), holdings=services.holdings(
                           db.session, [p.id for p in periods]), rule=rule,
                       rule_form=rule_form or LockedPeriodRuleForm(formdata=None, rule=rule),
                       closing=closing, close_form=close_form or ClosePeriodForm(formdata=None))


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
    """Put a period on hold ("lock", today's lock) or reopen it ("unlock")."""
    period = db.get_or_404(FiscalPeriod, period_id)
    services.set_period_lock(db.session, current_user, period.id, action == "lock")
    db.session.commit()
    if action == "lock":
        flash(f"Put {period.name} on hold: nothing in it will be added, changed or deleted until it is reopened.",
              "success")
        run = None
    else:
        flash(f"Reopened {period.name}: what the hold kept back is being posted into it now.", "success")
        run = batches.latest_period_run(db.session, period.id)
    return _periods_page(run=run)


@bp.route("/finance/fiscal-periods/<int:period_id>/close", methods=["GET", "POST"])
@allow(policy.can_view_finance, FINANCE)
def close_period(period_id: int):
    """GET: the confirmation naming what the period holds; POST: close it for good."""
    period = db.get_or_404(FiscalPeriod, period_id)
    policy.require(policy.can_lock_fiscal_periods(current_user), "Only admins can close fiscal periods.")
    form = ClosePeriodForm()
    if request.method == "GET":
        return _periods_page(block="close_dialog", closing=period, close_form=form)
    closed = submit(form, lambda: services.close_period(db.session, current_user, period.id, form.confirm_name.data))
    if closed is None:
        return _periods_page(status=form.status, closing=period, close_form=form)
    flash(f"Closed {period.name} for good. What it held back is being posted on the first open day after it.",
          "success")
    return _periods_page(run=batches.latest_period_run(db.session, period.id))


@bp.route("/finance/fiscal-periods/rule", methods=["POST"])
@allow(policy.can_view_finance, FINANCE)
def locked_period_rule():
    form = LockedPeriodRuleForm()
    changed = submit(form, lambda: services.set_locked_period_rule(db.session, current_user, form.rule.data))
    if changed:
        flash(f"Saved. Actuals that would land in a period on hold: {LOCKED_RULE_LABELS[form.rule.data]}. The "
              "timesheets concerned are being brought in line now.", "success")
    elif changed is not None:
        flash("Nothing changed.", "info")
    return _periods_page(status=form.status, rule_form=form if changed is None else None)
