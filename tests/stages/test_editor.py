"""The stage editor: who may open it, engagement types and their stages, settings that save themselves, and
the workflow matrix (every stage of a type side by side)."""

from __future__ import annotations

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from portal import audit
from portal.auth.models import Permission
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.projects.models import Project
from portal.stages import registry, services
from portal.stages.models import EngagementType, Stage
from tests.factories import ProjectFactory, UserFactory, stage

EDITOR = [Permission.SYSTEM_SETTINGS]


def default_type(session) -> EngagementType:
    return session.scalar(select(EngagementType).where(EngagementType.is_default.is_(True)))


# Who may open and save the editor --------------------------------------------------------------------

ENDPOINTS = [
    ("get", "/settings/stages", None),
    ("get", "/settings/stages/{stage}", None),
    ("post", "/settings/stages/{stage}/settings/open_for_time", {"value": "y"}),
    ("post", "/settings/stages/{stage}/settings/open_for_time", {"value": "y", "view": "matrix"}),
    ("get", "/settings/stages/types/{type}/workflow", None),
    ("post", "/settings/stages/{stage}/rename", {"name": "Renamed"}),
    ("post", "/settings/stages/{stage}/reorder", {"direction": "down"}),
    ("post", "/settings/stages/types", {"name": "Support"}),
    ("post", "/settings/stages/types/{type}/stages", {"name": "Extra"}),
]
USERS = [
    ("staff", [], False), ("pm", [], False), ("admin", [], False), ("client", [], False),
    ("pm", [Permission.MAINTAIN_PROJECTS, Permission.MAINTAIN_ADVANCED_PROJECTS], False),
    ("staff", EDITOR, True), ("admin", EDITOR, True), ("super_admin", [], True),
]


@pytest.mark.parametrize("method,path,data", ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
@pytest.mark.parametrize("role,permissions,may", USERS,
                         ids=[f"{r}{'+' + '+'.join(p) if p else ''}" for r, p, _ in USERS])
def test_only_system_settings_users_open_or_save_the_editor(client, session, login_as, method, path, data, role,
                                                            permissions, may):
    extra = {"client_id": ProjectFactory().client_id} if role == "client" else {}
    login_as(role, permissions=permissions, **extra)
    url = path.format(stage=stage("Planning").id, type=default_type(session).id)
    response = getattr(client, method)(url, data=data, htmx=True)
    if may:
        assert response.status_code in (200, 201), response.get_data(as_text=True)[:500]
    else:
        assert response.status_code == 403
        session.expire_all()
        assert stage("Planning").name == "Planning" and stage("Planning").flag("open_for_time") is False


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get("/settings/stages")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


# Saving settings --------------------------------------------------------------------------------------

def test_a_setting_saves_itself_with_a_confirmation_and_an_audited_before_and_after(client, session, login_as):
    admin = login_as("admin", permissions=EDITOR)
    planning = stage("Planning")
    response = client.post(f"/settings/stages/{planning.id}/settings/open_for_time", data={"value": "y"}, htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert 'id="setting-open_for_time"' in body and "Saved: Open for time off → on." in body
    assert 'id="s-open_for_time"' in body and "checked" in body
    session.expire_all()
    assert planning.flag("open_for_time") is True
    event = audit.history(session, "stages", planning.id)[0]
    assert (event.action, event.before, event.after, event.actor_id, event.summary) == (
        "stage.settings_changed", {"open_for_time": False}, {"open_for_time": True}, admin.id,
        "Planning: Open for time off → on")


def test_an_unticked_box_turns_its_setting_off_and_leaves_the_others_alone(client, session, login_as):
    """Saving one setting never touches another: the old per-group save lost changes made in other groups."""
    login_as("admin", permissions=EDITOR)
    progress = stage("In Progress")
    before = {s.key: progress.flag(s.key) for s in registry.SETTINGS}
    assert before["pm_edit_tasks"] is True
    client.post(f"/settings/stages/{progress.id}/settings/percent_likelihood", data={"value": "90"}, htmx=True)
    client.post(f"/settings/stages/{progress.id}/settings/pm_edit_tasks", data={}, htmx=True)
    session.expire_all()
    after = {s.key: progress.flag(s.key) for s in registry.SETTINGS}
    assert after == {**before, "percent_likelihood": 90, "pm_edit_tasks": False}


def test_saving_an_unchanged_setting_says_so_and_audits_nothing(client, session, login_as):
    login_as("admin", permissions=EDITOR)
    closed = stage("Closed")
    body = client.post(f"/settings/stages/{closed.id}/settings/send_budget_alerts", data={},
                       htmx=True).get_data(True)
    assert "Saved; nothing changed." in body
    assert audit.history(session, "stages", closed.id) == []


@pytest.mark.parametrize("raw", ["101", "-1", "fifty", ""])
def test_likelihood_outside_0_to_100_is_refused_with_the_typed_value_back_and_nothing_changed(client, session,
                                                                                              login_as, raw):
    login_as("admin", permissions=EDITOR)
    planning = stage("Planning")
    response = client.post(f"/settings/stages/{planning.id}/settings/percent_likelihood",
                           data={"value": raw}, htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Percent likelihood must be" in body and f'value="{raw}"' in body and 'aria-invalid="true"' in body
    session.expire_all()
    assert planning.flag("percent_likelihood") == 60
    assert audit.history(session, "stages", planning.id) == []


def test_an_unknown_setting_is_not_found_and_an_unknown_projection_basis_is_refused(client, session, login_as):
    admin = login_as("admin", permissions=EDITOR)
    assert client.post(f"/settings/stages/{stage('Planning').id}/settings/no_such_thing", data={"value": "y"},
                       htmx=True).status_code == 404
    with pytest.raises(InvalidInput, match="choose one of Bookings, Estimates"):
        services.update_stage_settings(session, admin, stage("Planning").id, {"projection_basis": "guesses"})
    with pytest.raises(InvalidInput, match="does not exist"):
        services.update_stage_settings(session, admin, stage("Planning").id, {"no_such_thing": "y"})


def test_the_editor_lists_every_setting_of_every_group_with_its_help(client, login_as):
    login_as("admin", permissions=EDITOR)
    body = client.get(f"/settings/stages/{stage('In Progress').id}").get_data(as_text=True)
    for group, label in registry.GROUPS:
        assert f'id="group-{group}"' in body and label in body
    for setting in registry.SETTINGS:
        assert f'id="setting-{setting.key}"' in body and str(escape(setting.help)) in body
    assert "Save" not in body.replace("save as soon", "").replace("Saving", "")  # no Save buttons to forget


# The workflow matrix ------------------------------------------------------------------------------------

def test_the_matrix_shows_every_setting_of_every_stage_with_its_value(client, session, login_as):
    login_as("admin", permissions=EDITOR)
    workflow = default_type(session)
    body = client.get(f"/settings/stages/types/{workflow.id}/workflow").get_data(as_text=True)
    for each in workflow.stages:
        assert f">{each.name}</a>" in body
        for setting in registry.SETTINGS:
            cell = body[body.index(f'id="m-{each.id}-{setting.key}"'):]
            cell = cell[:cell.index(">")]
            if setting.kind == registry.BOOL:
                assert ("checked" in cell) is bool(each.flag(setting.key)), (each.name, setting.key)
            elif setting.kind == registry.PERCENT:
                assert f'value="{each.flag(setting.key)}"' in cell
    for _, label in registry.GROUPS:
        assert str(escape(label)) in body


def test_a_matrix_cell_saves_itself_and_says_so_above_the_matrix(client, session, login_as):
    admin = login_as("admin", permissions=EDITOR)
    closed = stage("Closed")
    response = client.post(f"/settings/stages/{closed.id}/settings/percent_likelihood",
                           data={"value": "95", "view": "matrix"}, htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<table" not in body
    assert f'id="m-{closed.id}-percent_likelihood"' in body and 'value="95"' in body and "just-saved" in body
    assert 'id="matrix-status"' in body and 'hx-swap-oob="true"' in body
    assert "Saved: Closed · Percent likelihood 100 % → 95 %." in body
    session.expire_all()
    assert closed.flag("percent_likelihood") == 95
    event = audit.history(session, "stages", closed.id)[0]
    assert (event.action, event.after, event.actor_id) == ("stage.settings_changed", {"percent_likelihood": 95},
                                                           admin.id)


def test_a_bad_matrix_cell_keeps_the_typed_value_and_says_why(client, session, login_as):
    login_as("admin", permissions=EDITOR)
    closed = stage("Closed")
    response = client.post(f"/settings/stages/{closed.id}/settings/percent_likelihood",
                           data={"value": "150", "view": "matrix"}, htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="150"' in body and 'aria-invalid="true"' in body and "cell-error" in body
    assert "Closed · Percent likelihood must be between 0 and 100." in body
    session.expire_all()
    assert closed.flag("percent_likelihood") == 100


def test_the_matrix_of_a_second_engagement_type_shows_only_its_own_stages(client, session, login_as):
    admin = login_as("admin", permissions=EDITOR)
    support = services.create_engagement_type(session, admin, "Support")
    services.rename_stage(session, admin, support.stages[0].id, "Triage")
    body = client.get(f"/settings/stages/types/{support.id}/workflow").get_data(as_text=True)
    assert ">Triage</a>" in body and ">Opportunity</a>" not in body
    assert body.count('<th scope="col" class="stage-col">') == len(support.stages)


# Engagement types and stages ---------------------------------------------------------------------------

def test_a_new_engagement_type_starts_with_a_copy_of_the_default_workflow(session):
    admin = UserFactory(role="admin", permissions=EDITOR)
    support = services.create_engagement_type(session, admin, "Support")
    assert [s.name for s in support.stages] == [s.name for s in default_type(session).stages]
    assert support.stages[0].settings == default_type(session).stages[0].settings
    assert not support.is_default


def test_exactly_one_type_is_the_default(session):
    admin = UserFactory(role="admin", permissions=EDITOR)
    support = services.create_engagement_type(session, admin, "Support")
    services.make_default_engagement_type(session, admin, support.id)
    assert session.scalars(select(EngagementType.name).where(EngagementType.is_default.is_(True))).all() == ["Support"]
    with pytest.raises(Conflict, match="default engagement type cannot be deleted"):
        services.delete_engagement_type(session, admin, support.id)


def test_an_engagement_type_in_use_cannot_be_deleted(session):
    admin = UserFactory(role="admin", permissions=EDITOR)
    support = services.create_engagement_type(session, admin, "Support")
    ProjectFactory(stage=support.stages[0])
    session.flush()
    with pytest.raises(Conflict, match="1 project"):
        services.delete_engagement_type(session, admin, support.id)


@pytest.mark.parametrize("name", ["Planning", "planning", " PLANNING "])
def test_duplicate_stage_names_in_a_workflow_are_refused(session, name):
    admin = UserFactory(role="admin", permissions=EDITOR)
    with pytest.raises(Conflict, match="already has a stage named"):
        services.create_stage(session, admin, default_type(session).id, name)
    with pytest.raises(Conflict, match="already has a stage named"):
        services.rename_stage(session, admin, stage("Closed").id, name)


def test_another_workflow_may_reuse_a_stage_name(session):
    admin = UserFactory(role="admin", permissions=EDITOR)
    support = services.create_engagement_type(session, admin, "Support")
    services.create_stage(session, admin, support.id, "Warranty")
    assert services.create_stage(session, admin, default_type(session).id, " Warranty ").name == "Warranty"


def test_duplicate_stage_name_form_comes_back_with_422(client, session, login_as):
    login_as("admin", permissions=EDITOR)
    response = client.post(f"/settings/stages/types/{default_type(session).id}/stages", data={"name": "Closed"},
                           htmx=True)
    assert response.status_code == 422
    assert "already has a stage named Closed" in response.get_data(as_text=True)
    assert len(default_type(session).stages) == 5


def test_a_new_stage_goes_last_with_registry_defaults(session):
    admin = UserFactory(role="admin", permissions=EDITOR)
    new = services.create_stage(session, admin, default_type(session).id, "Warranty")
    assert new.position == 5 and new.settings == registry.defaults()


def test_stages_move_up_and_down_and_the_order_is_audited(session):
    admin = UserFactory(role="admin", permissions=EDITOR)
    services.reorder_stage(session, admin, stage("Closed").id, "up")
    names = [s.name for s in sorted(default_type(session).stages, key=lambda s: s.position)]
    assert names == ["Opportunity", "Planning", "In Progress", "Closed", "Pre-Close"]
    services.reorder_stage(session, admin, stage("Opportunity").id, "up")  # already first: nothing moves
    assert [s.position for s in sorted(default_type(session).stages, key=lambda s: s.position)] == [0, 1, 2, 3, 4]
    event = audit.history(session, "engagement_types", default_type(session).id)[0]
    assert event.after["order"][3] == "Closed"


def test_deleting_a_stage_with_projects_is_refused_and_offers_to_move_them(client, session, login_as):
    login_as("admin", permissions=EDITOR)
    pre_close = stage("Pre-Close")
    project = ProjectFactory(stage=pre_close)
    session.commit()
    response = client.post(f"/settings/stages/{pre_close.id}/delete", htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Pre-Close cannot be deleted while 1 project is in it" in body
    assert f'id="reassign-{pre_close.id}"' in body and "Move them and delete Pre-Close" in body
    assert session.get(Stage, pre_close.id) is not None

    response = client.post(f"/settings/stages/{pre_close.id}/reassign", data={"target_id": stage("Closed").id},
                           htmx=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Stage).where(Stage.name == "Pre-Close")) == 0
    assert session.get(Project, project.id).stage.name == "Closed"
    assert [s.position for s in sorted(default_type(session).stages, key=lambda s: s.position)] == [0, 1, 2, 3]


def test_moving_projects_out_needs_a_target(client, session, login_as):
    login_as("admin", permissions=EDITOR)
    pre_close = stage("Pre-Close")
    ProjectFactory(stage=pre_close)
    session.commit()
    response = client.post(f"/settings/stages/{pre_close.id}/reassign", data={"target_id": ""}, htmx=True)
    assert response.status_code == 422 and "Choose a stage" in response.get_data(as_text=True)
    assert session.get(Stage, pre_close.id) is not None


def test_the_last_stage_of_a_workflow_cannot_be_deleted(session):
    admin = UserFactory(role="admin", permissions=EDITOR)
    support = services.create_engagement_type(session, admin, "Support")
    for extra in support.stages[1:]:
        services.delete_stage(session, admin, extra.id)
    with pytest.raises(Conflict, match="only stage"):
        services.delete_stage(session, admin, support.stages[0].id)


def test_services_refuse_users_without_the_permission(session):
    pm = UserFactory(role="pm", permissions=[Permission.MAINTAIN_PROJECTS])
    with pytest.raises(NotAllowed, match="system-settings permission"):
        services.update_stage_settings(session, pm, stage("Planning").id, {"open_for_time": "y"})


def test_the_readme_says_where_every_setting_takes_effect():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("## Stage settings: where each takes effect"):]
    for setting in registry.SETTINGS:
        assert f"`{setting.key}`" in section, setting.key
        row = next(line for line in section.splitlines() if f"`{setting.key}`" in line)
        assert ("Not used yet" in row) is (not setting.used), setting.key


@pytest.mark.parametrize("url", ["/settings/stages", "/settings/stages/{stage}"])
def test_editor_pages_are_fragments_for_htmx_and_pages_otherwise(client, login_as, url):
    login_as("admin", permissions=EDITOR)
    url = url.format(stage=stage("Closed").id)
    fragment = client.get(url, htmx=True)
    assert "<html" not in fragment.get_data(as_text=True) and "HX-Request" in fragment.headers["Vary"]
    for header in ("HX-History-Restore-Request", "HX-Boosted"):
        page = client.get(url, htmx=True, headers={header: "true"})
        assert "<html" in page.get_data(as_text=True)
    assert "<html" in client.get(url).get_data(as_text=True)
