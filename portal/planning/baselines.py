"""Budget baselines: named snapshots of a project's offering budgets (seed 004 "Create baselines",
"Edit and delete baselines"). Creating one and rewriting one are separate rights, so a PM who may take a
baseline cannot go back and change history."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import audit
from portal.auth import policy
from portal.auth.models import User
from portal.errors import Conflict, InvalidInput, get_or_raise
from portal.planning.models import Baseline, BaselineLine
from portal.projects.models import Offering
from portal.projects.services import MAX_HOURS, MAX_MONEY, get_project

LINE_FIELDS = ["sold_hours", "planned_hours", "fixed_fee", "budget_amount"]


def get_baseline(session: Session, baseline_id: int) -> Baseline:
    return get_or_raise(session, Baseline, baseline_id, "baseline")


def list_baselines(session: Session, project_id: int) -> list[Baseline]:
    return list(session.scalars(select(Baseline).where(Baseline.project_id == project_id)
                                .order_by(Baseline.taken_at.desc(), Baseline.id.desc())))


def _unique_name(session: Session, project_id: int, name: str, baseline_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Name the baseline.", fields={"name": "Enter a name."})
    if len(name) > 120:
        raise InvalidInput("A baseline name has at most 120 characters.", fields={"name": "Too long."})
    query = select(Baseline.id).where(Baseline.project_id == project_id, func.lower(Baseline.name) == name.lower())
    if baseline_id is not None:
        query = query.where(Baseline.id != baseline_id)
    if session.scalar(query):
        raise Conflict(f"A baseline named {name} already exists.", fields={"name": "Already used."})
    return name


def create_baseline(session: Session, actor: User | str | None, project_id: int, name: str) -> Baseline:
    """Snapshot every offering that is not archived, as it is now."""
    project = get_project(session, project_id)
    if isinstance(actor, User):
        policy.require(policy.can_create_baselines(actor, project),
                       f"You cannot take baselines while {project.name} is in {project.stage.name}.")
    name = _unique_name(session, project_id, name)
    offerings = [o for o in project.offerings if not o.archived]
    if not offerings:
        raise Conflict(f"{project.name} has no offerings to take a baseline of.")
    baseline = Baseline(project_id=project.id, name=name, taken_by_id=actor.id if isinstance(actor, User) else None)
    baseline.lines = [BaselineLine(offering_id=o.id, offering_name=o.name, sold_hours=o.sold_hours,
                                   planned_hours=o.planned_hours, fixed_fee=o.fixed_fee,
                                   budget_amount=o.budget_amount) for o in offerings]
    session.add(baseline)
    session.flush()
    audit.record(session, actor, "baseline.created", baseline,
                 after={"name": name, "lines": [{"offering": ln.offering_name, "budget_amount": ln.budget_amount,
                                                 "planned_hours": ln.planned_hours} for ln in baseline.lines]},
                 summary=f"Baseline {name} taken of {project.name}")
    return baseline


def _require_edit(session: Session, actor: User | str | None, baseline: Baseline) -> None:
    if isinstance(actor, User):
        project = get_project(session, baseline.project_id)
        policy.require(policy.can_edit_baselines(actor, project),
                       f"You cannot change or delete baselines while {project.name} is in {project.stage.name}.")


def update_baseline_line(session: Session, actor: User | str | None, line_id: int, *, name: str | None = None,
                         planned_hours: Decimal, budget_amount: Decimal | None) -> BaselineLine:
    """Correct a baseline's line (and optionally rename the baseline): rewriting history, so its own right."""
    line = get_or_raise(session, BaselineLine, line_id, "baseline line")
    baseline = line.baseline
    _require_edit(session, actor, baseline)
    if planned_hours is None or not 0 <= planned_hours <= MAX_HOURS:
        raise InvalidInput("Planned hours are between 0 and 1,000,000.", fields={"planned_hours": "Out of range."})
    if budget_amount is not None and not 0 <= budget_amount <= MAX_MONEY:
        raise InvalidInput("A budget is between 0 and 1,000,000,000.", fields={"budget_amount": "Out of range."})
    before = {**audit.snapshot(line, LINE_FIELDS), "baseline": baseline.name}
    if name is not None:
        baseline.name = _unique_name(session, baseline.project_id, name, baseline.id)
    line.planned_hours, line.budget_amount = planned_hours, budget_amount
    session.flush()
    old, new = audit.changes(before, {**audit.snapshot(line, LINE_FIELDS), "baseline": baseline.name})
    if new:
        audit.record(session, actor, "baseline.edited", baseline, before=old, after=new,
                     summary=f"Baseline {baseline.name}: {line.offering_name} changed")
    return line


def delete_baseline(session: Session, actor: User | str | None, baseline_id: int) -> None:
    baseline = get_baseline(session, baseline_id)
    _require_edit(session, actor, baseline)
    audit.record(session, actor, "baseline.deleted", baseline,
                 before={"name": baseline.name, "taken_at": baseline.taken_at,
                         "lines": [{"offering": ln.offering_name, "budget_amount": ln.budget_amount}
                                   for ln in baseline.lines]},
                 summary=f"Baseline {baseline.name} deleted")
    session.delete(baseline)
    session.flush()


def comparison(session: Session, baseline: Baseline) -> list[dict]:
    """Each line beside the offering as it is today (None when the offering was deleted)."""
    today = {o.id: o for o in session.scalars(select(Offering).where(
        Offering.id.in_([ln.offering_id for ln in baseline.lines if ln.offering_id])))}
    return [{"line": ln, "now": today.get(ln.offering_id)} for ln in baseline.lines]
