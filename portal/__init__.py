"""The portal's app factory: configuration, extensions, blueprints, CLI, error pages. No I/O here:
schema upgrades, demo data and Redis connections are commands and lazy lookups, never start-up work."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, request, url_for

from portal import config as portal_config
from portal import security
from portal.extensions import csrf, db, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str((overrides or {}).get("INSTANCE_PATH") or ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(portal_config.load_settings(app.instance_path))
    if overrides:
        app.config.from_mapping(overrides)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = portal_config.engine_options(app.config)

    from portal.inputs import IdConverter

    app.url_map.converters["int"] = IdConverter  # ids beyond what an id column holds match no route
    _models()
    _init_tools()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    security.init_app(app)  # headers (CSP, HSTS in production), no-store, ProxyFix: portal/security.py
    _init_login(app)
    _register_blueprints(app)
    _init_templates(app)
    _connect_receivers()
    _register_lookups()

    _register_error_pages(app)

    from portal.cli import register_commands

    register_commands(app)

    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app


HTTP_MESSAGES = {
    400: "The request could not be understood.",
    401: "Please log in.",
    403: "You are not allowed to do that.",
    404: "There is nothing at this address. It may have been deleted.",
    405: "That action is not available here.",
    413: "The upload is too large.",
    429: "Too many requests; wait a moment and try again.",
    500: "An unexpected error happened. It has been logged; please try again.",
}


def _register_error_pages(app: Flask) -> None:
    """Every error raised anywhere (portal/errors.py, HTTP, CSRF, unexpected) answers as a page, or for htmx as a
    fragment retargeted at the flash area."""
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import HTTPException

    from portal import htmx
    from portal.errors import PortalError

    def respond(status: int, title: str, message: str):
        return htmx.render_error(status=status, title=title, message=message)

    @app.errorhandler(PortalError)
    def portal_error(error: PortalError):
        if error.status >= 500:
            app.logger.warning("%s on %s: %s", type(error).__name__, request.path, error.message)
        return respond(error.status, error.title, error.message)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return respond(
            400,
            "Your form expired",
            "The security token of this form is missing or invalid (" + error.description.rstrip(".") + "). "
            "Reload the page and try again; nothing was saved.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        return respond(status, error.name, HTTP_MESSAGES.get(status, error.description or error.name))

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        return respond(500, "Unexpected error", HTTP_MESSAGES[500])


def _models() -> None:
    """Import every model module so the metadata (and Alembic's autogenerate) sees all tables."""
    import portal.audit  # noqa: F401
    import portal.auth.models  # noqa: F401
    import portal.expenses.models  # noqa: F401
    import portal.finance.models  # noqa: F401
    import portal.integrations.models  # noqa: F401
    import portal.mail  # noqa: F401
    import portal.org.models  # noqa: F401
    import portal.planning.models  # noqa: F401
    import portal.projects.items  # noqa: F401
    import portal.projects.models  # noqa: F401
    import portal.runs.models  # noqa: F401
    import portal.stages.models  # noqa: F401
    import portal.system.models  # noqa: F401  (scale, issue 14: cron runs)
    import portal.timesheets.models  # noqa: F401


def _init_tools() -> None:
    """Each timesheet tool's start-up modules: its models and the signal receivers it connects on import."""
    from portal.integrations.registry import load, tools

    for tool in tools():
        for module in tool.imports:
            load(module)


def _connect_receivers() -> None:
    """Domains that follow other domains' events (portal/events.py) connect their receivers on import."""
    import portal.integrations.receivers  # noqa: F401  (timesheet tools: pushes and provisioning on change)
    import portal.stages.receivers  # noqa: F401  (stage editor: emails, CRM updates, budget checks)
    from portal.finance.receivers import connect as connect_finance  # postings and forecasts
    from portal.timesheets.notifications import connect as connect_notifications  # decisions told to the person

    connect_finance()  # connecting twice is harmless
    connect_notifications()


def _register_lookups() -> None:
    """Domains register their searchable selects' kinds (portal/lookups.py) on import."""
    import portal.projects.lookups  # noqa: F401  (clients, projects, offerings, tasks, people, users)


def _init_login(app: Flask) -> None:
    from portal import htmx
    from portal.auth.access import enforce
    from portal.auth.services import user_for_session
    from portal.inputs import refuse_nul

    login_manager.init_app(app)
    app.before_request(enforce)  # every route's declared rule (portal/auth/access.py), before any other hook
    app.before_request(refuse_nul)  # the input layer (portal/inputs.py)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(token: str):
        return user_for_session(db.session, token)

    @login_manager.unauthorized_handler
    def unauthorized():
        # htmx would follow a 302 and swap the login page into a fragment target; send HX-Redirect.
        target = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
        if htmx.is_htmx_request():
            response = htmx.redirect_to(target)
            response.status_code = 401
            return response
        return htmx.redirect_to(target)


def _register_blueprints(app: Flask) -> None:
    from portal.auth.views import bp as auth_bp
    from portal.expenses.views import bp as expenses_bp
    from portal.finance.views import bp as finance_bp
    from portal.forecasts.views import bp as forecasts_bp
    from portal.home.views import bp as home_bp
    from portal.integrations.registry import load, tools
    from portal.integrations.settings_views import bp as integration_settings_bp
    from portal.integrations.views import bp as integrations_bp
    from portal.integrations.webhook_views import bp as webhooks_bp
    from portal.org.views import bp as org_bp
    from portal.planning.views import bp as planning_bp
    from portal.projects.crm_views import bp as crm_bp
    from portal.projects.views import bp as projects_bp
    from portal.runs.views import bp as runs_bp
    from portal.stages.views import bp as stages_bp
    from portal.timesheets.approval_views import bp as approvals_bp
    from portal.timesheets.views import bp as timesheets_bp
    from portal.workspaces.views import bp as workspaces_bp

    for bp in (auth_bp, home_bp, projects_bp, crm_bp, org_bp, runs_bp, integrations_bp, integration_settings_bp,
               webhooks_bp, stages_bp, planning_bp, expenses_bp, workspaces_bp, forecasts_bp, timesheets_bp,
               approvals_bp, finance_bp):
        app.register_blueprint(bp)
    for tool in tools():
        for blueprint in tool.blueprints:
            app.register_blueprint(load(blueprint))

    # Scale (issue 14): the options of searchable selects; /healthz, /metrics and the System page
    from portal.projects.lookup_views import bp as lookups_bp
    from portal.system import metrics
    from portal.system.views import bp as system_bp

    for bp in (lookups_bp, system_bp):
        app.register_blueprint(bp)
    metrics.init_app(app)


def _init_templates(app: Flask) -> None:
    from portal import formatting
    from portal.auth import policy
    from portal.auth.models import ROLE_LABELS
    from portal.urls import link, url_for_each

    app.jinja_env.globals.update(policy=policy, role_labels=ROLE_LABELS, link=link, url_for_each=url_for_each)
    app.jinja_env.filters.update(formatting.FILTERS)
    # No context processor of ours: Flask-Login gives templates `current_user`, and what a page shows
    # (the layout's navigation too, portal/layout.py) is handed to it by its view through portal.htmx.render.
