"""The searchable selects of the projects domain (portal/lookups.py): clients, projects, offerings open for
time, project tasks, people (resources) and the users who can manage projects.

Each search reads one page of matches in the order an index serves (name, then id) and stops there,
whatever the table's size; an offering search puts the person's own assignments first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from portal.auth import policy
from portal.auth.models import Role, User
from portal.lookups import Option, contains, register
from portal.planning.models import ProjectTask
from portal.projects.models import Assignment, Client, Offering, Project, Resource
from portal.projects.services import entry_stage_ids, managed_projects, open_stage_ids


def _int(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name, "")
    return int(value) if value.isdigit() and len(value) < 10 else None


# Clients ---------------------------------------------------------------------------------------------
def search_clients(session: Session, user: Any, text: str, params: Mapping[str, str], limit: int) -> list[Option]:
    query = select(Client.id, Client.name).order_by(Client.name, Client.id).limit(limit)
    if text:
        query = query.where(contains(Client.name, text))
    return [Option(ident, name) for ident, name in session.execute(query)]


def describe_clients(session: Session, ids: list[int]) -> dict[int, str]:
    return dict(session.execute(select(Client.id, Client.name).where(Client.id.in_(ids))).all())


# Projects --------------------------------------------------------------------------------------------
def search_projects(session: Session, user: Any, text: str, params: Mapping[str, str], limit: int) -> list[Option]:
    """Projects by name or code; `open=1`: only those not in a closed stage."""
    query = select(Project.id, Project.name, Project.code).order_by(Project.name, Project.id).limit(limit)
    if params.get("open") == "1":
        query = query.where(Project.stage_id.in_(open_stage_ids(session)))
    if text:
        query = query.where(contains(Project.name, text) | contains(func.coalesce(Project.code, ""), text))
    return [Option(ident, name, code or "") for ident, name, code in session.execute(query)]


def describe_projects(session: Session, ids: list[int]) -> dict[int, str]:
    return dict(session.execute(select(Project.id, Project.name).where(Project.id.in_(ids))).all())


def _projects(session: Session, stage_key: str, text: str) -> Select:
    query = (select(Project).where(Project.stage_id.in_(entry_stage_ids(session, stage_key)))
             .options(selectinload(Project.stage)).order_by(Project.name, Project.id))
    return query.where(contains(Project.name, text)) if text else query


def search_cost_projects(session: Session, user: Any, text: str, params: Mapping[str, str],
                         limit: int) -> list[Option]:
    """Projects `resource` may report costs to now (My expenses)."""
    resource_id = _int(params, "resource")
    query = _projects(session, "open_for_cost", text).options(
        selectinload(Project.offerings).selectinload(Offering.assignments))
    kept = _kept(session, query, lambda p: policy.cost_entry_refusal(p, resource_id) is None, limit)
    return [Option(p.id, p.name) for p in kept]


def search_transfer_projects(session: Session, user: Any, text: str, params: Mapping[str, str],
                             limit: int) -> list[Option]:
    """Projects the user may transfer costs onto (other than `from`): managed ones (any, for MPE users) open
    for cost transfers."""
    query = _projects(session, "open_for_cost_transfer", text).where(Project.id != (_int(params, "from") or 0))
    if not policy.is_mpe(user):
        query = query.where(Project.id.in_(managed_projects(user.id)))
    query = query.options(selectinload(Project.team))
    kept = _kept(session, query, lambda p: policy.transfer_onto_refusal(user, p, "cost") is None, limit)
    return [Option(p.id, p.name) for p in kept]


def _kept(session: Session, query: Select, keep: Callable[[Any], bool], limit: int) -> Iterator[Any]:
    """Rows of `query` (in its order) that `keep` accepts, at most `limit`, read a page at a time.

    SQL leaves out what can never qualify (a stage closed for it); `keep` applies the policy's exact rule
    (a project's own options). At most four pages are read: a list whose rows the policy refuses page after
    page ends short rather than reading the whole table."""
    found = 0
    for page in range(4):
        rows = list(session.scalars(query.offset(page * limit).limit(limit)))
        for row in rows:
            if keep(row):
                yield row
                found += 1
                if found >= limit:
                    return
        if len(rows) < limit:
            return


# Offerings open for time -----------------------------------------------------------------------------
def _offering_label(offering: Offering) -> str:
    return f"{offering.project.name} · {offering.name}"


def _offerings(session: Session, stage_key: str, text: str) -> Select:
    query = (select(Offering).join(Project, Offering.project_id == Project.id)
             .where(Offering.archived.is_(False), Project.stage_id.in_(entry_stage_ids(session, stage_key)))
             .options(selectinload(Offering.project).selectinload(Project.stage))
             .order_by(Project.name, Offering.name, Offering.id))
    if text:
        query = query.where(contains(Project.name, text) | contains(Offering.name, text))
    return query


def search_transfer_offerings(session: Session, user: Any, text: str, params: Mapping[str, str],
                              limit: int) -> list[Option]:
    """Offerings the user may transfer time entries onto: projects they manage (any, for MPE users) that are
    open for time transfers."""
    query = _offerings(session, "open_for_time_transfer", text).options(
        selectinload(Offering.project).selectinload(Project.team))
    if not policy.is_mpe(user):
        query = query.where(Project.id.in_(managed_projects(user.id)))
    kept = _kept(session, query, lambda o: policy.transfer_onto_refusal(user, o.project, "time") is None, limit)
    return [Option(o.id, _offering_label(o)) for o in kept]


def search_offerings(session: Session, user: Any, text: str, params: Mapping[str, str], limit: int) -> list[Option]:
    """Offerings not archived, of any project (linking an offering to a tool's project), by project name."""
    query = (select(Offering.id, Project.name, Offering.name).join(Project, Offering.project_id == Project.id)
             .where(Offering.archived.is_(False)).order_by(Project.name, Offering.name, Offering.id).limit(limit))
    if text:
        query = query.where(contains(Project.name, text) | contains(Offering.name, text))
    return [Option(ident, f"{project} · {name}") for ident, project, name in session.execute(query)]


def describe_offerings(session: Session, ids: list[int]) -> dict[int, str]:
    return {o.id: _offering_label(o) for o in session.scalars(
        select(Offering).where(Offering.id.in_(ids)).options(selectinload(Offering.project)))}


# Tasks of a project ----------------------------------------------------------------------------------
def search_tasks(session: Session, user: Any, text: str, params: Mapping[str, str], limit: int) -> list[Option]:
    """Active tasks of `project`, or of the project of `offering`."""
    project_id = _int(params, "project")
    offering_id = _int(params, "offering")
    if project_id is None and offering_id is not None:
        project_id = session.scalar(select(Offering.project_id).where(Offering.id == offering_id))
    if project_id is None:
        return []
    query = (select(ProjectTask.id, ProjectTask.name)
             .where(ProjectTask.project_id == project_id, ProjectTask.active.is_(True))
             .order_by(ProjectTask.name, ProjectTask.id).limit(limit))
    if text:
        query = query.where(contains(ProjectTask.name, text))
    return [Option(ident, name) for ident, name in session.execute(query)]


def describe_tasks(session: Session, ids: list[int]) -> dict[int, str]:
    return dict(session.execute(select(ProjectTask.id, ProjectTask.name).where(ProjectTask.id.in_(ids))).all())


# People and users ------------------------------------------------------------------------------------
def search_people(session: Session, user: Any, text: str, params: Mapping[str, str], limit: int) -> list[Option]:
    """Resources by name or email; `inactive=1` includes people no longer active; `not_on=<offering>` leaves
    out those on that offering already (the Team tab's picker)."""
    query = select(Resource.id, Resource.name, Resource.email).order_by(Resource.name, Resource.id).limit(limit)
    if params.get("inactive") != "1":
        query = query.where(Resource.active.is_(True))
    offering_id = _int(params, "not_on")
    if offering_id is not None:
        query = query.where(Resource.id.not_in(select(Assignment.resource_id).where(
            Assignment.offering_id == offering_id)))
    if text:
        query = query.where(contains(Resource.name, text) | contains(Resource.email, text))
    return [Option(ident, name, email) for ident, name, email in session.execute(query)]


def describe_people(session: Session, ids: list[int]) -> dict[int, str]:
    return dict(session.execute(select(Resource.id, Resource.name).where(Resource.id.in_(ids))).all())


def search_users(session: Session, user: Any, text: str, params: Mapping[str, str], limit: int) -> list[Option]:
    """Active internal users (project managers, PM teams)."""
    query = (select(User.id, User.name, User.email).where(User.active.is_(True), User.role != Role.CLIENT)
             .order_by(User.name, User.id).limit(limit))
    if text:
        query = query.where(contains(User.name, text) | contains(User.email, text))
    return [Option(ident, name, email) for ident, name, email in session.execute(query)]


def describe_users(session: Session, ids: list[int]) -> dict[int, str]:
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


register("clients", search_clients, describe_clients, "client")
register("projects", search_projects, describe_projects, "project")
register("offerings", search_offerings, describe_offerings, "offering")
register("transfer_offerings", search_transfer_offerings, describe_offerings, "offering")
register("cost_projects", search_cost_projects, describe_projects, "project")
register("transfer_projects", search_transfer_projects, describe_projects, "project")
register("tasks", search_tasks, describe_tasks, "task")
register("people", search_people, describe_people, "person")
register("users", search_users, describe_users, "user")
