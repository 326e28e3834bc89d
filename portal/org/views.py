"""Organization settings (super-admins edit, admins read) and the audit log."""

from __future__ import annotations

from flask import Blueprint, flash, request
from flask_login import current_user

from portal import audit, htmx
from portal.auth import policy
from portal.auth.access import allow
from portal.extensions import db
from portal.finance.services import list_cost_categories
from portal.forms import submit
from portal.integrations import services as integrations
from portal.org import services
from portal.org.forms import OrgSettingsForm

bp = Blueprint("org", __name__, url_prefix="/settings")

AUDIT_PAGE = 50


@bp.route("/organization", methods=["GET", "POST"])
@allow(policy.is_admin, "Settings are for admins.")
def organization():
    settings = services.get_settings(db.session)
    form = OrgSettingsForm(obj=settings)
    form.default_cost_category_id.choices = [("", "—")] + [(c.id, c.name) for c in list_cost_categories(db.session)]
    if form.is_submitted():
        policy.require(policy.can_edit_org_settings(current_user),
                       "Only a super-admin can change organization settings.")
    changed = submit(form, lambda: services.update_settings(
        db.session, current_user, **{name: getattr(form, name).data for name in services.EDITABLE}
    ))
    if changed is not None:
        flash("Saved." if changed else "Nothing changed.", "success")
        if "finance_rate_type" in (changed or {}):
            flash("Actuals already posted keep the rate type they were posted at; Finance → Actuals re-posts the "
                  "open periods at the new one.", "info")
    pushed = sorted(set(changed or {}) & services.PUSH_SETTINGS)
    return htmx.render("org/settings.html", block="settings_form", form=form, settings=settings,
                       pushed_changed=pushed, status=form.status,
                       resync_offers=integrations.resync_offers(db.session) if pushed else [])


@bp.route("/audit")
@allow(policy.can_view_audit_log, "Only admins can read the audit log.")
def audit_log():
    policy.require(policy.can_view_audit_log(current_user), "Only admins can read the audit log.")
    action = request.args.get("action", "").strip()
    subject = request.args.get("subject", "").strip()
    actor = request.args.get("actor", "").strip()
    before_id = request.args.get("before", type=int)
    events, more = audit.search(db.session, action=action, subject=subject, actor=actor, before_id=before_id,
                                limit=AUDIT_PAGE)
    filters = {"action": action, "subject": subject, "actor": actor}
    return htmx.render("org/audit.html", block="audit_rows" if before_id else "audit_table",
                       events=events, more=more, filters=filters)
