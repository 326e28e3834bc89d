"""The demo organization's Toggl Track: a workspace in the loopback sandbox `make run` starts, and the
connection to it (connected from the start, Northwind mapped), so a newcomer maps clients, provisions
offerings and syncs time for real, offline.

The workspace's members are the demo's people; the token's user is a separate non-billable admin, as seed
002 recommends. Time is already logged on "Northwind legacy support" over the last two weeks, by demo
people and by a contractor no resource matches: connect an offering to that project (Integrations tab →
Connect Existing), then "Sync time from Toggl": the time appears on My time marked From Toggl, and the
contractor waits under Admin → Integrations → Toggl Track → Sync log → Unmatched people.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.columns import utcnow
from portal.integrations.models import ClientLink, Connection, ConnectionStatus, LinkMethod
from portal.projects.models import Client

SANDBOX_URL = "TOGGL_APP_URL"  # the sandbox serves Toggl's web app and its APIs from one address
TOKEN = "demo-sandbox-toggl-token"
WORKSPACE = 7435584
ADMIN = 9547721
NORTHWIND = 60000001  # "Northwind" in Toggl, mapped to Northwind Traders
LEGACY_SUPPORT = 200000001
MAPPED_CLIENT = "Northwind Traders"


def world(people: dict[str, str]) -> dict[str, Any]:
    """What the sandbox holds for the demo (POST /_sandbox/seed); `people`: the demo's emails and names."""
    return {
        "users": [{"id": ADMIN, "email": "toggl-admin@demo.test", "fullname": "Toggl Integration",
                   "api_token": TOKEN}],
        "workspaces": [{"id": WORKSPACE, "name": "Demo Consulting", "plan": "premium",
                        "members": [{"email": "toggl-admin@demo.test", "admin": True}]
                        + [{"email": email, "fullname": name} for email, name in people.items()]
                        # A contractor abroad: Toggl dates their time in their own zone (issue 13).
                        + [{"email": "contractor@demo.test", "fullname": "Casey Contractor",
                            "timezone": "America/Los_Angeles"}]}],
        "clients": [{"id": NORTHWIND, "workspace_id": WORKSPACE, "name": "Northwind"},
                    {"workspace_id": WORKSPACE, "name": "Acme"}],
        "projects": [{"id": LEGACY_SUPPORT, "workspace_id": WORKSPACE, "name": "Northwind legacy support",
                      "client_id": NORTHWIND, "estimated_hours": 40, "billable": True}],
        "time_entries": [
            {"workspace_id": WORKSPACE, "email": email, "project_id": LEGACY_SUPPORT, "billable": True,
             "start": f"{date.today() - timedelta(days=days)}T{at}Z", "duration": int(hours * 3600),
             "description": description}
            for email, days, at, hours, description in [
                ("dana@demo.test", 9, "09:00:00", 3.5, "Legacy API fixes"),
                ("dana@demo.test", 8, "09:00:00", 2, "Database upgrade prep"),
                ("lee@demo.test", 8, "09:00:00", 1.5, "Support screens"),
                ("staff@demo.test", 7, "09:00:00", 4, "Ticket triage"),
                ("dana@demo.test", 3, "09:00:00", 5, "Database upgrade"),
                ("staff@demo.test", 2, "09:00:00", 2.5, "Ticket triage"),
                # late evening in Los Angeles, already the next morning in UTC
                ("contractor@demo.test", 4, "05:30:00", 6, "Report migration"),
                ("contractor@demo.test", 3, "05:30:00", 3, "Report migration"),
            ]
        ],
    }


def seeded(held: dict[str, Any]) -> bool:
    """Whether the sandbox's records (GET /_sandbox/state) already hold the demo workspace."""
    return any(workspace["id"] == WORKSPACE for workspace in held.get("workspaces", []))


def load(session: Session) -> str:
    """Connect the demo organization to the sandbox's workspace and map Northwind to its client."""
    connection = session.scalar(select(Connection).where(Connection.kind == "toggl"))
    if connection is None:
        connection = Connection(
            kind="toggl", status=ConnectionStatus.CONNECTED, credentials=json.dumps({"api_token": TOKEN}),
            account_id=str(WORKSPACE), account_name="Demo Consulting", external_user_id=str(ADMIN),
            validated_at=utcnow(),
            settings={"premium": True, "user_email": "toggl-admin@demo.test", "user_name": "Toggl Integration"},
        )
        session.add(connection)
        session.flush()
    client = session.scalar(select(Client).where(Client.name == MAPPED_CLIENT))
    if client is not None and session.scalar(select(ClientLink).where(ClientLink.connection_id == connection.id)) \
            is None:
        session.add(ClientLink(connection_id=connection.id, client_id=client.id, external_id=str(NORTHWIND),
                               external_name="Northwind", method=LinkMethod.CONNECTED))
    return "Toggl Track: connected to the sandbox's Demo Consulting workspace."
