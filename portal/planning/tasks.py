"""A project's task list and its task types (seed 004 "Edit tasks", "Edit task types").

Tasks are what time and cost entries may name; a deactivated task keeps its history and takes nothing new.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import audit
from portal.auth import policy
from portal.auth.models import User
from portal.errors import Conflict, InvalidInput, NotFound
from portal.inputs import clean_name
from portal.planning.models import ProjectTask, TaskType
from portal.projects.models import Project
from portal.projects.services import MAX_HOURS, get_project

TASK_FIELDS = ["name", "task_type_id", "planned_hours", "start_date", "end_date", "active"]


def _require(actor: User | str | None, project: Project, allowed) -> None:
    if isinstance(actor, User):
        policy.require(allowed(actor, project), f"You cannot change the task plan while {project.name} is in "
                                                f"{project.stage.name}.")


def list_task_types(session: Session, project_id: int) -> list[TaskType]:
    return list(session.scalars(select(TaskType).where(TaskType.project_id == project_id).order_by(TaskType.name)))


def list_tasks(session: Session, project_id: int, active_only: bool = False) -> list[ProjectTask]:
    query = select(ProjectTask).where(ProjectTask.project_id == project_id)
    if active_only:
        query = query.where(ProjectTask.active.is_(True))
    return list(session.scalars(query.order_by(ProjectTask.start_date.is_(None), ProjectTask.start_date,
                                               ProjectTask.name)))


def task_for_entry(session: Session, project_id: int, task_id: int | None) -> ProjectTask | None:
    """The task a time or cost entry names: one of the project's active tasks, or none."""
    if task_id is None:
        return None
    task = session.get(ProjectTask, task_id)
    if task is None or task.project_id != project_id:
        raise InvalidInput("Choose a task of this project.", fields={"task_id": "Not a task of this project."})
    if not task.active:
        raise InvalidInput(f"The task {task.name} is closed.", fields={"task_id": "Closed task."})
    return task


# Task types
def save_task_type(session: Session, actor: User | str | None, project_id: int, name: str,
                   task_type_id: int | None = None, active: bool = True) -> TaskType:
    """Add a task type (no id) or rename / (de)activate one."""
    project = get_project(session, project_id)
    _require(actor, project, policy.can_edit_task_types)
    name = clean_name(name, "task type", 120)
    duplicate = select(TaskType.id).where(TaskType.project_id == project_id, func.lower(TaskType.name) == name.lower())
    if task_type_id is not None:
        duplicate = duplicate.where(TaskType.id != task_type_id)
    if session.scalar(duplicate):
        raise Conflict(f"{project.name} already has a task type named {name}.", fields={"name": "Already used."})
    if task_type_id is None:
        task_type = TaskType(project_id=project_id, name=name, active=active)
        session.add(task_type)
        session.flush()
        audit.record(session, actor, "task_type.created", task_type, after={"name": name},
                     summary=f"Task type {name} added to {project.name}")
        return task_type
    task_type = session.get(TaskType, task_type_id)
    if task_type is None or task_type.project_id != project_id:
        raise NotFound("That task type does not exist.")
    audit.update(session, actor, task_type, {"name": name, "active": active}, "task_type.updated",
                 f"Task type {name} of {project.name} changed")
    return task_type


# Tasks
def _check_task(session: Session, project_id: int, task_type_id: int | None, planned_hours: Decimal,
                start: date | None, end: date | None) -> None:
    if task_type_id is not None:
        task_type = session.get(TaskType, task_type_id)
        if task_type is None or task_type.project_id != project_id:
            raise InvalidInput("Choose a task type of this project.", fields={"task_type_id": "Choose one."})
    if planned_hours is None or planned_hours < 0 or planned_hours > MAX_HOURS:
        raise InvalidInput("Planned hours are between 0 and 1,000,000.", fields={"planned_hours": "Out of range."})
    if start and end and end < start:
        raise InvalidInput("The task ends before it starts.", fields={"end_date": "Must not be before the start."})


def save_task(session: Session, actor: User | str | None, project_id: int, *, name: str,
              task_type_id: int | None = None, planned_hours: Decimal = Decimal("0"), start_date: date | None = None,
              end_date: date | None = None, active: bool = True, task_id: int | None = None) -> ProjectTask:
    """Add a task (no id) or change one. Changing a task's type alone also needs "edit task types"."""
    project = get_project(session, project_id)
    _require(actor, project, policy.can_edit_tasks)
    name = clean_name(name, "task", 200)
    planned_hours = Decimal("0") if planned_hours is None else planned_hours
    _check_task(session, project_id, task_type_id, planned_hours, start_date, end_date)
    duplicate = select(ProjectTask.id).where(ProjectTask.project_id == project_id,
                                             func.lower(ProjectTask.name) == name.lower())
    if task_id is not None:
        duplicate = duplicate.where(ProjectTask.id != task_id)
    if session.scalar(duplicate):
        raise Conflict(f"{project.name} already has a task named {name}.", fields={"name": "Already used."})
    values = dict(name=name, task_type_id=task_type_id, planned_hours=planned_hours, start_date=start_date,
                  end_date=end_date, active=active)
    if task_id is None:
        task = ProjectTask(project_id=project_id, **values)
        session.add(task)
        session.flush()
        audit.record(session, actor, "task.created", task, after=audit.snapshot(task, TASK_FIELDS),
                     summary=f"Task {name} added to {project.name}")
        return task
    task = session.get(ProjectTask, task_id)
    if task is None or task.project_id != project_id:
        raise NotFound("That task does not exist.")
    if task.task_type_id != task_type_id and task_type_id is not None:
        _require(actor, project, policy.can_edit_task_types)
    audit.update(session, actor, task, values, "task.updated", f"Task {name} of {project.name} changed", TASK_FIELDS)
    return task
