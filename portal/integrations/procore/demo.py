"""The demo organization's Procore connection: to the loopback sandbox that `make run` starts.

Idempotent like portal.demo: the first run connects (the worker validates and sets up the webhooks
once the sandbox is up; the connector waits for it) and links a demo offering to the sandbox's
Riverside project; later runs start a catch-up, which also sets the webhooks up again in a restarted
sandbox (its memory is empty).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.integrations.procore.connection import (
    add_link,
    get_connection,
    start_catch_up,
    start_connect,
    update_preferences,
)
from portal.projects.models import Offering, Project
from portal.sandbox.procore import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_COMPANY_ID,
    DEMO_COMPANY_NAME,
    DEMO_PROJECT_IDS,
)

ACTOR = "demo data"
LINKED = ("Northwind data platform", "Platform build", DEMO_PROJECT_IDS["riverside"], "Riverside Office Fit-out")


def load(session: Session) -> str:
    """Connect the demo organization to the sandbox; returns what was done."""
    if urlsplit(current_app.config["PROCORE_API_BASE_URL"]).hostname not in ("127.0.0.1", "localhost"):
        return "Procore: not connected (PROCORE_API_BASE_URL is not the loopback sandbox)."
    found = get_connection(session)
    if found is not None and found.is_connected:
        start_catch_up(session)
        return "Procore: connected; a catch-up run checks the sandbox's webhooks."
    if found is not None and found.credentials:
        return "Procore: a connection is being set up."
    start_connect(session, ACTOR, company_id=str(DEMO_COMPANY_ID), company_name=DEMO_COMPANY_NAME,
                  client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET)
    connection = get_connection(session)
    update_preferences(session, ACTOR, receive=True, send=True, only_linked=True, sub_job_projects=True,
                       task_time_types=["Regular Time", "Overtime"], alert_emails=["admin@demo.test"])
    project_name, offering_name, external_id, external_name = LINKED
    offering = session.scalar(select(Offering).join(Project).where(Project.name == project_name,
                                                                   Offering.name == offering_name))
    if offering is not None:
        add_link(session, ACTOR, connection, str(external_id), external_name, offering)
    return f"Procore: connecting to the sandbox's {DEMO_COMPANY_NAME} (the worker finishes it)."
