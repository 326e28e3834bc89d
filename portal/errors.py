"""Domain errors raised by services, each with the HTTP status it answers with.

Services raise these with a message written for the user; views never build error pages themselves: the
app factory's error handlers (portal/__init__.py) render every error as a page, or as a fragment retargeted
at the flash area for htmx requests, so a failed click never replaces the region the user was working in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")


class PortalError(Exception):
    status = 400
    title = "Something went wrong"

    def __init__(self, message: str, **details: Any):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(PortalError):
    """Input the user can fix. `fields` maps form field names to messages."""

    status = 422
    title = "Please check your input"

    def __init__(self, message: str, fields: dict[str, str] | None = None, **details: Any):
        super().__init__(message, **details)
        self.fields = fields or {}


class InvalidQuery(InvalidInput):
    """A query parameter or an address that cannot be understood (the message names the parameter)."""

    status = 400
    title = "This address is not understood"


class NotAllowed(PortalError):
    status = 403
    title = "Not allowed"


class NotFound(PortalError):
    status = 404
    title = "Not found"


class Conflict(PortalError):
    """The action collides with the current state (already linked, period locked, stale form)."""

    status = 409
    title = "That cannot be done right now"


class ExternalServiceError(PortalError):
    """An external tool refused or failed; `service` names it, the message says what to check."""

    status = 502
    title = "An external service did not answer as expected"

    def __init__(self, message: str, service: str = "", status_code: int | None = None, **details: Any):
        super().__init__(message, **details)
        self.service = service
        self.status_code = status_code


def get_or_raise(session: Session, model: type[T], ident: Any, noun: str, **options: Any) -> T:
    """The `model` row with id `ident`, or NotFound ("That project does not exist."); `options` go to
    Session.get (a row lock: with_for_update=True, populate_existing=True)."""
    found = session.get(model, ident, **options)
    if found is None:
        raise NotFound(f"That {noun} does not exist.")
    return found
