"""The only module that reads HX-* headers.

A page template holds its swappable regions as named blocks; `render` returns the whole page for a
normal request and just the block for an htmx request, so every fragment URL is also a working page.
History restores and boosted requests want the full page even though they carry HX-Request.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import Response, make_response, redirect, render_template, request, session
from flask_login import current_user
from jinja2_fragments.flask import render_block, render_blocks

from portal import layout
from portal.extensions import db

# A response header: "this error answer is a fragment of the page, swap it into the target".
PORTAL_FRAGMENT = "X-Portal-Fragment"


def is_htmx_request() -> bool:
    return request.headers.get("HX-Request") == "true"


def is_fragment_request() -> bool:
    headers = request.headers
    return (
        is_htmx_request()
        and headers.get("HX-History-Restore-Request") != "true"
        and headers.get("HX-Boosted") != "true"
    )


def render(template: str, block: str | None = None, status: int = 200, oob: list[str] | None = None,
           **context: Any) -> Response:
    """Full page (with the layout's navigation), or `block` (plus out-of-band `oob` blocks) for an htmx
    fragment request.

    A fragment also carries any flashed messages, swapped out of band into the page's flash area, so a
    view flashes the same way whether the answer is a page or a fragment. It is marked as the portal's own
    (`PORTAL_FRAGMENT`), so static/js/portal.js swaps it in even with an error status (a 409 that offers
    what to do next); any other error answer becomes a banner with the server's message.
    """
    fragment = bool(block and is_fragment_request())
    if fragment:
        body = render_blocks(template, [block, *oob], **context) if oob else render_block(template, block, **context)
        if session.get("_flashes"):
            body += render_template("partials/flash.html", oob=True)
    else:
        body = _page(template, **context)
    response = make_response(body, status)
    if fragment:
        response.headers[PORTAL_FRAGMENT] = "1"
    response.vary.add("HX-Request")
    return response


def _page(template: str, **context: Any) -> str:
    """A whole page: the template inside the layout, which is given its navigation (portal/layout.py)."""
    return render_template(template, nav=layout.nav(db.session, current_user), **context)


def render_error(status: int, title: str, message: str) -> Response:
    if is_fragment_request():
        body = render_block("errors/error.html", "flash_error", title=title, message=message, status=status)
        response = make_response(body, status)
        # Errors go to the flash area, never into the region the user was editing.
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    else:
        response = make_response(_page("errors/error.html", title=title, message=message, status=status), status)
    response.vary.add("HX-Request")
    return response


def local_path(target: str | None) -> str | None:
    r"""`target` when it is a path on this site, else None: what a user-supplied redirect (a login's `next`)
    may go to. Browsers read a backslash as a slash and drop tabs and newlines, so "/\evil.example" or
    "/\t/evil.example" would leave the site as surely as "//evil.example" or "https://evil.example"."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(char == "\\" or ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return None
    parts = urlsplit(target)
    return target if not (parts.scheme or parts.netloc) else None


def redirect_to(url: str) -> Response:
    """Navigate: HX-Redirect for htmx (a 302 would be swapped into the target), 303 otherwise."""
    if is_htmx_request():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)


def trigger(response: Response, event: str, detail: Any = None) -> Response:
    """Fire a client-side event after the swap (e.g. to refresh another region)."""
    existing = json.loads(response.headers.get("HX-Trigger", "{}") or "{}")
    existing[event] = detail if detail is not None else True
    response.headers["HX-Trigger"] = json.dumps(existing)
    return response
