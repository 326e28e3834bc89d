"""Logins, throttling and user administration."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload, selectinload
from werkzeug.security import check_password_hash, generate_password_hash

from portal import audit, paging
from portal.auth import policy
from portal.auth.models import LoginAttempt, Permission, Role, User, UserPermission, normalize_email
from portal.auth.passwords import check_password, send_invitation, unusable_password_hash
from portal.columns import utcnow
from portal.errors import Conflict, InvalidInput, NotAllowed, get_or_raise
from portal.lookups import contains

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Failed logins from one address, over all accounts, before the address is throttled: LOGIN_MAX_FAILURES × this.
ADDRESS_FACTOR = 4
# Used to spend the same time on unknown emails as on known ones (no account enumeration by timing).
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def check_email(email: str) -> str:
    email = normalize_email(email)
    if not EMAIL_RE.match(email):
        raise InvalidInput("Enter a valid email address.", fields={"email": "Enter a valid email address."})
    return email


def authenticate(session: Session, email: str, password: str, remote_addr: str, *, max_failures: int,
                 lockout_minutes: int) -> User:
    """The user for these credentials, or an error.

    Failures throttle per (account, address): a stranger guessing a colleague's password locks only
    themselves out of that account, never the colleague at their own desk. An address that fails for any
    accounts ADDRESS_FACTOR times as often is throttled whole (an office may share one address, hence the
    room), so guessing across many accounts from one place stays slow too."""
    email, remote_addr = normalize_email(email), (remote_addr or "-")[:64]
    since = utcnow() - timedelta(minutes=lockout_minutes)

    def failures(*where) -> int:
        return session.scalar(select(func.count()).select_from(LoginAttempt).where(
            *where, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False)))

    if failures(LoginAttempt.email == email, LoginAttempt.remote_addr == remote_addr) >= max_failures or \
            failures(LoginAttempt.remote_addr == remote_addr) >= max_failures * ADDRESS_FACTOR:
        raise NotAllowed(f"Too many failed logins. Wait {lockout_minutes} minutes and try again.")

    user = session.scalar(select(User).where(User.email == email))
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    ok = ok and user is not None and user.active
    session.add(LoginAttempt(email=email, remote_addr=remote_addr, succeeded=bool(ok)))
    if not ok:
        raise InvalidInput("Unknown email or wrong password.")
    user.last_login_at = utcnow()
    # A success clears the account's failures from this address (not a stranger's elsewhere, nor the address's
    # failures on other accounts); attempts older than a day are of no use to anyone.
    session.execute(delete(LoginAttempt).where(
        ((LoginAttempt.email == email) & (LoginAttempt.remote_addr == remote_addr)
         & LoginAttempt.succeeded.is_(False))
        | (LoginAttempt.at < utcnow() - timedelta(days=1))
    ))
    return user


def _user_snapshot(user: User) -> dict[str, Any]:
    return {**audit.snapshot(user, ["email", "name", "role", "active", "client_id", "notify_stage_moves"]),
            "permissions": sorted(user.permissions)}


def _validate(role: str, permissions: list[str]) -> None:
    if role not in set(Role):
        raise InvalidInput("Choose a role.", fields={"role": "Choose a role."})
    unknown = set(permissions) - set(Permission)
    if unknown:
        raise InvalidInput(f"Unknown permissions: {', '.join(sorted(unknown))}.")


def _set_permissions(user: User, permissions: list[str]) -> None:
    wanted = set(permissions)
    user.permission_rows = [p for p in user.permission_rows if p.permission in wanted] + [
        UserPermission(permission=p) for p in sorted(wanted - user.permissions)
    ]


def create_user(session: Session, actor: User | str | None, *, email: str, name: str, role: str,
                password: str | None, permissions: list[str] | None = None, client_id: int | None = None,
                notify_stage_moves: bool = False) -> User:
    if isinstance(actor, User):
        policy.require(policy.can_manage_users(actor), "Only admins can create users.")
        policy.require(role != Role.SUPER_ADMIN or policy.is_super_admin(actor),
                       "Only a super-admin can create another super-admin.")
    return add_user(session, actor, email=email, name=name, role=role, password=password, permissions=permissions,
                    client_id=client_id, notify_stage_moves=notify_stage_moves)


def add_user(session: Session, actor: User | str | None, *, email: str, name: str, role: str,
             password: str | None, permissions: list[str] | None = None, client_id: int | None = None,
             notify_stage_moves: bool = False) -> User:
    """Create a login once the caller has checked the actor's right (admins: create_user; PMs creating
    client users: the client workspace rules). Without a password, the person is emailed a link to set
    their own."""
    email = check_email(email)
    if password:
        check_password(password)
    permissions = list(permissions or [])
    _validate(role, permissions)
    if not (name or "").strip():
        raise InvalidInput("Enter a name.", fields={"name": "Enter a name."})
    if role == Role.CLIENT and client_id is None:
        raise InvalidInput("A client user belongs to a client; choose one.", fields={"client_id": "Choose a client."})
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"A user with the email {email} already exists.", fields={"email": "Already in use."})
    user = User(email=email, name=name.strip(), role=role,
                password_hash=generate_password_hash(password) if password else unusable_password_hash(),
                client_id=client_id if role == Role.CLIENT else None, notify_stage_moves=notify_stage_moves)
    _set_permissions(user, permissions)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.created", user, after=_user_snapshot(user), summary=f"Created {email}")
    if not password:
        send_invitation(session, actor, user)
    return user


def _managed_user(session: Session, actor: User | str | None, user_id: int) -> User:
    """The login `actor` is about to change: admins manage logins, only super-admins manage super-admins."""
    user = get_or_raise(session, User, user_id, "user")
    if isinstance(actor, User):
        policy.require(policy.can_manage_users(actor), "Only admins can change users.")
        policy.require(policy.can_manage_user(actor, user), "Only a super-admin can change a super-admin.")
    return user


def _keep_a_super_admin(session: Session, user: User, role: str, active: bool) -> None:
    """Nobody deactivates or demotes the last active super-admin: the organization would lose its settings.
    The other super-admins' rows are locked (PostgreSQL), so two of them cannot demote each other at once."""
    if user.role != Role.SUPER_ADMIN or not user.active or (role == Role.SUPER_ADMIN and active):
        return
    others = session.scalars(select(User.id).where(User.role == Role.SUPER_ADMIN, User.active.is_(True),
                                                   User.id != user.id).with_for_update()).all()
    if not others:
        raise Conflict(f"{user.email} is the last active super-admin; make someone else super-admin first.",
                       fields={"role": "The organization needs an active super-admin."})


def update_user(session: Session, actor: User, user_id: int, *, name: str, role: str, active: bool,
                permissions: list[str], notify_stage_moves: bool, client_id: int | None = None) -> User:
    user = _managed_user(session, actor, user_id)
    _validate(role, permissions)
    if (role == Role.SUPER_ADMIN) != (user.role == Role.SUPER_ADMIN):
        policy.require(policy.is_super_admin(actor), "Only a super-admin can grant or remove super-admin.")
    if user.id == actor.id and (not active or role not in policy.ADMIN_ROLES):
        raise NotAllowed("You cannot deactivate yourself or remove your own admin role.")
    _keep_a_super_admin(session, user, role, active)
    if role == Role.CLIENT and client_id is None:
        raise InvalidInput("A client user belongs to a client; choose one.", fields={"client_id": "Choose a client."})
    before = _user_snapshot(user)
    user.name = (name or user.name).strip()
    user.role, user.active, user.notify_stage_moves = role, active, notify_stage_moves
    user.client_id = client_id if role == Role.CLIENT else None
    _set_permissions(user, permissions)
    session.flush()
    old, new = audit.changes(before, _user_snapshot(user))
    if new:
        audit.record(session, actor, "user.updated", user, before=old, after=new, summary=f"Changed {user.email}")
    return user


def set_password(session: Session, actor: User | str | None, user_id: int, password: str) -> None:
    """An admin sets someone's password: every session and remember-me cookie of theirs ends."""
    user = _managed_user(session, actor, user_id)
    check_password(password)
    user.password_hash = generate_password_hash(password)
    user.end_sessions()
    audit.record(session, actor, "user.password_set", user,
                 summary=f"Password set for {user.email}; their sessions and remember-me cookies ended")


def user_for_session(session: Session, token: str) -> User | None:
    """The active user a session or remember-me cookie names ("<id>.<epoch>"), unless its epoch has passed."""
    ident, _, epoch = (token or "").partition(".")
    if not (ident.isdigit() and epoch.isdigit() and len(ident) <= 18 and len(epoch) <= 18):
        return None
    user = session.get(User, int(ident), options=[joinedload(User.permission_rows)])  # one statement per request
    if user is None or not user.active or (user.session_epoch or 0) != int(epoch):
        return None
    return user


USERS_PAGE = 50


def user_page(session: Session, search: str = "", after: str | None = None,
              limit: int = USERS_PAGE) -> tuple[list[User], str | None]:
    """A page of users by name (keyset), with their permissions, and the next page's cursor; `search`: a
    part of the name or email."""
    query = select(User).options(selectinload(User.permission_rows))
    if search.strip():
        query = query.where(contains(User.name, search.strip()) | contains(User.email, search.strip()))
    return paging.by_name(session, query, User.name, User.id, after, limit)
