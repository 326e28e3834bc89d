"""A sync run's progress fragment, polled while the run is active, and its Retry."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from portal import htmx
from portal.auth import policy
from portal.auth.access import allow
from portal.extensions import db
from portal.runs import services as runs
from portal.runs.models import SyncRun

bp = Blueprint("runs", __name__)


def render_run(run: SyncRun, status: int = 200):
    """The run's fragment (a page of its own for a plain request), with its notes once it has ended."""
    return htmx.render("runs/run.html", block="sync_run", status=status, run=run, notes=runs.notes(db.session, run))


@bp.app_template_global()
def run_retry_refusal(run: SyncRun) -> str | None:
    """Why the signed-in user's Retry of `run` is refused (shown beside the disabled button), or None."""
    return runs.retry_refusal(db.session, current_user, run)


@bp.route("/sync-runs/<int:run_id>")
@allow(policy.is_authenticated)
def sync_run(run_id: int):
    """The run's progress; while it is active the fragment polls itself, once ended it stops."""
    run = db.get_or_404(SyncRun, run_id)
    policy.require(policy.can_watch_run(current_user, run), "You cannot see this run.")
    return render_run(run)


@bp.route("/sync-runs/<int:run_id>/retry", methods=["POST"])
@allow(policy.is_internal)
def retry_run(run_id: int):
    """Retry a failed run (or resume a paused one now): only who may start that work on that subject; a
    finished run is never replayed (409)."""
    run = db.get_or_404(SyncRun, run_id)
    policy.require(policy.can_watch_run(current_user, run), "You cannot retry this run.")
    new_run, _ = runs.retry(db.session, current_user, run.id)
    db.session.commit()
    return render_run(new_run)
