"""A project's time and cost entry options, changeable only while its stage allows (seed 004).

Groups and the stage setting that opens them:
- open_for_time (open for time, open for time transfer): "Allow changes to open for time settings";
- open_for_cost (open for cost, open for cost transfer): "Allow changes to open for cost settings";
- time_entry (who may enter time, descriptions required): "Allow changes to other time entry settings";
- cost_entry (who may enter costs, which cost categories): "Allow changes to other cost entry settings".
A value of None for an open-for option follows the stage.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal import audit
from portal.auth import policy
from portal.auth.models import User
from portal.errors import Conflict, InvalidInput
from portal.finance.models import CostCategory
from portal.projects.models import Project, ProjectCostCategory
from portal.projects.services import get_project

GROUP_FIELDS = {
    "open_for_time": ("open_for_time", "open_for_time_transfer"),
    "open_for_cost": ("open_for_cost", "open_for_cost_transfer"),
    "time_entry": ("time_entry_by", "time_descriptions_required"),
    "cost_entry": ("cost_entry_by", "cost_category_ids"),
}
GROUP_LABELS = {"open_for_time": "Open for time", "open_for_cost": "Open for cost",
                "time_entry": "Time entry", "cost_entry": "Cost entry"}
ENTRY_BY = ("anyone", "assigned")


def allowed_category_ids(session: Session, project_id: int) -> set[int]:
    """The cost categories a project accepts; empty means every category."""
    return set(session.scalars(select(ProjectCostCategory.cost_category_id)
                               .where(ProjectCostCategory.project_id == project_id)))


def current(session: Session, project: Project) -> dict[str, Any]:
    values = {field: getattr(project, field) for fields in GROUP_FIELDS.values() for field in fields
              if field != "cost_category_ids"}
    values["cost_category_ids"] = sorted(allowed_category_ids(session, project.id))
    return values


def _check(session: Session, group: str, values: dict[str, Any]) -> None:
    for field in GROUP_FIELDS[group]:
        value = values.get(field)
        if field.startswith("open_for") and value not in (None, True, False):
            raise InvalidInput("Choose open, closed or the stage's setting.", fields={field: "Choose one."})
        if field.endswith("_entry_by") and value not in ENTRY_BY:
            raise InvalidInput("Choose anyone or assigned people only.", fields={field: "Choose one."})
    if group == "cost_entry":
        ids = set(values.get("cost_category_ids") or [])
        known = set(session.scalars(select(CostCategory.id).where(CostCategory.id.in_(ids)))) if ids else set()
        if ids - known:
            raise InvalidInput("Choose existing cost categories.", fields={"cost_category_ids": "Unknown category."})


def update_entry_settings(session: Session, actor: User | str | None, project_id: int, group: str,
                          values: dict[str, Any]) -> dict[str, list[Any]]:
    """Change one group of the project's entry options; returns {field: [before, after]}."""
    if group not in GROUP_FIELDS:
        raise InvalidInput("That group of settings does not exist.")
    project = get_project(session, project_id)
    stage = project.stage
    if stage.is_closed or not stage.flag(policy.ENTRY_SETTING_GROUPS[group]):
        raise Conflict(f"{GROUP_LABELS[group]} options of {project.name} cannot change while it is in {stage.name}.")
    if isinstance(actor, User):
        policy.require(policy.can_edit_entry_settings(actor, project, group),
                       f"You cannot change {project.name}'s entry options.")
    values = {field: values.get(field) for field in GROUP_FIELDS[group]}
    _check(session, group, values)
    before = current(session, project)
    for field, value in values.items():
        if field == "cost_category_ids":
            wanted = set(value or [])
            session.execute(delete(ProjectCostCategory).where(ProjectCostCategory.project_id == project.id))
            session.add_all(ProjectCostCategory(project_id=project.id, cost_category_id=c) for c in sorted(wanted))
        else:
            setattr(project, field, bool(value) if field == "time_descriptions_required" else value)
    session.flush()
    after = current(session, project)
    old, new = audit.changes({k: before[k] for k in values}, {k: after[k] for k in values})
    if new:
        audit.record(session, actor, "project.entry_settings_changed", project, before=old, after=new,
                     summary=f"{project.name}: {GROUP_LABELS[group].lower()} options changed")
    return {k: [old[k], new[k]] for k in new}
