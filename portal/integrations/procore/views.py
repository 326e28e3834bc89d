"""Admin → Integrations → Procore (connect, settings, project links, activity, disconnect). Procore delivers
its time card events to the shared webhook endpoint (portal/integrations/webhook_views.py)."""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, current_app, flash, request, session, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal import htmx, paging
from portal.auth import policy
from portal.auth.access import allow
from portal.errors import Conflict
from portal.extensions import db
from portal.forms import submit
from portal.integrations.models import ProjectLink
from portal.integrations.procore import activity, catch_up, connection, messages
from portal.integrations.procore.connector import GrantType
from portal.integrations.procore.forms import ConnectForm, LinkForm, SettingsForm
from portal.integrations.webhooks import callback_url
from portal.projects.models import Offering
from portal.runs import services as runs
from portal.runs.models import SyncRun

bp = Blueprint("procore", __name__, url_prefix="/settings/integrations/procore")
TEMPLATE = "integrations/procore/settings.html"
OAUTH_STATE = "procore_oauth_state"
LINKS_PAGE = 50


ADMINS = "Only admins can manage timesheet-tool connections."


def _settings_form(found, formdata=None) -> SettingsForm:
    settings = connection.prefs(found) if found is not None else dict(connection.PREFERENCES)
    form = SettingsForm(formdata=formdata, data={**settings, "alert_emails": "\n".join(settings["alert_emails"])})
    cached = (found.settings or {}).get("time_types", []) if found is not None else []
    names = sorted({t["name"] for t in cached} | set(settings["task_time_types"]))
    form.task_time_types.choices = [(n, n) for n in names]
    return form


def _link_form(found, formdata=None) -> LinkForm:
    form = LinkForm(formdata=formdata)
    projects = (found.settings or {}).get("projects", []) if found is not None else []
    linked = set(db.session.scalars(select(ProjectLink.external_id).where(
        ProjectLink.connection_id == found.id))) if found is not None else set()
    form.external_project_id.choices = [("", "Choose…")] + [
        (p["id"], p["name"] + ("" if p["active"] else " (inactive)")) for p in projects if p["id"] not in linked]
    form.offering_id.resolve(db.session)
    return form


def _links(found, after: str | None = None) -> tuple[list[ProjectLink], str | None]:
    """A page of the linked projects by Procore name (keyset), with their offerings and projects."""
    query = (select(ProjectLink).where(ProjectLink.connection_id == found.id)
             .options(joinedload(ProjectLink.offering).joinedload(Offering.project)))
    return paging.by_name(db.session, query, ProjectLink.external_name, ProjectLink.id, after, LINKS_PAGE)


def _connect_form(found) -> ConnectForm:
    """Filled in for a reconnect as it was connected (a Procore user signs in again; the secret is re-entered)."""
    held = connection.credentials(found) if found is not None and found.status != "disconnected" else {}
    return ConnectForm(formdata=None, data={
        "company_id": getattr(found, "account_id", None), "company_name": getattr(found, "account_name", ""),
        "method": held.get("grant", GrantType.CLIENT_CREDENTIALS), "client_id": held.get("client_id", "")})


def _page(block: str | None = None, status: int = 200, **forms):
    found = connection.get_connection(db.session)
    if block == "activity" and found is not None and htmx.is_fragment_request():
        # The activity section polls every few seconds: read only what it shows.
        return htmx.render(TEMPLATE, block=block, activity=activity.activity(db.session, found))
    links, cursor = _links(found, request.args.get("after")) if found is not None else ([], None)
    if block == "link_rows":
        return htmx.render(TEMPLATE, block=block, links=links, next_cursor=cursor)
    context = {
        "found": found,
        "setup_run": runs.active_run(db.session, "procore:connection"),
        "last_setup": db.session.scalar(select(SyncRun).where(SyncRun.scope == "procore:connection")
                                        .order_by(SyncRun.id.desc()).limit(1)),
        "connect_form": forms.get("connect_form") or _connect_form(found),
        "settings_form": forms.get("settings_form") or _settings_form(found),
        "link_form": forms.get("link_form") or _link_form(found),
        "links": links,
        "next_cursor": cursor,
        "activity": activity.activity(db.session, found) if found is not None else None,
        "webhook_url": callback_url(found) if found is not None else None,
        "callback_url": _callback_url(),
    }
    return htmx.render(TEMPLATE, block=block, status=status, **context)


@bp.route("")
@allow(policy.can_manage_connections, ADMINS)
def settings_page():
    """The page; `after` (with HX-Request): the next page of linked projects ("Load more")."""
    return _page("link_rows" if request.args.get("after") and htmx.is_fragment_request() else None)


@bp.route("/panel")
@allow(policy.can_manage_connections, ADMINS)
def panel():
    """The whole page body; polled while a connect or disconnect run is working."""
    return _page("procore_page")


@bp.route("/connect", methods=["POST"])
@allow(policy.can_manage_connections, ADMINS)
def connect():
    form = ConnectForm()
    values = dict(company_id=form.company_id.data, company_name=form.company_name.data,
                  client_id=form.client_id.data, client_secret=form.client_secret.data)
    if form.method.data == GrantType.AUTHORIZATION_CODE:
        state = secrets.token_urlsafe(24)
        session[OAUTH_STATE] = state
        address = submit(form, lambda: connection.start_authorization(
            db.session, current_user, redirect_uri=_callback_url(), state=state,
            **values))
        if address is not None:
            return htmx.redirect_to(address)
    else:  # the connect run's progress says what it checks, and gives way to the result
        submit(form, lambda: connection.start_connect(db.session, current_user, **values))
    return _page("procore_page", status=form.status, connect_form=form)


def _callback_url() -> str:
    """The redirect URI to register in the Procore app: on the portal's public address, like the webhook."""
    return current_app.config["PORTAL_PUBLIC_URL"].rstrip("/") + url_for("procore.oauth_callback")


@bp.route("/oauth/callback")
@allow(policy.can_manage_connections, ADMINS)
def oauth_callback():
    expected = session.pop(OAUTH_STATE, None)
    if not expected or not secrets.compare_digest(expected, request.args.get("state", "")):
        raise Conflict("The Procore sign-in could not be matched to this browser session; start it again.")
    if request.args.get("error"):
        flash(f"Procore sign-in was not completed: {request.args.get('error_description') or request.args['error']}",
              "error")
        return htmx.redirect_to(url_for("procore.settings_page"))
    connection.finish_authorization(db.session, current_user, request.args.get("code", ""))
    db.session.commit()
    flash("Signed in at Procore.", "success")  # the connect run's progress shows what is checked next
    return htmx.redirect_to(url_for("procore.settings_page"))


@bp.route("/settings", methods=["POST"])
@allow(policy.can_manage_connections, ADMINS)
def save_settings():
    found = connection.get_connection(db.session)
    form = _settings_form(found, formdata=request.form)
    changed = submit(form, lambda: connection.update_preferences(
        db.session, current_user, receive=form.receive.data, send=form.send.data, only_linked=form.only_linked.data,
        sub_job_projects=form.sub_job_projects.data, task_time_types=sorted(form.task_time_types.data or []),
        alert_emails=form.alert_list))
    if changed is not None:
        flash("Saved." if changed else "Nothing changed.", "success")
    return _page("settings", status=form.status, settings_form=form)


@bp.route("/links", methods=["POST"])
@allow(policy.can_manage_connections, ADMINS)
def add_link():
    found = connection.get_connection(db.session)
    form = _link_form(found, formdata=request.form)

    def link():
        made = connection.link_project(db.session, current_user, form.external_project_id.data, form.offering_id.data)
        catch_up.requeue_for_project(db.session, made.connection_id, made.external_id)
        return made

    if submit(form, link) is not None:
        flash("Linked. Time cards of that project now sync with the offering.", "success")
        form = None
    return _page("links", status=form.status if form else 200, link_form=form)


@bp.route("/links/<int:link_id>/remove", methods=["POST"])
@allow(policy.can_manage_connections, ADMINS)
def remove_link(link_id: int):
    connection.unlink_project(db.session, current_user, link_id)
    db.session.commit()
    flash("Unlinked. Entries already synced stay.", "success")
    return _page("links")


@bp.route("/sync", methods=["POST"])
@allow(policy.can_manage_connections, ADMINS)
def sync_now():
    started = connection.start_catch_up(db.session, current_user.id)
    if started is None:
        raise Conflict("Procore is not connected.")
    db.session.commit()
    return _page("activity")


@bp.route("/disconnect", methods=["POST"])
@allow(policy.can_manage_connections, ADMINS)
def disconnect():
    connection.start_disconnect(db.session, current_user)
    db.session.commit()
    return _page("procore_page")


@bp.route("/activity")
@allow(policy.can_manage_connections, ADMINS)
def activity_section():
    return _page("activity")


@bp.route("/messages/<int:message_id>/retry", methods=["POST"])
@allow(policy.can_manage_connections, ADMINS)
def retry_message(message_id: int):
    found = connection.get_connection(db.session) or abort(404)
    messages.retry(db.session, current_user, message_id, found.id)
    db.session.commit()
    flash("Queued again.", "success")
    return _page("activity")

