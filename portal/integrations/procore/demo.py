"""The demo organization's Procore: a company in the loopback sandbox `make run` starts, and the connection
to it.

The company has two projects, people (two of them the demo's resources), time types, cost codes and sub
jobs, and the demo organization's app installed with client credentials; fixed ids, so the portal's links
survive a restart of the sandbox. Idempotent like portal.demo: the first load connects (the worker validates
and sets up the webhooks; the sandbox is seeded before the worker starts) and links a demo offering to the
Riverside project; later loads start a catch-up, which also sets the webhooks up again in a sandbox that
lost them.
"""

from __future__ import annotations

from typing import Any

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

SANDBOX_URL = "PROCORE_API_BASE_URL"  # the sandbox serves the API and OAuth from one address
ACTOR = "demo data"
COMPANY_ID = 562949953421312
COMPANY_NAME = "Demo Builders Inc."
CLIENT_ID = "portal-demo-client"
CLIENT_SECRET = "portal-demo-secret"
PROJECT_IDS = {"riverside": 4500000000001, "harbour": 4500000000002}
SERVICE_ACCOUNT = 8000000000001
LINKED = ("Northwind data platform", "Platform build", PROJECT_IDS["riverside"], "Riverside Office Fit-out")
COST_CODES = (("01-100", "General Requirements"), ("03-300", "Cast-in-Place Concrete"), ("06-200", "Finish Carpentry"))


def world(people: dict[str, str]) -> dict[str, Any]:
    """What the sandbox holds for the demo (POST /_sandbox/seed). Two of the demo's people work in Procore
    too (`people` is the demo's emails and names; these two are looked up there)."""
    projects = (("riverside", "RF-101", "Riverside Office Fit-out"), ("harbour", "HB-204", "Harbour Bridge Repairs"))
    crew = [(people["staff@demo.test"], "staff@demo.test"), (people["dana@demo.test"], "dana@demo.test"),
            ("Morgan Foreman", "morgan.foreman@demo-builders.test"), ("Riley Apprentice", "")]
    return {
        "companies": [{"id": COMPANY_ID, "name": COMPANY_NAME, "is_active": True}],
        "users": [{"id": SERVICE_ACCOUNT, "login": "portal-sync@demo-builders.test",
                   "name": "Portal Sync (service account)"},
                  {"id": 8000000000002, "login": "alex.admin@demo-builders.test", "name": "Alex Admin"}],
        "clients": [{"id": CLIENT_ID, "secret": CLIENT_SECRET, "company_ids": [COMPANY_ID],
                     "user_id": SERVICE_ACCOUNT}],
        "projects": [{"id": PROJECT_IDS[key], "company_id": COMPANY_ID, "name": name, "project_number": number,
                      "active": True, "start_date": "2026-01-05", "completion_date": "2027-03-31"}
                     for key, number, name in projects],
        "cost_codes": [{"id": PROJECT_IDS[key] * 10 + offset, "project_id": PROJECT_IDS[key],
                        "code": code.split("-")[1], "full_code": code, "name": title}
                       for key, _, _ in projects for offset, (code, title) in enumerate(COST_CODES)],
        "sub_jobs": [{"id": PROJECT_IDS["riverside"] * 100 + offset, "project_id": PROJECT_IDS["riverside"],
                      "code": code, "name": name}
                     for offset, (code, name) in enumerate((("L2", "Level 2 Fit-out"), ("B1", "Basement Plant Room")))],
        "people": [{"id": 6000000000001 + offset, "company_id": COMPANY_ID, "first_name": name.split()[0],
                    "last_name": name.split()[-1], "name": name, "email": email, "is_employee": True,
                    "work_classification_id": None}
                   for offset, (name, email) in enumerate(crew)],
        "time_types": [{"id": 7000000000001 + offset, "company_id": COMPANY_ID, "time_type": name,
                        "abbreviated_time_type": code}
                       for offset, (name, code) in enumerate((("Regular Time", "REG"), ("Overtime", "OT"),
                                                              ("Double Time", "DT"), ("Travel", "TRV")))],
    }


def seeded(held: dict[str, Any]) -> bool:
    """Whether the sandbox's records (GET /_sandbox/state) already hold the demo company."""
    return COMPANY_ID in held.get("companies", [])


def load(session: Session) -> str:
    """Connect the demo organization to the sandbox's company; returns what was done."""
    found = get_connection(session)
    if found is not None and found.is_connected:
        start_catch_up(session)
        return "Procore: connected; a catch-up run checks the sandbox's webhooks."
    if found is not None and found.credentials:
        return "Procore: a connection is being set up."
    start_connect(session, ACTOR, company_id=str(COMPANY_ID), company_name=COMPANY_NAME, client_id=CLIENT_ID,
                  client_secret=CLIENT_SECRET)
    connection = get_connection(session)
    update_preferences(session, ACTOR, receive=True, send=True, only_linked=True, sub_job_projects=True,
                       task_time_types=["Regular Time", "Overtime"], alert_emails=["admin@demo.test"])
    project_name, offering_name, external_id, external_name = LINKED
    offering = session.scalar(select(Offering).join(Project).where(Project.name == project_name,
                                                                   Offering.name == offering_name))
    if offering is not None:
        add_link(session, ACTOR, connection, str(external_id), external_name, offering)
    return f"Procore: connecting to the sandbox's {COMPANY_NAME} (the worker finishes it)."
