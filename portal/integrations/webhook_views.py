"""The webhook endpoint of every timesheet tool: POST /webhooks/<kind>/<connection id>, dispatched through the
registry to the tool's receiver (portal/integrations/webhooks.py explains the steps), and the URLs tools
were given before the one scheme, kept as aliases until each tool holds the current one."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from portal.auth.access import public
from portal.extensions import csrf, db
from portal.inputs import raw_body
from portal.integrations import webhooks
from portal.integrations.models import Connection
from portal.integrations.registry import load, tool_of
from portal.integrations.services import get_connection

bp = Blueprint("webhooks", __name__)
csrf.exempt(bp)  # a tool cannot send our CSRF token; its signature or secret authenticates it


@bp.route("/webhooks/<kind>/<int:connection_id>", methods=["POST"])
@public  # the tool's signature (or the secret header the portal gave it) authenticates the delivery
@raw_body
def receive(kind: str, connection_id: int):
    return _dispatch(kind, db.session.get(Connection, connection_id))


@bp.route("/hooks/<kind>/<int:connection_id>", methods=["POST"])
@public  # as receive: Toggl subscriptions made before the one URL scheme, until re-registered
@raw_body
def receive_before_one_scheme(kind: str, connection_id: int):
    return _dispatch(kind, db.session.get(Connection, connection_id))


@bp.route("/webhooks/<kind>", methods=["POST"])
@public  # as receive: Procore hooks made before the one URL scheme (one connection per tool), until re-registered
@raw_body
def receive_kind(kind: str):
    return _dispatch(kind, get_connection(db.session, kind))


class TooLarge(Exception):  # noqa: N818 (a refusal, answered 413)
    pass


def read_body(limit: int = webhooks.MAX_BODY) -> bytes:
    """The request body, read in chunks and never past `limit`: a Content-Length above it is refused before
    reading, and a chunked body (no Content-Length) is cut off as soon as it passes it."""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge
    stream, chunks, size = request.stream, [], 0
    while chunk := stream.read(min(webhooks.CHUNK, limit + 1 - size)):
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _dispatch(kind: str, connection: Connection | None):
    tool = tool_of(kind)
    if tool is None or not tool.webhooks or connection is None or connection.kind != kind:
        return jsonify("No such webhook endpoint"), 404
    try:
        body = read_body()
    except TooLarge:
        webhooks.refuse(db.session, connection, f"Refused a webhook delivery larger than {webhooks.MAX_BODY:,} "
                                                f"bytes (from {request.remote_addr}); nothing of it was read further.")
        db.session.commit()
        return jsonify("Too large"), 413
    delivery = webhooks.Delivery(body=body, headers=dict(request.headers), remote_addr=request.remote_addr or "")
    reply = load(tool.webhooks)(db.session, connection, delivery)
    db.session.commit()
    return jsonify(reply.body), reply.status
