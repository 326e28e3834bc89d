"""What other domains' changes mean for linked timesheet projects (portal/events.py signals).

Receivers run inside the sender's transaction: they only start sync runs, which enqueue their job after
commit; no tool is called from here. A change that cannot alter what is sent starts nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import events
from portal.integrations import connectors, provisioning
from portal.integrations.models import Connection, ConnectionStatus, ProjectLink
from portal.integrations.registry import connector_class
from portal.integrations.services import tool_label
from portal.org.services import PUSH_SETTINGS, get_settings
from portal.projects.models import Assignment, Offering, Project

# Offering fields that reach the tool's project (name, dates, budget by Hours Source, billing, archiving).
PUSHED_OFFERING_FIELDS = {"name", "billing_model", "sold_hours", "planned_hours", "fixed_fee", "start_date",
                          "end_date", "archived"}


def push_targets(session: Session, offering: Offering) -> list[tuple[Connection, ProjectLink, str]]:
    """Each tool the offering is linked to, with why a change is not pushed there ("": it is). Only tools
    whose projects the portal manages take pushes (Procore's projects are Procore's own)."""
    targets = []
    for link in session.scalars(select(ProjectLink).where(ProjectLink.offering_id == offering.id)):
        connection = session.get(Connection, link.connection_id)
        label = tool_label(connection)
        if not connector_class(connection.kind).supports(connectors.PROVISION):
            why = f"{label} projects are managed in {label}; the portal sends them no team."
        elif not connection.is_connected:
            state = "disconnected" if connection.status == ConnectionStatus.DISCONNECTED else "failing its check"
            why = f"the {label} connection is {state}; an admin reconnects it under Admin → Integrations."
        else:
            why = ""
        targets.append((connection, link, why))
    return targets


def rates_are_pushed(session: Session) -> bool:
    """Seed 002 section 7: per-person rates reach the tool only under Assignment Level Budgeting."""
    return get_settings(session).assignment_level_budgeting


def why_update_is_not_pushed(session: Session, changes: dict) -> str:
    """Why a change of someone on an offering reaches no tool ("": it does)."""
    if "bill_rate" not in changes:
        return "timesheet tools take who is on a project and their rates, not roles or planned hours."
    if not rates_are_pushed(session):
        return "with Assignment Level Budgeting off, rates stay in the portal."
    return ""


def _push(session: Session, actor: Any, offering: Offering) -> None:
    for connection, _, why in push_targets(session, offering):
        if not why:
            provisioning.request_push(session, actor, offering, connection)


@events.offering_updated.connect
def offering_updated(offering: Offering, session: Session, actor: Any = None, changes: dict | None = None,
                     **_: Any) -> None:
    if PUSHED_OFFERING_FIELDS & set(changes or {}):
        _push(session, actor, offering)


@events.assignment_created.connect
def assignment_created(assignment: Assignment, session: Session, actor: Any = None, **_: Any) -> None:
    _push(session, actor, assignment.offering)


@events.assignment_removed.connect
def assignment_removed(assignment: Assignment, session: Session, actor: Any = None, **_: Any) -> None:
    # Sent before the row is deleted; the push runs after commit and finds the person gone.
    _push(session, actor, assignment.offering)


@events.assignment_updated.connect
def assignment_updated(assignment: Assignment, session: Session, actor: Any = None, changes: dict | None = None,
                       **_: Any) -> None:
    if not why_update_is_not_pushed(session, changes or {}):
        _push(session, actor, assignment.offering)


@events.project_updated.connect
def project_updated(project: Project, session: Session, actor: Any = None, changes: dict | None = None,
                    **_: Any) -> None:
    if "client_id" in (changes or {}):
        for offering in project.offerings:
            _push(session, actor, offering)


@events.project_stage_changed.connect
def project_stage_changed(project: Project, session: Session, actor: Any = None, from_stage: Any = None,
                          to_stage: Any = None, options: dict | None = None, **_: Any) -> None:
    """Entering an In Progress stage provisions the offerings checked in the move dialog; entering or
    leaving a closed stage archives or reactivates the linked projects."""
    if to_stage is None:
        return
    if bool(from_stage and from_stage.is_closed) != to_stage.is_closed:
        for offering in project.offerings:
            _push(session, actor, offering)
    if to_stage.is_in_progress and not (from_stage and from_stage.is_in_progress):
        provisioning.provision_on_move(session, actor, project, options or {})


@events.org_settings_changed.connect
def org_settings_changed(settings: Any, session: Session, actor: Any = None, changes: dict | None = None,
                         **_: Any) -> None:
    """Assignment Level Budgeting / Hours Source changed: linked projects keep the old values until
    re-pushed, so each connection remembers to offer the org-wide re-push (seed 002 section 7)."""
    changed = sorted(PUSH_SETTINGS & set(changes or {}))
    if not changed:
        return
    for connection in session.scalars(select(Connection)):
        pending = set((connection.settings or {}).get("resync_needed", []))
        connection.settings = {**(connection.settings or {}), "resync_needed": sorted(pending | set(changed))}
