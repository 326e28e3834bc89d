"""The stage editor: engagement types, their ordered stages, and each stage's settings (seed 004).

Only users with the system-settings permission change any of it. Every change is audited with the values
before and after; a stage's settings are saved one group at a time, under a row lock so two admins saving
different groups do not overwrite each other.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import audit
from portal.auth import policy
from portal.auth.models import User
from portal.errors import Conflict, InvalidInput, get_or_raise
from portal.formatting import plural
from portal.inputs import clean_name
from portal.projects.models import Project
from portal.projects.services import default_engagement_type
from portal.stages import registry
from portal.stages.models import EngagementType, Stage

NAME_LENGTH = 100


def require_editor(actor: User | str | None) -> None:
    if isinstance(actor, User):
        policy.require(policy.can_edit_stages(actor), "Only users with the system-settings permission edit stages.")


def get_stage(session: Session, stage_id: int, lock: bool = False) -> Stage:
    # populate_existing: a row locked for update must also be read fresh, not taken from the identity map.
    return get_or_raise(session, Stage, stage_id, "stage", with_for_update=lock or None, populate_existing=lock)


def get_engagement_type(session: Session, type_id: int) -> EngagementType:
    return get_or_raise(session, EngagementType, type_id, "engagement type")


def list_engagement_types(session: Session) -> list[EngagementType]:
    return list(session.scalars(select(EngagementType).order_by(EngagementType.is_default.desc(),
                                                                EngagementType.name)))


def project_counts(session: Session) -> dict[int, int]:
    """Projects per stage id (the editor shows them and refuses to delete a stage in use)."""
    rows = session.execute(select(Project.stage_id, func.count()).group_by(Project.stage_id))
    return {stage_id: count for stage_id, count in rows}


# Engagement types
def create_engagement_type(session: Session, actor: User | str | None, name: str,
                           copy_from_id: int | None = None) -> EngagementType:
    """A new workflow, starting as a copy of another type's stages (the default type's unless chosen)."""
    require_editor(actor)
    name = clean_name(name, "engagement type", NAME_LENGTH)
    if session.scalar(select(EngagementType.id).where(func.lower(EngagementType.name) == name.lower())):
        raise Conflict(f"An engagement type named {name} already exists.", fields={"name": "Already used."})
    source = get_engagement_type(session, copy_from_id) if copy_from_id else default_engagement_type(session)
    engagement_type = EngagementType(name=name, is_default=False)
    session.add(engagement_type)
    for stage in source.stages:
        engagement_type.stages.append(Stage(name=stage.name, position=stage.position,
                                            settings=dict(stage.settings or {})))
    session.flush()
    audit.record(session, actor, "engagement_type.created", engagement_type,
                 after={"name": name, "copied_from": source.name, "stages": [s.name for s in engagement_type.stages]},
                 summary=f"Created engagement type {name} (stages copied from {source.name})")
    return engagement_type


def rename_engagement_type(session: Session, actor: User | str | None, type_id: int, name: str) -> EngagementType:
    require_editor(actor)
    engagement_type = get_engagement_type(session, type_id)
    name = clean_name(name, "engagement type", NAME_LENGTH)
    if session.scalar(select(EngagementType.id).where(func.lower(EngagementType.name) == name.lower(),
                                                      EngagementType.id != type_id)):
        raise Conflict(f"An engagement type named {name} already exists.", fields={"name": "Already used."})
    audit.update(session, actor, engagement_type, {"name": name}, "engagement_type.renamed",
                 f"Engagement type {engagement_type.name} renamed to {name}")
    return engagement_type


def make_default_engagement_type(session: Session, actor: User | str | None, type_id: int) -> EngagementType:
    """New projects start in the default type's workflow; exactly one type is the default."""
    require_editor(actor)
    engagement_type = get_engagement_type(session, type_id)
    if engagement_type.is_default:
        return engagement_type
    previous = default_engagement_type(session)
    if previous is not None:
        previous.is_default = False
        session.flush()  # the old default first, so "one default" holds at every statement
    engagement_type.is_default = True
    session.flush()
    audit.record(session, actor, "engagement_type.made_default", engagement_type,
                 before={"default": previous.name if previous else None}, after={"default": engagement_type.name},
                 summary=f"{engagement_type.name} is now the default engagement type")
    return engagement_type


def delete_engagement_type(session: Session, actor: User | str | None, type_id: int) -> None:
    require_editor(actor)
    engagement_type = get_engagement_type(session, type_id)
    if engagement_type.is_default:
        raise Conflict("The default engagement type cannot be deleted; make another type the default first.")
    in_use = session.scalar(select(func.count()).select_from(Project)
                            .where(Project.engagement_type_id == type_id))
    if in_use:
        following = plural(in_use, "project follows", "projects follow")
        raise Conflict(f"{engagement_type.name} cannot be deleted: {following} its workflow.")
    audit.record(session, actor, "engagement_type.deleted", engagement_type,
                 before={"name": engagement_type.name, "stages": [s.name for s in engagement_type.stages]},
                 summary=f"Deleted engagement type {engagement_type.name}")
    session.delete(engagement_type)
    session.flush()


# Stages
def _check_unique_stage_name(session: Session, type_id: int, name: str, stage_id: int | None = None) -> None:
    query = select(Stage.id).where(Stage.engagement_type_id == type_id, func.lower(Stage.name) == name.lower())
    if stage_id is not None:
        query = query.where(Stage.id != stage_id)
    if session.scalar(query):
        raise Conflict(f"This workflow already has a stage named {name}.", fields={"name": "Already used."})


def create_stage(session: Session, actor: User | str | None, type_id: int, name: str) -> Stage:
    """A new stage at the end of the workflow, with every setting at its registry default."""
    require_editor(actor)
    engagement_type = get_engagement_type(session, type_id)
    name = clean_name(name, "stage", NAME_LENGTH)
    _check_unique_stage_name(session, type_id, name)
    position = max((s.position for s in engagement_type.stages), default=-1) + 1
    stage = Stage(engagement_type_id=type_id, name=name, position=position, settings=registry.defaults())
    session.add(stage)
    session.flush()
    audit.record(session, actor, "stage.created", stage, after={"name": name, "position": position,
                                                                "engagement_type": engagement_type.name},
                 summary=f"Added stage {name} to {engagement_type.name}")
    return stage


def rename_stage(session: Session, actor: User | str | None, stage_id: int, name: str) -> Stage:
    require_editor(actor)
    stage = get_stage(session, stage_id)
    name = clean_name(name, "stage", NAME_LENGTH)
    _check_unique_stage_name(session, stage.engagement_type_id, name, stage.id)
    audit.update(session, actor, stage, {"name": name}, "stage.renamed", f"Stage {stage.name} renamed to {name}")
    return stage


def reorder_stage(session: Session, actor: User | str | None, stage_id: int, direction: str) -> Stage:
    """Move a stage one place up or down its workflow (positions are renumbered 0..n-1)."""
    require_editor(actor)
    if direction not in ("up", "down"):
        raise InvalidInput("Move a stage up or down.")
    stage = get_stage(session, stage_id)
    stages = sorted(stage.engagement_type.stages, key=lambda s: (s.position, s.id))
    before = [s.name for s in stages]
    index = stages.index(stage)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(stages):
        return stage
    stages[index], stages[other] = stages[other], stages[index]
    for position, each in enumerate(stages):
        each.position = position
    session.flush()
    audit.record(session, actor, "stage.reordered", stage.engagement_type, before={"order": before},
                 after={"order": [s.name for s in stages]}, summary=f"Moved stage {stage.name} {direction}")
    return stage


def delete_stage(session: Session, actor: User | str | None, stage_id: int) -> None:
    """Delete an empty stage. Projects in it must be moved first (`reassign_projects`)."""
    require_editor(actor)
    stage = get_stage(session, stage_id)
    in_stage = session.scalar(select(func.count()).select_from(Project).where(Project.stage_id == stage_id))
    if in_stage:
        raise Conflict(f"{stage.name} cannot be deleted while {plural(in_stage, 'project is', 'projects are')} in it; "
                       "move them to another stage first.", projects=in_stage)
    if len(stage.engagement_type.stages) == 1:
        raise Conflict(f"{stage.name} is the only stage of {stage.engagement_type.name}; a workflow needs one.")
    engagement_type = stage.engagement_type
    audit.record(session, actor, "stage.deleted", stage,
                 before={"name": stage.name, "position": stage.position, "settings": stage.settings},
                 summary=f"Deleted stage {stage.name} of {engagement_type.name}")
    engagement_type.stages.remove(stage)
    session.delete(stage)
    for position, each in enumerate(sorted(engagement_type.stages, key=lambda s: (s.position, s.id))):
        each.position = position
    session.flush()


def update_stage_settings(session: Session, actor: User | str | None, stage_id: int,
                          submitted: dict[str, Any]) -> dict[str, list[Any]]:
    """Save some of a stage's settings; returns {key: [before, after]} of what changed.

    `submitted` maps registry keys to raw form values (a checkbox that is absent, None, is off). The editor
    and the workflow matrix save one setting per change; nothing is saved unless every value is valid. The
    stage row is locked, so two admins changing different settings of one stage keep both changes.
    """
    require_editor(actor)
    unknown = [key for key in submitted if key not in registry.BY_KEY]
    if unknown or not submitted:
        raise InvalidInput("That stage setting does not exist.")
    stage = get_stage(session, stage_id, lock=True)
    values, errors = {}, {}
    for key, raw in submitted.items():
        setting = registry.BY_KEY[key]
        if raw is None and setting.kind != registry.BOOL:
            errors[key] = f"{setting.label}: enter a value."
            continue
        try:
            values[key] = registry.coerce(setting, raw)
        except ValueError as error:
            errors[key] = str(error)
    if errors:
        raise InvalidInput(" ".join(errors.values()), fields=errors)
    changed = {key: [stage.flag(key), value] for key, value in values.items() if stage.flag(key) != value}
    if changed:
        stage.settings = {**(stage.settings or {}), **values}  # a new dict: JSON columns track assignment
        session.flush()
        audit.record(session, actor, "stage.settings_changed", stage,
                     before={k: v[0] for k, v in changed.items()}, after={k: v[1] for k, v in changed.items()},
                     summary=f"{stage.name}: {registry.describe_changes(changed)}")
    return changed
