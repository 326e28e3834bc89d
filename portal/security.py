"""What every response says about itself, and who the client is behind a reverse proxy.

- Security headers through Flask-Talisman: a Content-Security-Policy that allows scripts, styles, images
  and requests from the portal only (no inline script or style, no eval: behaviour lives in static/js, and
  htmx's own indicator style is turned off in base.html's htmx config); frames refused (CSP frame-ancestors
  and X-Frame-Options); nosniff; a same-origin referrer; in production, HTTPS enforced with HSTS and secure
  cookies.
- `Cache-Control: no-store` on everything a signed-in user is sent (pages, fragments, CSVs): a shared or
  back-button cache must not keep a page of rates or timesheets.
- TRUSTED_PROXY_HOPS: how many reverse proxies stand in front of the portal. Their X-Forwarded-For/-Proto/
  -Host/-Port are believed for that many hops (werkzeug's ProxyFix) and no further, so the address that login
  throttling counts is the client's, and nobody can pick one by sending the header themselves.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request
from flask_login import current_user
from flask_talisman import Talisman
from werkzeug.middleware.proxy_fix import ProxyFix

SELF = "'self'"


def content_security_policy(app: Flask) -> dict[str, str]:
    procore = urlsplit(app.config["PROCORE_API_BASE_URL"])
    return {
        "default-src": SELF,
        "script-src": SELF,
        "style-src": SELF,
        "img-src": f"{SELF} data:",
        "font-src": SELF,
        "connect-src": SELF,
        "object-src": "'none'",
        "base-uri": SELF,
        "frame-ancestors": "'none'",
        # A plain (non-htmx) form may end in a redirect to Procore's sign-in (Admin → Integrations → Procore).
        "form-action": f"{SELF} {procore.scheme}://{procore.netloc}",
    }


def trust_proxies(app: Flask, hops: int) -> None:
    """Believe the X-Forwarded-* headers of `hops` reverse proxies (the nearest ones), no more."""
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def init_app(app: Flask) -> None:
    production = app.config["PORTAL_ENV"] == "production"
    Talisman(
        app,
        content_security_policy=content_security_policy(app),
        force_https=production,
        strict_transport_security=production,
        session_cookie_secure=production,
        frame_options="DENY",
        referrer_policy="same-origin",
    )
    trust_proxies(app, app.config["TRUSTED_PROXY_HOPS"])

    @app.after_request
    def no_store_for_signed_in_users(response: Response) -> Response:
        if request.endpoint != "static" and current_user and current_user.is_authenticated:
            response.headers["Cache-Control"] = "no-store"
        return response
