"""/healthz (public: load balancers and process managers), /metrics (Prometheus, token), and Admin → System."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, request
from flask_login import current_user

from portal import htmx, queue
from portal.auth import policy
from portal.auth.access import allow, public
from portal.extensions import csrf, db
from portal.system import metrics, status

bp = Blueprint("system", __name__)
ADMINS_ONLY = "The System page is for admins."


@bp.route("/healthz")
@public
@csrf.exempt
def healthz():
    """200 when the database and Redis answer, else 503 naming the part that does not. No login, no details."""
    checks = status.health(db.session, queue.redis_connection())
    healthy = all(value == "ok" for value in checks.values())
    response = jsonify(status="ok" if healthy else "failing", **checks)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/metrics")
@public  # the bearer token (METRICS_TOKEN) guards it
def prometheus_metrics():
    if not current_app.config.get("METRICS_ENABLED"):
        abort(404)
    if not metrics.authorized(current_app, request.headers.get("Authorization")):
        response = jsonify(error="A bearer token (METRICS_TOKEN) is needed.")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return metrics.scrape(current_app, db.session, queue.redis_connection())


def _page(status_code: int = 200):
    redis = queue.redis_connection()
    from portal.cron import schedule

    schedulers = status.cron_schedulers(redis)
    up_since = min((status.aware(s.created_at) for s in schedulers), default=None)
    return htmx.render("system/system.html", block="system", status=status_code,
                       workers=status.workers(redis), queues=status.queues(redis), schedulers=schedulers,
                       cron=status.cron_entries(db.session, schedule(), up_since), error_of=status.error_of,
                       aware=status.aware, listed=status.LISTED)


@bp.route("/admin/system")
@allow(policy.is_admin, ADMINS_ONLY)
def system_page():
    return _page()


@bp.route("/admin/system/failed/<queue_name>/<job_id>/<any(retry, delete):action>", methods=["POST"])
@allow(policy.is_admin, ADMINS_ONLY)
def failed_job(queue_name: str, job_id: str, action: str):
    redis = queue.redis_connection()
    act = status.retry_failed_job if action == "retry" else status.delete_failed_job
    job = act(db.session, redis, current_user, queue_name, job_id)
    db.session.commit()
    flash(f"{'Queued again' if action == 'retry' else 'Deleted'}: {job.func_name}.", "success")
    return _page()
