"""`GET /lookup/<kind>?q=...`: the options of a searchable select (portal/lookups.py), at most a page of them."""

from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user

from portal import htmx, lookups
from portal.auth import policy
from portal.auth.access import allow
from portal.extensions import db

bp = Blueprint("lookups", __name__)


@bp.route("/lookup/<kind>")
@allow(policy.is_internal, "Client users see their workspace only.")
def options(kind: str):
    params = {name: value for name, value in request.args.items() if name != "q"}
    found, more = lookups.search(db.session, current_user, kind, request.args.get("q", ""), params)
    return htmx.render("partials/lookup_options.html", block="options", options=found, more=more,
                       noun=lookups.lookup(kind).noun)
