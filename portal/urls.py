"""Links built cheaply. werkzeug builds a URL in about 5 µs: the layout's two dozen fixed links and the two links
of each of a page's 25 approval rows were a tenth of the approvals page's time (issue 14).

- `link(endpoint, **values)`: a link that is the same on every request (the navigation, static files), built
  once per script root the portal is served under.
- `url_for_each(endpoint, key)`: one route's links for many rows, built once with a marker id; each row's link is
  that text with its id in the marker's place (an `int:` URL variable differs per row only in its digits). A
  block rendered alone (an htmx fragment) does not see what its page's blocks set: it builds its own links."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from flask import current_app, request, url_for

_MARKER = 2_147_483_647  # an id no row has (the largest INTEGER): its digits occur only where the id goes


def link(endpoint: str, **values: str) -> str:
    return _built(current_app._get_current_object(), request.script_root, endpoint, tuple(sorted(values.items())))


@lru_cache(maxsize=512)  # the layout's links, for each app and script root: a few dozen
def _built(_app: object, _script_root: str, endpoint: str, values: tuple[tuple[str, str], ...]) -> str:
    return url_for(endpoint, **dict(values))


def url_for_each(endpoint: str, key: str, **values: object) -> Callable[[int], str]:
    """`url_for(endpoint, key=id, **values)` as a function of the id."""
    prefix, found, suffix = url_for(endpoint, **{key: _MARKER}, **values).partition(str(_MARKER))
    if not found:
        raise ValueError(f"{endpoint}'s {key} does not appear in its URL")
    return lambda ident: f"{prefix}{int(ident)}{suffix}"
