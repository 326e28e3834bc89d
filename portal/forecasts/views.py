"""The forecast page: projected value per month, weighted by likelihood."""

from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user

from portal import htmx, inputs
from portal.auth import policy
from portal.auth.access import allow
from portal.columns import ZERO, today
from portal.extensions import db
from portal.forecasts import services

bp = Blueprint("forecasts", __name__)
HORIZONS = (3, 6, 12)


@bp.route("/forecast")
@allow(policy.can_view_forecast, "Forecasts are for PMs, approvers, MPE users and admins.")
def forecast():
    months_ahead = int(inputs.query_choice("months", [str(h) for h in HORIZONS], "6"))
    include_closed = request.args.get("closed") == "1"
    after = request.args.get("after")
    months, rows, next_cursor = services.forecast(db.session, current_user, today(), months_ahead, include_closed,
                                                  after)
    totals = [sum((r.values[i] for r in rows), ZERO) for i in range(len(months))]
    weighted = [sum((r.weighted[i] for r in rows), ZERO) for i in range(len(months))]
    return htmx.render("forecasts/forecast.html", block="forecast_table", months=months,
                       rows=rows, totals=totals, weighted=weighted, horizons=HORIZONS, next_cursor=next_cursor,
                       after=after, filters={"months": months_ahead, "closed": "1" if include_closed else ""})
