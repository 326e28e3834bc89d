"""Links that let people set their own password: an invitation for a new login, a reset when forgotten.

A link carries a signed token (the app's SECRET_KEY): the user, when it expires, and a fingerprint of the
password hash it was made for. Setting a password changes the hash, so a link works once, and every
older link of that user stops working with it. Nothing is stored but when the last link was sent, which
keeps anyone from flooding an inbox through the public "Forgot your password?" form.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from portal import audit, mail
from portal.auth import policy
from portal.auth.models import LoginAttempt, User, normalize_email
from portal.columns import utcnow
from portal.errors import Conflict, InvalidInput, get_or_raise

MIN_PASSWORD_LENGTH = 10
RESET_VALID = timedelta(hours=2)
INVITATION_VALID = timedelta(days=7)
# One emailed link per account per this long, whoever asks (the public form, an admin clicking twice).
RESEND_AFTER = timedelta(minutes=5)
EXPIRED = "This link has expired or was already used. Ask for a new one below."


def check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        message = f"Passwords need at least {MIN_PASSWORD_LENGTH} characters."
        raise InvalidInput(message, fields={"password": message})


def unusable_password_hash() -> str:
    """For a login whose owner sets the password through an invitation: nobody knows this one."""
    return generate_password_hash(secrets.token_urlsafe(32))


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="portal.password-link")


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def make_token(user: User, valid_for: timedelta) -> str:
    expires = int((utcnow() + valid_for).timestamp())
    return _serializer().dumps({"user": user.id, "password": _fingerprint(user), "expires": expires})


def user_for_token(session: Session, token: str) -> User:
    """The active user the link was made for, while it is valid; InvalidInput otherwise."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise InvalidInput(EXPIRED) from None
    user = session.get(User, data.get("user")) if isinstance(data, dict) else None
    if user is None or not user.active or data.get("password") != _fingerprint(user) \
            or utcnow().timestamp() > data.get("expires", 0):
        raise InvalidInput(EXPIRED)
    return user


def _send_link(session: Session, user: User, *, invitation: bool) -> bool:
    """Queue the email unless one went to this user within RESEND_AFTER; whether it was queued."""
    now = utcnow()
    if user.password_link_sent_at is not None and now - user.password_link_sent_at < RESEND_AFTER:
        return False
    valid_for = INVITATION_VALID if invitation else RESET_VALID
    base = current_app.config["PORTAL_PUBLIC_URL"].rstrip("/")
    link = f"{base}/password/set/{make_token(user, valid_for)}"
    subject = "You have a login on the portal: set your password" if invitation else "Set a new portal password"
    mail.queue_email(session, [user.email], subject, "password_link", "password_link", user=user, link=link,
                     invitation=invitation, valid_for=valid_for)
    user.password_link_sent_at = now
    return True


def request_reset(session: Session, email: str) -> str:
    """The public form: a link for an active login with this email. Returns the email as understood and
    says nothing more, so the form cannot be used to find out who has a login."""
    email = normalize_email(email)
    user = session.scalar(select(User).where(User.email == email))
    if user is not None and user.active and _send_link(session, user, invitation=False):
        # Anyone may ask on the public form: the actor is the form, not the account's owner.
        audit.record(session, "forgot-password form", "user.password_reset_requested", user,
                     summary=f"Password reset link sent to {user.email}")
    return email


def send_invitation(session: Session, actor: User | str | None, user: User) -> bool:
    """Email a new (or locked-out) login a link to set its password, once the caller has checked the
    actor's right; False when a link went out within RESEND_AFTER."""
    if not _send_link(session, user, invitation=True):
        return False
    audit.record(session, actor, "user.invited", user, summary=f"Link to set a password sent to {user.email}")
    return True


def invite(session: Session, actor: User | str | None, user_id: int) -> User:
    """An admin sends a user the link to set their password."""
    user = get_or_raise(session, User, user_id, "user")
    if isinstance(actor, User):
        policy.require(policy.can_manage_user(actor, user), "Only a super-admin can send a super-admin a link.")
    if not user.active:
        raise InvalidInput(f"{user.email} is inactive. Make the login active first.")
    if not send_invitation(session, actor, user):
        raise Conflict(f"A link went to {user.email} less than {RESEND_AFTER.seconds // 60} minutes ago. "
                       "Ask them to look in their inbox (and spam folder) first.")
    return user


def set_password_from_link(session: Session, token: str, password: str) -> User:
    """Set the password the link allows (once), end every session and remember-me cookie of the account, and
    forget its failed logins."""
    user = user_for_token(session, token)
    check_password(password)
    user.password_hash = generate_password_hash(password)
    user.end_sessions()
    session.execute(delete(LoginAttempt).where(LoginAttempt.email == user.email,
                                               LoginAttempt.succeeded.is_(False)))
    audit.record(session, user, "user.password_set_from_link", user,
                 summary=f"{user.email} set their password; their sessions and remember-me cookies ended")
    return user
