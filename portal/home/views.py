"""The home page: what waits for the person, their bookings, the projects they manage (client users: their
workspaces)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint
from flask_login import current_user
from sqlalchemy import select

from portal import htmx
from portal.auth import policy
from portal.auth.access import allow
from portal.auth.models import Role
from portal.columns import today
from portal.extensions import db
from portal.home import services
from portal.org.services import get_settings
from portal.projects import services as project_services
from portal.projects.models import Resource
from portal.workspaces import services as workspaces

bp = Blueprint("home", __name__)


@bp.route("/")
@allow(policy.is_authenticated)
def index():
    """A person's home: what waits for them, their bookings for this week and the next, and the open
    projects they manage.

    Bookings of stages that do not display booked roles are left out (seed 004); client users' home is
    their workspaces."""
    if current_user.role == Role.CLIENT:
        return htmx.render("workspaces/index.html", projects=workspaces.workspaces_of(db.session, current_user))
    resource = db.session.scalar(select(Resource).where(Resource.user_id == current_user.id))
    first_weekday = get_settings(db.session).week_start
    start = project_services.week_start(today(), first_weekday)
    bookings = project_services.bookings_for(db.session, resource.id, start, start + timedelta(days=13)) \
        if resource else []
    return htmx.render("home/index.html", resource=resource, bookings=bookings,
                       managed=services.managed_projects(db.session, current_user),
                       week_from=start, waiting=services.waiting_for(db.session, current_user, resource, start))
