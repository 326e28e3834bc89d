"""Domain errors raised by services, and how each becomes an HTTP answer.

Services raise these with a message written for the user; views never build error pages themselves.
Every error renders as a page, or as a fragment retargeted at the flash area for htmx requests, so a
failed click never replaces the region the user was working in.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


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


HTTP_MESSAGES = {
    400: "The request could not be understood.",
    401: "Please log in.",
    403: "You are not allowed to do that.",
    404: "There is nothing at this address. It may have been deleted.",
    405: "That action is not available here.",
    413: "The upload is too large.",
    429: "Too many requests; wait a moment and try again.",
    500: "An unexpected error happened. It has been logged; please try again.",
}


def register_error_handlers(app: Flask) -> None:
    from portal import htmx

    def respond(status: int, title: str, message: str):
        return htmx.render_error(status=status, title=title, message=message)

    @app.errorhandler(PortalError)
    def portal_error(error: PortalError):
        if error.status >= 500:
            app.logger.warning("%s on %s: %s", type(error).__name__, request.path, error.message)
        return respond(error.status, error.title, error.message)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return respond(
            400,
            "Your form expired",
            "The security token of this form is missing or invalid (" + error.description.rstrip(".") + "). "
            "Reload the page and try again; nothing was saved.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        return respond(status, error.name, HTTP_MESSAGES.get(status, error.description or error.name))

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        return respond(500, "Unexpected error", HTTP_MESSAGES[500])
