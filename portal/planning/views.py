"""The project's Plan tab: task types, tasks, resource requests and budget baselines."""

from __future__ import annotations

from flask import Blueprint, flash
from flask_login import current_user

from portal.auth import policy
from portal.auth.access import allow
from portal.extensions import db
from portal.formatting import hours_text
from portal.forms import submit
from portal.org.services import get_settings
from portal.planning import baselines, requests, tasks
from portal.planning.forms import (
    BaselineForm,
    BaselineLineForm,
    FulfilForm,
    RequestForm,
    TaskForm,
    TaskTypeForm,
)
from portal.planning.models import Baseline, BaselineLine, ProjectTask, ResourceRequest, TaskType
from portal.projects.models import Project
from portal.projects.tabs import render_tab

bp = Blueprint("planning", __name__)


def _plan(project: Project, block: str = "tab_content", status: int = 200, **context):
    types = tasks.list_task_types(db.session, project.id)
    task_form = context.pop("task_form", None) or TaskForm(formdata=None)
    task_form.task_type_id.choices = [("", "—")] + [(t.id, t.name) for t in types if t.active]
    request_form = context.pop("request_form", None) or RequestForm(formdata=None)
    request_form.resource_id.resolve(db.session)
    request_form.offering_id.choices = [("", "—")] + [(o.id, o.name) for o in project.offerings]
    taken = baselines.list_baselines(db.session, project.id)
    return render_tab(
        "planning/plan.html", project, "plan", block=block, status=status, task_types=types,
        tasks=tasks.list_tasks(db.session, project.id), baselines=taken,
        comparisons={b.id: baselines.comparison(db.session, b) for b in taken},
        requests=requests.list_requests(db.session, project.id), task_form=task_form,
        request_form=request_form, type_form=context.pop("type_form", None) or TaskTypeForm(formdata=None),
        baseline_form=context.pop("baseline_form", None) or BaselineForm(formdata=None), **context)


@bp.route("/projects/<int:project_id>/plan")
@allow(policy.is_internal)
def plan_tab(project_id: int):
    return _plan(db.get_or_404(Project, project_id))


# Task types and tasks
@bp.route("/projects/<int:project_id>/task-types", methods=["POST"])
@bp.route("/projects/<int:project_id>/task-types/<int:task_type_id>", methods=["POST"])
@allow(policy.is_internal)
def save_task_type(project_id: int, task_type_id: int | None = None):
    project = db.get_or_404(Project, project_id)
    if task_type_id is not None:
        db.get_or_404(TaskType, task_type_id)
    form = TaskTypeForm()
    saved = submit(form, lambda: tasks.save_task_type(db.session, current_user, project.id, form.name.data,
                                                      task_type_id, form.active.data))
    if saved is None:
        return _plan(project, block="task_plan", status=form.status, type_form=form, form_for=("type", task_type_id))
    return _plan(project, block="task_plan")


@bp.route("/projects/<int:project_id>/tasks", methods=["POST"])
@bp.route("/projects/<int:project_id>/tasks/<int:task_id>", methods=["POST"])
@allow(policy.is_internal)
def save_task(project_id: int, task_id: int | None = None):
    project = db.get_or_404(Project, project_id)
    if task_id is not None:
        db.get_or_404(ProjectTask, task_id)
    form = TaskForm()
    form.task_type_id.choices = [("", "—")] + [(t.id, t.name) for t in tasks.list_task_types(db.session, project.id)]
    saved = submit(form, lambda: tasks.save_task(
        db.session, current_user, project.id, name=form.name.data, task_type_id=form.task_type_id.data,
        planned_hours=form.planned_hours.data, start_date=form.start_date.data, end_date=form.end_date.data,
        active=form.active.data, task_id=task_id))
    if saved is None:
        return _plan(project, block="task_plan", status=form.status, task_form=form, form_for=("task", task_id))
    return _plan(project, block="task_plan")


# Resource requests
@bp.route("/projects/<int:project_id>/requests", methods=["POST"])
@allow(policy.is_internal)
def request_resource(project_id: int):
    project = db.get_or_404(Project, project_id)
    form = RequestForm()
    form.resource_id.resolve(db.session)
    form.offering_id.choices = [("", "—")] + [(o.id, o.name) for o in project.offerings]
    saved = submit(form, lambda: requests.request_resource(
        db.session, current_user, project.id, hours=form.hours.data, start_date=form.start_date.data,
        end_date=form.end_date.data, role=form.role.data or "", resource_id=form.resource_id.data,
        offering_id=form.offering_id.data, note=form.note.data or ""))
    if saved is None:
        return _plan(project, block="resource_requests", status=form.status, request_form=form)
    flash("Request sent to the schedulers.", "success")
    return _plan(project, block="resource_requests")


@bp.route("/requests/<int:request_id>/book", methods=["POST"])
@allow(policy.is_internal)
def book_request(request_id: int):
    request_row = db.get_or_404(ResourceRequest, request_id)
    project = request_row.project
    form = FulfilForm()
    form.resource_id.resolve(db.session)
    week_start = get_settings(db.session).week_start
    saved = submit(form, lambda: requests.fulfil_request(db.session, current_user, request_row.id,
                                                         form.resource_id.data, week_start))
    if saved is None:
        return _plan(project, block="resource_requests", status=form.status, fulfil_form=form,
                     fulfil_id=request_row.id)
    flash(f"Booked {hours_text(saved.hours)} for {saved.resource.name}.", "success")
    return _plan(project, block="resource_requests")


@bp.route("/requests/<int:request_id>/cancel", methods=["POST"])
@allow(policy.is_internal)
def cancel_request(request_id: int):
    request_row = db.get_or_404(ResourceRequest, request_id)
    requests.cancel_request(db.session, current_user, request_row.id)
    db.session.commit()
    return _plan(request_row.project, block="resource_requests")


# Baselines
@bp.route("/projects/<int:project_id>/baselines", methods=["POST"])
@allow(policy.is_internal)
def create_baseline(project_id: int):
    project = db.get_or_404(Project, project_id)
    form = BaselineForm()
    saved = submit(form, lambda: baselines.create_baseline(db.session, current_user, project.id, form.name.data))
    if saved is None:
        return _plan(project, block="baselines", status=form.status, baseline_form=form)
    flash(f"Baseline {saved.name} taken.", "success")
    return _plan(project, block="baselines")


@bp.route("/baseline-lines/<int:line_id>", methods=["POST"])
@allow(policy.is_internal)
def edit_baseline_line(line_id: int):
    line = db.get_or_404(BaselineLine, line_id)
    project = db.session.get(Project, line.baseline.project_id)
    form = BaselineLineForm()
    saved = submit(form, lambda: baselines.update_baseline_line(
        db.session, current_user, line.id, planned_hours=form.planned_hours.data,
        budget_amount=form.budget_amount.data))
    if saved is None:
        return _plan(project, block="baselines", status=form.status, line_form=form, line_id=line.id)
    return _plan(project, block="baselines")


@bp.route("/baselines/<int:baseline_id>/delete", methods=["POST"])
@allow(policy.is_internal)
def delete_baseline(baseline_id: int):
    baseline = db.get_or_404(Baseline, baseline_id)
    project = db.session.get(Project, baseline.project_id)
    baselines.delete_baseline(db.session, current_user, baseline.id)
    db.session.commit()
    flash("Baseline deleted.", "success")
    return _plan(project, block="baselines")
