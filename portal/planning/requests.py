"""Resource requests: a PM asks for someone's hours; a scheduler answers by booking them (seed 004
"Request resources", "Schedule resources", and the stage's "Users with permissions can" settings)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit
from portal.auth import policy
from portal.auth.models import User
from portal.errors import Conflict, InvalidInput, get_or_raise
from portal.formatting import hours_text
from portal.planning.models import RequestStatus, ResourceRequest
from portal.projects import services as projects
from portal.projects.models import Booking, BookingMode, Resource

MAX_REQUEST_DAYS = 366
REQUEST_FIELDS = ["offering_id", "resource_id", "role", "hours", "start_date", "end_date", "note", "status"]


def list_requests(session: Session, project_id: int) -> list[ResourceRequest]:
    return list(session.scalars(select(ResourceRequest).where(ResourceRequest.project_id == project_id)
                                .order_by(ResourceRequest.status != RequestStatus.OPEN, ResourceRequest.start_date)))


def request_resource(session: Session, actor: User | str | None, project_id: int, *, hours: Decimal,
                     start_date: date, end_date: date, role: str = "", resource_id: int | None = None,
                     offering_id: int | None = None, note: str = "") -> ResourceRequest:
    project = projects.get_project(session, project_id)
    if isinstance(actor, User):
        policy.require(policy.can_request_resources(actor, project),
                       f"You cannot request people while {project.name} is in {project.stage.name}.")
    if not (role or "").strip() and resource_id is None:
        raise InvalidInput("Name the person or the role you need.", fields={"role": "Enter a role or choose someone."})
    if hours is None or hours <= 0 or hours > projects.MAX_HOURS:
        raise InvalidInput("Request more than 0 hours.", fields={"hours": "More than 0."})
    if start_date is None or end_date is None or end_date < start_date:
        raise InvalidInput("The request ends before it starts.", fields={"end_date": "Must not be before the start."})
    if (end_date - start_date).days >= MAX_REQUEST_DAYS:
        raise InvalidInput("A request spans at most a year.", fields={"end_date": "At most a year."})
    if resource_id is not None and session.get(Resource, resource_id) is None:
        raise InvalidInput("Choose a person.", fields={"resource_id": "Choose a person."})
    if offering_id is not None and projects.get_offering(session, offering_id).project_id != project_id:
        raise InvalidInput("That offering belongs to another project.", fields={"offering_id": "Wrong project."})
    request = ResourceRequest(project_id=project_id, offering_id=offering_id, resource_id=resource_id,
                              role=(role or "").strip(), hours=hours, start_date=start_date, end_date=end_date,
                              note=(note or "").strip(),
                              requested_by_id=actor.id if isinstance(actor, User) else None)
    session.add(request)
    session.flush()
    audit.record(session, actor, "resource_request.created", request, after=audit.snapshot(request, REQUEST_FIELDS),
                 summary=f"{hours_text(hours)} requested on {project.name}")
    return request


def _open_request(session: Session, request_id: int) -> ResourceRequest:
    request = get_or_raise(session, ResourceRequest, request_id, "request")
    if request.status != RequestStatus.OPEN:
        raise Conflict(f"That request is already {request.status}.")
    return request


def cancel_request(session: Session, actor: User | str | None, request_id: int) -> ResourceRequest:
    request = _open_request(session, request_id)
    if isinstance(actor, User):
        policy.require(policy.can_request_resources(actor, request.project)
                       or policy.can_schedule_resources(actor, request.project), "You cannot cancel this request.")
    request.status = RequestStatus.CANCELLED
    request.decided_by_id = actor.id if isinstance(actor, User) else None
    session.flush()
    audit.record(session, actor, "resource_request.cancelled", request, before={"status": RequestStatus.OPEN},
                 after={"status": RequestStatus.CANCELLED}, summary="Resource request cancelled")
    return request


def weekly_split(hours: Decimal, start: date, end: date, first_weekday: int) -> list[tuple[date, Decimal]]:
    """Spread hours over the weeks the request touches, by their share of its days; cents go to the last."""
    weeks: dict[date, int] = {}
    day = start
    while day <= end:
        week = projects.week_start(day, first_weekday)
        weeks[week] = weeks.get(week, 0) + 1
        day += timedelta(days=1)
    total_days = sum(weeks.values())
    split = [(week, (hours * days / total_days).quantize(Decimal("0.01"), rounding=ROUND_DOWN))
             for week, days in sorted(weeks.items())]
    rest = hours - sum(h for _, h in split)
    split[-1] = (split[-1][0], split[-1][1] + rest)
    return [(week, h) for week, h in split if h > 0]


def fulfil_request(session: Session, actor: User | str | None, request_id: int, resource_id: int | None,
                   first_weekday: int) -> ResourceRequest:
    """Book the requested hours as weekly bookings of the chosen person, and mark the request booked.

    Booking is scheduling: it needs the right to schedule resources in the project's stage.
    """
    request = _open_request(session, request_id)
    resource_id = resource_id or request.resource_id
    if resource_id is None:
        raise InvalidInput("Choose who to book.", fields={"resource_id": "Choose a person."})
    for week, hours in weekly_split(request.hours, request.start_date, request.end_date, first_weekday):
        existing = session.scalar(select(Booking.hours).where(
            Booking.project_id == request.project_id, Booking.resource_id == resource_id,
            Booking.mode == BookingMode.WEEK, Booking.on == week)) or Decimal("0")
        projects.set_booking(session, actor, request.project_id, resource_id, mode=BookingMode.WEEK, on=week,
                             hours=existing + hours, offering_id=request.offering_id, first_weekday=first_weekday)
    request.status, request.resource_id = RequestStatus.BOOKED, resource_id
    request.decided_by_id = actor.id if isinstance(actor, User) else None
    session.flush()
    audit.record(session, actor, "resource_request.booked", request, before={"status": RequestStatus.OPEN},
                 after={"status": RequestStatus.BOOKED, "resource_id": resource_id},
                 summary=f"Resource request booked ({hours_text(request.hours)})")
    return request
