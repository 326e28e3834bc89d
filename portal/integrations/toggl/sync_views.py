"""Admin → Integrations → Sync log (time sync from the tools, seed 002 sections 6 and 8): the
organization-level Sync now, the runs with their counts, each run's messages with Retry, the Unmatched
people queue and the people list.
"""

from __future__ import annotations

from flask import Blueprint, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal import htmx, inputs
from portal.auth import policy
from portal.auth.access import allow
from portal.extensions import db
from portal.formatting import plural
from portal.forms import submit
from portal.integrations import people
from portal.integrations.forms import LinkPersonForm
from portal.integrations.models import Connection, PersonLink
from portal.integrations.registry import connector_class
from portal.integrations.services import time_scope
from portal.integrations.toggl import sync, time_runs
from portal.integrations.toggl.credentials import quota_seen
from portal.runs import services as runs
from portal.runs.models import MessageStatus, SyncMessage, SyncRun

bp = Blueprint("time_sync", __name__)
MESSAGES_SHOWN = 500
RUNS_SHOWN = 50


def _admin_connection(connection_id: int) -> Connection:
    return db.get_or_404(Connection, connection_id)


def _headline_run(connection: Connection, run_id: int | None = None) -> SyncRun | None:
    """The time sync the page's headline follows: the one the person started (Sync now, then its polls), else
    the latest that is not a webhook's (a webhook's small run would take the place of the hourly or nightly
    outcome every few seconds), else the latest."""
    scope = time_scope(connection)
    run = db.session.get(SyncRun, run_id) if run_id else None
    if run is not None and run.scope == scope:
        return run
    return db.session.scalar(select(SyncRun).where(SyncRun.scope == scope, SyncRun.kind != "webhook")
                             .order_by(SyncRun.id.desc()).limit(1)) or runs.latest(db.session, scope)


def _log_page(connection: Connection, block: str | None = None, status: int = 200, run_id: int | None = None,
              **context):
    unmatched, unmatched_next = people.unmatched_page(db.session, connection, request.args.get("unmatched_after"))
    matched, matched_next = people.matched_page(db.session, connection, request.args.get("matched_after"))
    pages = dict(connection=connection, tool=connector_class(connection.kind), unmatched=unmatched,
                 unmatched_next=unmatched_next, matched=matched, matched_next=matched_next)
    if block in ("unmatched_rows", "matched_rows"):  # Load more
        return htmx.render("integrations/toggl/sync_log.html", block=block, **pages)
    time_run = _headline_run(connection, run_id)
    log = list(db.session.scalars(select(SyncRun).where(SyncRun.connection_id == connection.id)
                                  .order_by(SyncRun.id.desc()).limit(RUNS_SHOWN)))
    return htmx.render("integrations/toggl/sync_log.html", block=block, status=status, log=log, time_run=time_run,
                       time_notes=runs.notes(db.session, time_run), quota=quota_seen(connection), **pages,
                       **context)


@bp.route("/settings/integrations/connections/<int:connection_id>/sync-log")
@allow(policy.can_manage_connections, "Only admins see the sync log.")
def sync_log(connection_id: int):
    """The log; `unmatched_after` / `matched_after` (with HX-Request): the next page of people ("Load more")."""
    block = None
    if htmx.is_fragment_request():
        block = "unmatched_rows" if request.args.get("unmatched_after") else \
            "matched_rows" if request.args.get("matched_after") else None
    return _log_page(_admin_connection(connection_id), block=block)


@bp.route("/settings/integrations/connections/<int:connection_id>/sync", methods=["GET", "POST"])
@allow(policy.can_manage_connections, "Only admins see the sync log.")
def sync_now(connection_id: int):
    """Organization-level Sync now (like nightly: every linked offering); GET polls its progress."""
    connection = _admin_connection(connection_id)
    run_id = inputs.query_int("run")  # a poll names the run it follows
    if request.method == "POST":
        run_id = time_runs.start_org_sync(db.session, current_user, connection.id).id
        db.session.commit()
    return _log_page(connection, block="time_sync", run_id=run_id)


@bp.route("/settings/integrations/sync-runs/<int:run_id>")
@allow(policy.can_manage_connections, "Only admins see the sync log.")
def run_detail(run_id: int):
    """A run and its messages (direction, external id, status, reason, attempts), failed ones with Retry."""
    run = db.get_or_404(SyncRun, run_id)
    shown_status = request.args.get("status", "")
    query = select(SyncMessage).where(SyncMessage.run_id == run.id)
    if shown_status in set(MessageStatus):
        query = query.where(SyncMessage.status == shown_status)
    messages = list(db.session.scalars(query.order_by(SyncMessage.id).limit(MESSAGES_SHOWN)))
    return htmx.render("integrations/toggl/sync_run_detail.html", run=run, notes=runs.notes(db.session, run),
                       messages=messages, shown_status=shown_status, statuses=list(MessageStatus), shown=MESSAGES_SHOWN)


@bp.route("/settings/integrations/sync-messages/<int:message_id>/retry", methods=["POST"])
@allow(policy.can_manage_connections, "Only admins see the sync log.")
def retry_message(message_id: int):
    run = sync.retry_message(db.session, current_user, message_id)
    db.session.commit()
    if not htmx.is_fragment_request():
        return htmx.redirect_to(url_for(".run_detail", run_id=run.id))
    message = db.session.get(SyncMessage, message_id)
    return htmx.render("integrations/toggl/sync_run_detail.html", block="message_row", message=message, retry_run=run)


# People ---------------------------------------------------------------------------------------------

@bp.route("/settings/integrations/connections/<int:connection_id>/people/<int:person_id>/link", methods=["POST"])
@allow(policy.can_manage_connections, "Only admins see the sync log.")
def link_person(connection_id: int, person_id: int):
    connection = _admin_connection(connection_id)
    form = LinkPersonForm()
    linked = submit(form, lambda: time_runs.link_person(db.session, current_user, connection.id, person_id,
                                                     form.resource))
    if linked is not None:
        flash(f"Linked {linked.external_email or linked.external_id} to {linked.resource.name}; their waiting time "
              "is being imported.", "success")
    return _log_page(connection, block="people", status=form.status,
                     link_errors={person_id: form} if linked is None else {})


@bp.route("/settings/integrations/connections/<int:connection_id>/people/<int:person_id>/clear", methods=["POST"])
@allow(policy.can_manage_connections, "Only admins see the sync log.")
def clear_person(connection_id: int, person_id: int):
    connection = _admin_connection(connection_id)
    person = db.get_or_404(PersonLink, person_id)
    moved, kept = people.clear_person(db.session, current_user, connection.id, person.id)
    db.session.commit()
    entries = plural(moved, "entry", "entries")
    flash(f"Cleared the mapping of {person.external_email or person.external_id}: {entries} went back to "
          f"waiting" + (f", {kept} on approved timesheets stayed (recall them to move them)." if kept else "."),
          "success")
    return _log_page(connection, block="people")


@bp.route("/settings/integrations/connections/<int:connection_id>/people/match", methods=["POST"])
@allow(policy.can_manage_connections, "Only admins see the sync log.")
def match_again(connection_id: int):
    connection = _admin_connection(connection_id)
    time_runs.match_again(db.session, current_user, connection.id)
    db.session.commit()
    flash("Matching unmatched people by email again; whoever matches now has their waiting time imported.", "success")
    return _log_page(connection, block="people")
