"""The stage editor (system-settings permission only) and the project move dialog."""

from __future__ import annotations

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user

from portal import htmx, inputs
from portal.auth import policy
from portal.auth.access import allow
from portal.errors import Conflict, InvalidInput
from portal.extensions import db
from portal.formatting import plural
from portal.forms import submit
from portal.integrations import provisioning
from portal.projects import entry_settings
from portal.projects.models import Project
from portal.projects.tabs import overview_context, render_tab
from portal.stages import moves, registry, services
from portal.stages.forms import EngagementTypeForm, MoveForm, NameForm, ReassignForm
from portal.stages.models import EngagementType, Stage

bp = Blueprint("stages", __name__)
EDITOR = "Only users with the system-settings permission can open the stage editor."


# The list of workflows -------------------------------------------------------------------------------

def _workflows(status: int = 200, **context):
    types = services.list_engagement_types(db.session)
    type_form = context.pop("type_form", None) or EngagementTypeForm(formdata=None)
    type_form.copy_from_id.choices = [(t.id, t.name) for t in types]
    return htmx.render("stages/index.html", block="workflows", status=status, types=types,
                       counts=services.project_counts(db.session), type_form=type_form,
                       stage_form=context.pop("stage_form", None) or NameForm(formdata=None), **context)


@bp.route("/settings/stages")
@allow(policy.can_edit_stages, EDITOR)
def index():
    return _workflows()


@bp.route("/settings/stages/types", methods=["POST"])
@allow(policy.can_edit_stages, EDITOR)
def create_type():
    form = EngagementTypeForm()
    form.copy_from_id.choices = [(t.id, t.name) for t in services.list_engagement_types(db.session)]
    created = submit(form, lambda: services.create_engagement_type(db.session, current_user, form.name.data,
                                                                   form.copy_from_id.data))
    if created is not None:
        flash(f"Created the engagement type {created.name}.", "success")
        return _workflows()
    return _workflows(status=form.status, type_form=form)


@bp.route("/settings/stages/types/<int:type_id>/rename", methods=["POST"])
@allow(policy.can_edit_stages, EDITOR)
def rename_type(type_id: int):
    engagement_type = db.get_or_404(EngagementType, type_id)
    form = NameForm()
    if submit(form, lambda: services.rename_engagement_type(db.session, current_user, type_id, form.name.data)):
        flash(f"Renamed to {engagement_type.name}.", "success")
        return _workflows()
    return _workflows(status=form.status, rename_form=form, rename_type_id=type_id)


@bp.route("/settings/stages/types/<int:type_id>/default", methods=["POST"])
@allow(policy.can_edit_stages, EDITOR)
def make_default_type(type_id: int):
    engagement_type = services.make_default_engagement_type(db.session, current_user, type_id)
    db.session.commit()
    flash(f"New projects now start in the {engagement_type.name} workflow.", "success")
    return _workflows()


@bp.route("/settings/stages/types/<int:type_id>/delete", methods=["POST"])
@allow(policy.can_edit_stages, EDITOR)
def delete_type(type_id: int):
    name = db.get_or_404(EngagementType, type_id).name
    services.delete_engagement_type(db.session, current_user, type_id)
    db.session.commit()
    flash(f"Deleted the engagement type {name}.", "success")
    return _workflows()


@bp.route("/settings/stages/types/<int:type_id>/stages", methods=["POST"])
@allow(policy.can_edit_stages, EDITOR)
def create_stage(type_id: int):
    db.get_or_404(EngagementType, type_id)
    form = NameForm()
    created = submit(form, lambda: services.create_stage(db.session, current_user, type_id, form.name.data))
    if created is not None:
        flash(f"Added the stage {created.name}; set what it allows next.", "success")
        return htmx.redirect_to(url_for(".edit_stage", stage_id=created.id))
    return _workflows(status=form.status, stage_form=form, stage_form_type_id=type_id)


@bp.route("/settings/stages/<int:stage_id>/reorder", methods=["POST"])
@allow(policy.can_edit_stages, EDITOR)
def reorder_stage(stage_id: int):
    services.reorder_stage(db.session, current_user, stage_id, request.form.get("direction", ""))
    db.session.commit()
    return _workflows()


@bp.route("/settings/stages/<int:stage_id>/delete", methods=["POST"])
@allow(policy.can_edit_stages, EDITOR)
def delete_stage(stage_id: int):
    """Delete an empty stage; a stage with projects answers with the offer to move them first."""
    stage = db.get_or_404(Stage, stage_id)
    name = stage.name
    try:
        services.delete_stage(db.session, current_user, stage_id)
        db.session.commit()
    except Conflict as error:
        db.session.rollback()
        if not error.details.get("projects"):
            raise
        return _workflows(status=409, blocked_stage=stage, blocked_message=error.message,
                          reassign_form=_reassign_form(stage))
    flash(f"Deleted the stage {name}.", "success")
    return _workflows()


def _reassign_form(stage: Stage, formdata=None) -> ReassignForm:
    form = ReassignForm(formdata=formdata)
    form.target_id.choices = [("", "Choose…")] + [(s.id, s.name) for s in stage.engagement_type.stages
                                                  if s.id != stage.id]
    return form


@bp.route("/settings/stages/<int:stage_id>/reassign", methods=["POST"])
@allow(policy.can_edit_stages, EDITOR)
def reassign_and_delete(stage_id: int):
    """Move every project out of the stage, then delete it (the offer made when deleting was refused)."""
    stage = db.get_or_404(Stage, stage_id)
    name = stage.name
    form = _reassign_form(stage, request.form)

    def move_then_delete() -> int:
        moved = moves.reassign_projects(db.session, current_user, stage.id, form.target_id.data)
        services.delete_stage(db.session, current_user, stage.id)
        return moved

    moved = submit(form, move_then_delete)
    if moved is None:
        return _workflows(status=form.status, blocked_stage=stage, reassign_form=form,
                          blocked_message=form.form_error or "Choose where its projects go.")
    flash(f"Moved {plural(moved, 'project')} and deleted the stage {name}.", "success")
    return _workflows()


# One stage's settings, and the workflow matrix -----------------------------------------------------

def _stage_page(stage: Stage, block: str = "stage_settings", status: int = 200, **context):
    context.setdefault("name_form", NameForm(formdata=None, name=stage.name))
    return htmx.render("stages/edit.html", block=block, status=status, stage=stage, registry=registry,
                       groups=registry.GROUPS, counts=services.project_counts(db.session), **context)


@bp.route("/settings/stages/<int:stage_id>")
@allow(policy.can_edit_stages, EDITOR)
def edit_stage(stage_id: int):
    return _stage_page(db.get_or_404(Stage, stage_id))


@bp.route("/settings/stages/<int:stage_id>/rename", methods=["POST"])
@allow(policy.can_edit_stages, EDITOR)
def rename_stage(stage_id: int):
    stage = db.get_or_404(Stage, stage_id)
    form = NameForm()
    if submit(form, lambda: services.rename_stage(db.session, current_user, stage_id, form.name.data)):
        flash(f"Renamed to {stage.name}.", "success")
    return _stage_page(stage, block="stage_name", status=form.status, name_form=form)


def _workflow_page(engagement_type: EngagementType, block: str = "workflow_matrix", status: int = 200,
                   **context):
    return htmx.render("stages/workflow.html", block=block, status=status, engagement_type=engagement_type,
                       stages=engagement_type.stages, registry=registry, groups=registry.GROUPS,
                       counts=services.project_counts(db.session), **context)


@bp.route("/settings/stages/types/<int:type_id>/workflow")
@allow(policy.can_edit_stages, EDITOR)
def workflow_matrix(type_id: int):
    """Every setting of every stage of one engagement type: a row per setting, a column per stage."""
    return _workflow_page(db.get_or_404(EngagementType, type_id))


@bp.route("/settings/stages/<int:stage_id>/settings/<key>", methods=["POST"])
@allow(policy.can_edit_stages, EDITOR)
def save_setting(stage_id: int, key: str):
    """One setting saves itself when it changes (in the stage editor, or a cell of the workflow matrix).

    The setting comes back with what was saved, or with the typed value and its error (422). `view=matrix`
    asks for the matrix cell and its status line instead of the editor's row.
    """
    stage = db.get_or_404(Stage, stage_id)
    setting = registry.BY_KEY.get(key) or abort(404)
    raw = request.form.get("value")
    changed, error = None, None
    try:
        changed = services.update_stage_settings(db.session, current_user, stage.id, {key: raw})
        db.session.commit()
    except InvalidInput as failure:
        db.session.rollback()
        error = failure.fields.get(key, failure.message)
    context = {"setting": setting, "saved_key": key, "saved_stage_id": stage.id, "raw": raw if error else None,
               "error": error, "changed": changed, "status": 422 if error else 200}
    if request.form.get("view") == "matrix":
        return _workflow_page(stage.engagement_type, block="matrix_cell", oob=["matrix_status"], stage=stage,
                              **context)
    return _stage_page(stage, block="stage_setting", **context)


# The move dialog -------------------------------------------------------------------------------------

def _move_dialog(project: Project, form: MoveForm, status: int = 200):
    targets = moves.allowed_targets(db.session, current_user, project)
    form.stage_id.choices = [("", "Choose…")] + [(s.id, s.name) for s in targets]
    target_stage = next((s for s in targets if s.id == form.stage_id.data), None)
    return render_tab("stages/move.html", project, "overview", block="move_dialog", status=status,
                      form=form, targets=targets, target_stage=target_stage,
                      preview=moves.preview(db.session, project, target_stage) if target_stage else None,
                      provision_choice=provisioning.move_options(db.session, project, target_stage))


@bp.route("/projects/<int:project_id>/move", methods=["GET", "POST"])
@allow(policy.is_internal)
def move_project(project_id: int):
    """GET shows the dialog (again when the target changes); POST moves. Only allowed targets are offered."""
    project = db.get_or_404(Project, project_id)
    policy.refuse(policy.move_refusal(current_user, project))
    if request.method == "GET":
        return _move_dialog(project, MoveForm(request.args, meta={"csrf": False}))
    form = MoveForm()
    form.stage_id.choices = [("", "Choose…")] + [(s.id, s.name) for s in moves.workflow(db.session, project)]
    options = {
        # The provisioning choices of integrations/_move_options.html; "shown" tells an empty choice
        # (every box unticked) from a dialog that offered none.
        "provision_offering_ids": inputs.form_ids("provision_offering_ids"),
        "provision_choice_shown": "provision_choice_shown" in request.form,
    }
    source = project.stage.name
    done = submit(form, lambda: moves.move_project_to_stage(db.session, current_user, project.id,
                                                            form.stage_id.data, options))
    if done is None:
        return _move_dialog(project, form, status=form.status)
    flash(moves.describe(project, source, done), "success")
    return htmx.redirect_to(url_for("projects.overview_tab", project_id=project.id))


# A project's time and cost entry options (Overview tab) ----------------------------------------------

def _tri_state(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


@bp.route("/projects/<int:project_id>/entry-settings/<group>", methods=["POST"])
@allow(policy.is_internal)
def save_entry_settings(project_id: int, group: str):
    project = db.get_or_404(Project, project_id)
    form = request.form
    values = {
        "open_for_time": _tri_state(form.get("open_for_time")),
        "open_for_time_transfer": _tri_state(form.get("open_for_time_transfer")),
        "open_for_cost": _tri_state(form.get("open_for_cost")),
        "open_for_cost_transfer": _tri_state(form.get("open_for_cost_transfer")),
        "time_entry_by": form.get("time_entry_by"),
        "time_descriptions_required": form.get("time_descriptions_required") == "y",
        "cost_entry_by": form.get("cost_entry_by"),
        "cost_category_ids": inputs.form_ids("cost_category_ids"),
    }
    status, error = 200, None
    try:
        changed = entry_settings.update_entry_settings(db.session, current_user, project.id, group, values)
        db.session.commit()
        flash("Saved." if changed else "Nothing changed.", "success")
    except (InvalidInput, Conflict) as failure:
        db.session.rollback()
        status, error = (422 if isinstance(failure, InvalidInput) else 409), failure.message
    return render_tab("projects/overview.html", project, "overview", block="entry_settings", status=status,
                      entry_error=error, **overview_context(db.session, project))
