"""Who may use each route, declared next to it: authorization as data.

Every view names its rule with one decorator under its `@bp.route`:

    @bp.route("/admin/users")
    @allow(policy.can_manage_users, "Only admins can manage users.")
    def users(): ...

    @bp.route("/login", methods=["GET", "POST"])
    @public
    def login(): ...

`allow(predicate)` takes a policy predicate of the user alone (`policy.is_internal`, `policy.is_admin`,
`policy.can_view_finance`, `policy.is_authenticated` for any signed-in user, clients included). Nobody
signed in is sent to the login page (htmx: HX-Redirect with 401); a signed-in user the predicate refuses
gets NotAllowed (403) with the message. Checks on the object the URL names (this project, this timesheet)
stay in the view or the service, through `policy.require(policy.can_...(user, obj))`.

`public` is for what must work without a login: the login and password-link pages, webhooks (their
signature authenticates them), health checks.

One `before_request` hook (`enforce`, installed by the app factory) reads the declaration and applies it
before any blueprint hook or view runs. A route that declares nothing still needs a login, and the
permission matrix test (tests/auth/test_route_matrix.py) fails on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, request
from flask_login import current_user

from portal.auth import policy
from portal.errors import NotAllowed
from portal.extensions import login_manager

View = TypeVar("View", bound=Callable[..., Any])

# Views whose declarations wait for another change; the matrix test skips them. Every route declares now.
PENDING_DECLARATION: tuple[str, ...] = ()


@dataclass(frozen=True)
class Access:
    """A route's rule: `predicate(user)` must hold; None means public."""

    predicate: Callable[[Any], bool] | None
    message: str = "You are not allowed to do that."

    @property
    def is_public(self) -> bool:
        return self.predicate is None

    def describe(self) -> str:
        return "public" if self.predicate is None else self.predicate.__name__


# What a refusal says when the route names no message of its own.
DEFAULT_MESSAGES = {
    policy.is_internal: "Client users see their workspace only.",
    policy.is_admin: "Only admins can do that.",
}


def allow(predicate: Callable[[Any], bool], message: str | None = None) -> Callable[[View], View]:
    """Declare that the route is for signed-in users for whom `predicate(user)` holds."""
    if not callable(predicate):
        raise TypeError("allow() takes a policy predicate, e.g. allow(policy.is_internal)")
    message = message or DEFAULT_MESSAGES.get(predicate, Access.message)

    def declare(view: View) -> View:
        view.access = Access(predicate, message)  # type: ignore[attr-defined]
        return view

    return declare


def public(view: View) -> View:
    """Declare that the route answers without a login (it authenticates otherwise, or needs nothing)."""
    view.access = Access(None)  # type: ignore[attr-defined]
    return view


def access_of(view: Callable[..., Any] | None) -> Access | None:
    return getattr(view, "access", None)


def pending(view: Callable[..., Any] | None) -> bool:
    """Whether the view belongs to code whose declarations wait for the restructure (see PENDING_DECLARATION)."""
    return getattr(view, "__module__", "").startswith(PENDING_DECLARATION) if PENDING_DECLARATION else False


def enforce() -> Any:
    """The app's first before_request hook: apply the route's declared rule."""
    if request.endpoint is None or request.endpoint == "static" or request.method == "OPTIONS":
        return None
    view = current_app.view_functions.get(request.endpoint)
    rule = access_of(view)
    if rule is None:
        if pending(view):
            return None  # still guarded by its own login_required and policy checks
        rule = Access(lambda user: True)  # undeclared: a login at least (the matrix test fails on it)
    if rule.is_public:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not rule.predicate(current_user):
        raise NotAllowed(rule.message)
    return None
