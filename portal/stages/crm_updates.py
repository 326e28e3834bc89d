"""CRM changes reaching projects, as the project's stage allows (seed 004 "Allow updates from the CRM").

A deal's name becomes its project's name; its amount and dates become the project's CRM estimate (the
base of estimate forecasts: the open deals' amounts, from the earliest start to the latest end). In a
stage that does not allow CRM updates the change is recorded as skipped, with the reason, and the
project keeps its values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit
from portal.auth.models import User
from portal.projects.models import Deal, DealStage, Project

# A lost deal leaves the estimate, so a stage change counts too.
ESTIMATE_FIELDS = ("amount", "start_date", "end_date", "stage")


def _estimate(session: Session, project: Project) -> dict[str, Any]:
    # Queried, not project.deals: a deal linked by id in this transaction is not in a loaded collection.
    deals = list(session.scalars(select(Deal).where(Deal.project_id == project.id,
                                                    Deal.stage != DealStage.CLOSED_LOST)))
    amounts = [d.amount for d in deals if d.amount is not None]
    starts = [d.start_date for d in deals if d.start_date]
    ends = [d.end_date for d in deals if d.end_date]
    return {"estimate_amount": sum(amounts, Decimal("0")) if amounts else None,
            "estimate_start": min(starts) if starts else None, "estimate_end": max(ends) if ends else None}


def _last_skipped(session: Session, project: Project) -> dict[str, Any] | None:
    """What the latest skipped update proposed, unless an update was applied since."""
    event = session.scalar(select(audit.AuditEvent).where(
        audit.AuditEvent.subject_type == "projects", audit.AuditEvent.subject_id == project.id,
        audit.AuditEvent.action.in_(("project.crm_update_skipped", "project.crm_updated")))
        .order_by(audit.AuditEvent.id.desc()).limit(1))
    return event.after if event is not None and event.action == "project.crm_update_skipped" else None


def apply_deal_change(session: Session, actor: User | str | None, deal: Deal, changes: dict[str, list[Any]]) -> bool:
    """Bring a deal's change to its project; returns False when the stage made it a skipped update."""
    project = deal.project
    if project is None:
        return True
    proposed: dict[str, Any] = {}
    if "name" in changes:
        proposed["name"] = deal.name
    if any(field in changes for field in ESTIMATE_FIELDS):
        proposed.update(_estimate(session, project))
    new = {field: value for field, value in proposed.items() if getattr(project, field) != value}
    if not new:
        return True
    old = {field: getattr(project, field) for field in new}
    stage = project.stage
    if not stage.flag("allow_crm_updates"):
        last = _last_skipped(session, project) or {}
        if all(last.get(field) == value for field, value in audit.plain(new).items()):
            return False  # skipped already (a won deal proposes its estimate again): a line would say nothing new
        audit.record(session, actor, "project.crm_update_skipped", project, before=old, after=new,
                     summary=f"Not applied from deal {deal.name}: {stage.name} does not allow updates from the CRM")
        return False
    for field in new:
        setattr(project, field, proposed[field])
    session.flush()
    audit.record(session, actor, "project.crm_updated", project, before=old, after=new,
                 summary=f"{project.name} updated from deal {deal.name}")
    return True
