"""A connector never commits, rolls back or reads through its caller's session: a token Procore rotates in the
middle of the caller's work is stored in a transaction of its own, and the caller's pending changes stay the
caller's to commit or drop."""

from __future__ import annotations

import json

from sqlalchemy import event, select

from portal.integrations.models import Connection
from portal.integrations.procore.connector import GrantType
from portal.integrations.procore.demo import CLIENT_ID, CLIENT_SECRET, COMPANY_ID
from portal.integrations.registry import connector_for


def test_a_token_rotation_leaves_the_callers_transaction_alone(session, sandbox):
    code = sandbox.state.issue_code(CLIENT_ID, "urn:ietf:wg:oauth:2.0:oob")
    connection = Connection(kind="procore", account_id=str(COMPANY_ID), settings={}, credentials=json.dumps(
        {"grant": GrantType.AUTHORIZATION_CODE, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code}))
    session.add(connection)
    session.commit()

    ended = []
    caller = session()
    for name in ("after_commit", "after_rollback", "after_soft_rollback"):
        event.listen(caller, name, lambda *args, name=name: ended.append(name))
    connector = connector_for(connection)
    connection.account_name = "changed by the caller, not committed"  # the caller's own pending work
    try:
        connector.list_projects()  # the code is exchanged: the first token pair is stored
        first = _stored(session, connection)
        sandbox.state.advance(5400 + 1)
        connector.list_projects()  # the access token expired: the refresh token rotates
    finally:
        connector.close()

    assert ended == []
    assert connection in caller.dirty and connection.account_name.startswith("changed by the caller")
    assert "code" not in first and first["refresh_token"]
    assert _stored(session, connection)["refresh_token"] not in ("", first["refresh_token"])


def _stored(session, connection: Connection) -> dict:
    """The credentials as stored, read without flushing the caller's pending change."""
    with session.no_autoflush:
        return json.loads(session.scalar(select(Connection.credentials).where(Connection.id == connection.id)))
