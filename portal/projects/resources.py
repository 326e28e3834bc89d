"""Resources (people who work and are billed) and their effective-dated cost and sell rates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit, events, paging
from portal.auth import policy
from portal.auth.models import Role, User, normalize_email
from portal.auth.services import check_email
from portal.errors import Conflict, InvalidInput, get_or_raise
from portal.formatting import money
from portal.lookups import contains
from portal.projects.models import RateType, Resource, ResourceRate

MAX_RATE = Decimal("100000")


def _require(actor: User | str | None) -> None:
    if isinstance(actor, User):
        policy.require(policy.can_manage_reference_data(actor), "You cannot manage resources.")


def _login_id(session: Session, login_email: str | None, resource_id: int | None = None) -> int | None:
    """The login (by email) that enters a resource's time; None for people who do not log in."""
    login_email = normalize_email(login_email or "")
    if not login_email:
        return None
    user = session.scalar(select(User).where(User.email == login_email))
    if user is None:
        raise InvalidInput(f"No login has the email {login_email}; create it under Admin → Users first.",
                           fields={"login_email": "No such login."})
    if user.role == Role.CLIENT:
        raise InvalidInput(f"{user.name} is a client user; client logins do not enter time.",
                           fields={"login_email": "A client login."})
    other = session.scalar(select(Resource).where(Resource.user_id == user.id, Resource.id != resource_id))
    if other is not None:
        raise Conflict(f"The login {login_email} already enters the time of {other.name}.",
                       fields={"login_email": "Linked to another resource."})
    return user.id


def create_resource(session: Session, actor: User | str | None, *, name: str, email: str, title: str = "",
                    user_id: int | None = None, default_cost_category_id: int | None = None,
                    login_email: str | None = None) -> Resource:
    _require(actor)
    email = check_email(email)
    if login_email:
        user_id = _login_id(session, login_email)
    if not (name or "").strip():
        raise InvalidInput("Enter the person's name.", fields={"name": "Enter a name."})
    if session.scalar(select(Resource.id).where(Resource.email == email)):
        raise Conflict(f"A resource with the email {email} already exists.", fields={"email": "Already in use."})
    resource = Resource(name=name.strip(), email=email, title=(title or "").strip(), user_id=user_id,
                        default_cost_category_id=default_cost_category_id)
    session.add(resource)
    session.flush()
    audit.record(session, actor, "resource.created", resource,
                 after=audit.snapshot(resource, ["name", "email", "title", "user_id", "default_cost_category_id"]),
                 summary=f"Created resource {resource.name}")
    return resource


def time_zone_choices(organization_zone: str) -> list[tuple[str, str]]:
    """The resource form's zones: the organization's first (blank: follows it), then every IANA zone."""
    return [("", f"The organization's ({organization_zone})")] + [(z, z) for z in sorted(available_timezones())
                                                                   if "/" in z and not z.startswith("Etc/")]


def update_resource(session: Session, actor: User | str | None, resource_id: int, *, name: str, email: str,
                    title: str, active: bool, default_cost_category_id: int | None,
                    login_email: str | None = None, expected_hours_per_week: Decimal | None = None,
                    time_zone: str | None = None) -> Resource:
    """Changing the email changes who the timesheet tools' people are matched to (by exact email).

    `login_email` names the login that enters this person's time (My time); "" unlinks it, None keeps it.
    `expected_hours_per_week` (timesheet reminders): None follows the organization's; 0 means never logs time.
    `time_zone` (issue 13: synced time is dated by its start in it; admins only): an IANA name, "" for the
    organization's, None keeps it. Entries already synced keep their dates until the tool sends them again.
    """
    _require(actor)
    resource = get_or_raise(session, Resource, resource_id, "resource")
    email = check_email(email)
    clash = session.scalar(select(Resource.id).where(Resource.email == email, Resource.id != resource_id))
    if clash:
        raise Conflict(f"Another resource already has the email {email}.", fields={"email": "Already in use."})
    if expected_hours_per_week is not None and not 0 <= expected_hours_per_week <= 168:
        raise InvalidInput("Hours expected a week are between 0 and 168.",
                           fields={"expected_hours_per_week": "Between 0 and 168."})
    user_id = resource.user_id if login_email is None else _login_id(session, login_email, resource.id)
    if time_zone is not None and (time_zone or None) != resource.time_zone:
        if isinstance(actor, User):
            policy.require(policy.is_admin(actor), "Only admins change a person's time zone.")
        if time_zone and time_zone not in available_timezones():
            raise InvalidInput(f"{time_zone} is not a time zone (choose one from the list, e.g. Europe/Berlin).",
                               fields={"time_zone": "Not a time zone."})
    fields = ["name", "email", "title", "active", "default_cost_category_id", "user_id", "expected_hours_per_week",
              "time_zone"]
    before = audit.snapshot(resource, fields)
    if time_zone is not None:
        resource.time_zone = time_zone or None
    resource.name, resource.email, resource.title = name.strip(), email, (title or "").strip()
    resource.active, resource.default_cost_category_id, resource.user_id = active, default_cost_category_id, user_id
    resource.expected_hours_per_week = expected_hours_per_week
    old, new = audit.changes(before, audit.snapshot(resource, fields))
    if new:
        audit.record(session, actor, "resource.updated", resource, before=old, after=new,
                     summary=f"Changed resource {resource.name}")
        events.resource_updated.send(resource, session=session, actor=actor,
                                     changes={name: [old.get(name), new[name]] for name in new})
    return resource


def set_rate(session: Session, actor: User | str | None, resource_id: int, rate_type: str, amount: Decimal,
             effective_from: date) -> ResourceRate:
    """Add a rate effective from a date, or replace the one starting that same date."""
    _require(actor)
    if rate_type not in set(RateType):
        raise InvalidInput("Choose cost or sell.", fields={"rate_type": "Choose cost or sell."})
    if amount is None or amount < 0 or amount > MAX_RATE:
        raise InvalidInput(f"A rate is between 0 and {MAX_RATE:,}.", fields={"amount": "Out of range."})
    resource = get_or_raise(session, Resource, resource_id, "resource")
    rate = session.scalar(select(ResourceRate).where(
        ResourceRate.resource_id == resource_id, ResourceRate.rate_type == rate_type,
        ResourceRate.effective_from == effective_from,
    ))
    before = audit.snapshot(rate, ["amount"]) if rate else None
    if rate is None:
        rate = ResourceRate(resource_id=resource_id, rate_type=rate_type, effective_from=effective_from, amount=amount)
        session.add(rate)
    else:
        rate.amount = amount
    session.flush()
    audit.record(session, actor, "resource.rate_set", resource, before=before,
                 after={"rate_type": rate_type, "amount": amount, "effective_from": effective_from},
                 summary=f"{resource.name}: {rate_type} rate {money(amount)} from {effective_from:%d %b %Y}")
    events.resource_rates_changed.send(resource, session=session, actor=actor, changes={})
    return rate


def remove_rate(session: Session, actor: User | str | None, rate_id: int) -> None:
    _require(actor)
    rate = get_or_raise(session, ResourceRate, rate_id, "rate")
    resource = rate.resource
    audit.record(session, actor, "resource.rate_removed", resource,
                 before={"rate_type": rate.rate_type, "amount": rate.amount, "effective_from": rate.effective_from},
                 summary=f"{resource.name}: removed {rate.rate_type} rate from {rate.effective_from}")
    session.delete(rate)
    session.flush()
    events.resource_rates_changed.send(resource, session=session, actor=actor, changes={})


PAGE_SIZE = 50


def resource_page(session: Session, search: str = "", after: str | None = None,
                  limit: int = PAGE_SIZE) -> tuple[list[Resource], str | None]:
    """One page of people by name (keyset), active or not, and the next page's cursor."""
    query = select(Resource)
    if search.strip():
        query = query.where(contains(Resource.name, search.strip()) | contains(Resource.email, search.strip()))
    return paging.by_name(session, query, Resource.name, Resource.id, after, limit)


def list_resources(session: Session, include_inactive: bool = False) -> list[Resource]:
    query = select(Resource).order_by(Resource.name)
    if not include_inactive:
        query = query.where(Resource.active.is_(True))
    return list(session.scalars(query))
