"""Sync runs: the progress fragment every long action polls, and Retry."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user, login_required

from portal import htmx
from portal.auth import policy
from portal.extensions import db
from portal.integrations import runs
from portal.integrations.models import SyncRun

bp = Blueprint("integrations", __name__)


@bp.route("/sync-runs/<int:run_id>")
@login_required
def sync_run(run_id: int):
    """The run's progress; while it is active the fragment polls itself, once ended it stops."""
    run = db.get_or_404(SyncRun, run_id)
    policy.require(policy.can_watch_run(current_user, run), "You cannot see this run.")
    return htmx.render("integrations/run.html", block="sync_run", run=run)


@bp.route("/sync-runs/<int:run_id>/retry", methods=["POST"])
@login_required
def retry_run(run_id: int):
    run = db.get_or_404(SyncRun, run_id)
    policy.require(policy.can_watch_run(current_user, run) and policy.is_internal(current_user),
                   "You cannot retry this run.")
    new_run, _ = runs.retry(db.session, run.id, current_user.id)
    db.session.commit()
    return htmx.render("integrations/run.html", block="sync_run", run=new_run)
