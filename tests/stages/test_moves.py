"""Moving projects between stages: the three tiers, the dialog, and what entering a stage does."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from jinja2 import ChoiceLoader, DictLoader

from portal import audit, events
from portal.auth.models import Permission
from portal.errors import InvalidInput, NotAllowed
from portal.org.services import get_settings
from portal.projects import services as projects
from portal.projects.models import Booking
from portal.stages import moves
from tests.factories import BookingFactory, OfferingFactory, ProjectFactory, UserFactory, stage
from tests.stages.helpers import on_day, set_flags

TIER_FLAGS = ("pm_move_from", "pm_move_to", "mpe_move_from", "mpe_move_to", "maeps_move_from", "maeps_move_to")


def clear_tier_flags(*stages):
    for each in stages:
        set_flags(each, **{flag: False for flag in TIER_FLAGS})


def mover(tier, project):
    if tier == "pm":
        return project.pm
    permission = Permission.MAINTAIN_PROJECTS if tier == "mpe" else Permission.MAINTAIN_ADVANCED_PROJECTS
    return UserFactory(role="staff", permissions=[permission])


# The three tiers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("tier", ["pm", "mpe", "maeps"])
@pytest.mark.parametrize("move_from,move_to", [(True, True), (True, False), (False, True), (False, False)])
def test_each_tier_needs_move_from_on_the_current_stage_and_move_to_on_the_target(session, tier, move_from,
                                                                                  move_to):
    source, target = stage("Planning"), stage("In Progress")
    clear_tier_flags(source, target)
    set_flags(source, **{f"{tier}_move_from": move_from})
    set_flags(target, **{f"{tier}_move_to": move_to})
    project = ProjectFactory(stage=source, pm=UserFactory(role="pm"))
    session.flush()
    user = mover(tier, project)
    if move_from and move_to:
        moves.move_project_to_stage(session, user, project.id, target.id)
        assert project.stage_id == target.id
    else:
        with pytest.raises(NotAllowed, match="You cannot move"):
            moves.move_project_to_stage(session, user, project.id, target.id)
        assert project.stage_id == source.id


@pytest.mark.parametrize("tier", ["pm", "mpe", "maeps"])
def test_one_tiers_flags_do_not_open_the_move_to_another_tier(session, tier):
    source, target = stage("Planning"), stage("In Progress")
    clear_tier_flags(source, target)
    others = [t for t in ("pm", "mpe", "maeps") if t != tier]
    for other in others:
        set_flags(source, **{f"{other}_move_from": True})
        set_flags(target, **{f"{other}_move_to": True})
    project = ProjectFactory(stage=source, pm=UserFactory(role="pm"))
    session.flush()
    assert not moves.allowed_targets(session, mover(tier, project), project)


def test_a_pm_of_another_project_is_no_mover(session):
    project = ProjectFactory(stage=stage("Planning"), pm=UserFactory(role="pm"))
    session.flush()
    assert moves.allowed_targets(session, UserFactory(role="pm"), project) == []


def test_a_user_in_two_tiers_may_use_either(session):
    source, target = stage("Planning"), stage("Pre-Close")
    clear_tier_flags(*(stage(name) for name in ("Opportunity", "Planning", "In Progress", "Pre-Close", "Closed")))
    set_flags(source, maeps_move_from=True)
    set_flags(target, maeps_move_to=True)
    pm = UserFactory(role="pm", permissions=[Permission.MAINTAIN_ADVANCED_PROJECTS])
    project = ProjectFactory(stage=source, pm=pm)
    session.flush()
    assert [s.name for s in moves.allowed_targets(session, pm, project)] == ["Pre-Close"]


def test_moves_stay_inside_the_projects_workflow(session):
    from portal.stages.services import create_engagement_type

    support = create_engagement_type(session, "test", "Support")
    project = ProjectFactory(stage=stage("Planning"), pm=UserFactory(role="pm"))
    session.flush()
    with pytest.raises(InvalidInput, match="this project's workflow"):
        moves.move_project_to_stage(session, "test", project.id, support.stages[2].id)
    with pytest.raises(InvalidInput, match="already in Planning"):
        moves.move_project_to_stage(session, "test", project.id, project.stage_id)


def test_a_move_is_audited_and_tells_other_domains_with_the_dialogs_options(session):
    received = []

    def listener(sender, **kwargs):
        received.append((sender, kwargs))

    project = ProjectFactory(stage=stage("Planning"), pm=UserFactory(role="pm"))
    session.flush()
    options = {"provision_offering_ids": [3], "provision_choice_shown": True}
    with events.project_stage_changed.connected_to(listener):
        moves.move_project_to_stage(session, project.pm, project.id, stage("In Progress").id, options)
    ((sender, kwargs),) = received
    assert sender is project
    assert (kwargs["from_stage"].name, kwargs["to_stage"].name) == ("Planning", "In Progress")
    assert kwargs["options"] == options and kwargs["actor"] is project.pm and kwargs["session"] is session
    event = audit.history(session, "projects", project.id)[0]
    assert (event.action, event.before, event.after) == ("project.stage_changed", {"stage": "Planning"},
                                                         {"stage": "In Progress"})


# Entering a closed stage: end date and future hours --------------------------------------------------

FRIDAY, SATURDAY, SUNDAY, MONDAY = date(2026, 3, 6), date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)


def close_project(session, project, today, clear=True):
    set_flags(stage("Closed"), clear_future_hours=clear)
    with on_day(today):
        return moves.move_project_to_stage(session, "test", project.id, stage("Closed").id)


def booked(session, project):
    return sorted((b.mode, b.on) for b in session.query(Booking).filter_by(project_id=project.id))


@pytest.fixture
def project_with_bookings(session):
    """Bookings around the week of Mon 2 – Sun 8 March 2026 (weeks start on Monday)."""
    project = ProjectFactory(stage=stage("Pre-Close"), start_date=date(2026, 1, 5), end_date=date(2026, 6, 30))
    for day in (FRIDAY, SATURDAY, SUNDAY, MONDAY):
        BookingFactory(project=project, resource__email=f"day{day}@x.test", mode="day", on=day, hours=Decimal("4"))
    for week in (date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)):
        BookingFactory(project=project, resource__email=f"week{week}@x.test", mode="week", on=week,
                       hours=Decimal("20"))
    session.flush()
    return project


@pytest.mark.parametrize("today,left", [
    # Daily bookings go from tomorrow on; weekly ones from next week on (this week's hours could be any day).
    (FRIDAY, [("day", FRIDAY), ("week", date(2026, 3, 2))]),
    (SATURDAY, [("day", FRIDAY), ("day", SATURDAY), ("week", date(2026, 3, 2))]),
    (SUNDAY, [("day", FRIDAY), ("day", SATURDAY), ("day", SUNDAY), ("week", date(2026, 3, 2))]),
    (MONDAY, [("day", FRIDAY), ("day", SATURDAY), ("day", SUNDAY), ("day", MONDAY), ("week", date(2026, 3, 2)),
              ("week", date(2026, 3, 9))]),
])
def test_clearing_future_hours_around_a_week_boundary(session, project_with_bookings, today, left):
    done = close_project(session, project_with_bookings, today)
    assert booked(session, project_with_bookings) == left
    assert done["bookings_cleared"] == 7 - len(left)
    assert project_with_bookings.end_date == today, "nothing is booked after today any more"


def test_with_a_sunday_week_start_the_weeks_shift(session, project_with_bookings):
    get_settings(session).week_start = 6  # Sunday
    weekly = session.query(Booking).filter_by(project_id=project_with_bookings.id, mode="week").all()
    for booking in weekly:  # weekly bookings are kept on their week's first day
        booking.on -= timedelta(days=1)
    session.flush()
    close_project(session, project_with_bookings, SATURDAY)  # the week of Sun 1 – Sat 7 March
    assert ("week", date(2026, 3, 1)) in booked(session, project_with_bookings)
    assert ("week", date(2026, 3, 8)) not in booked(session, project_with_bookings)


def test_without_clearing_the_end_date_is_the_last_booked_day(session, project_with_bookings):
    done = close_project(session, project_with_bookings, FRIDAY, clear=False)
    assert "bookings_cleared" not in done
    assert len(booked(session, project_with_bookings)) == 7
    assert project_with_bookings.end_date == date(2026, 3, 22), "the last day of the last booked week"


def test_without_clearing_a_later_daily_booking_sets_the_end_date(session):
    project = ProjectFactory(stage=stage("Pre-Close"), start_date=date(2026, 1, 5))
    BookingFactory(project=project, on=date(2026, 4, 15))
    BookingFactory(project=project, on=date(2026, 2, 1))
    session.flush()
    close_project(session, project, FRIDAY, clear=False)
    assert project.end_date == date(2026, 4, 15)


def test_the_end_date_is_never_before_the_start(session):
    project = ProjectFactory(stage=stage("Pre-Close"), start_date=date(2026, 5, 1), end_date=date(2026, 6, 1))
    session.flush()
    close_project(session, project, FRIDAY)
    assert project.end_date == date(2026, 5, 1)


def test_closing_is_audited_and_stops_time_and_hides_the_project(session, project_with_bookings):
    close_project(session, project_with_bookings, FRIDAY)
    actions = [e.action for e in audit.history(session, "projects", project_with_bookings.id)]
    assert {"project.stage_changed", "project.end_date_set", "booking.future_cleared"} <= set(actions)
    cleared = next(e for e in audit.history(session, "projects", project_with_bookings.id)
                   if e.action == "booking.future_cleared")
    assert len(cleared.before["bookings"]) == 5
    listed, _ = projects.list_projects(session, UserFactory(role="admin"))
    assert project_with_bookings not in listed
    shown, _ = projects.list_projects(session, UserFactory(role="admin"), include_closed=True)
    assert project_with_bookings in shown


def test_the_preview_says_what_a_move_will_do_and_changes_nothing(session, project_with_bookings):
    with on_day(FRIDAY):
        preview = moves.preview(session, project_with_bookings, stage("Closed"))
    assert preview["closes"] and preview["end_date"] == FRIDAY and preview["bookings_to_clear"] == 5
    assert not preview["open_for_time"] and preview["notify_pm_team"]
    assert len(booked(session, project_with_bookings)) == 7


# The move dialog ---------------------------------------------------------------------------------------

@pytest.fixture
def pm_login(client, session):
    pm = UserFactory(role="pm")
    project = ProjectFactory(stage=stage("Planning"), pm=pm)
    OfferingFactory(project=project)
    session.commit()
    client.login(pm)
    return pm, project


def test_the_dialog_offers_only_allowed_targets(client, session, pm_login):
    pm, project = pm_login
    set_flags(stage("Pre-Close"), pm_move_to=False)
    session.commit()
    body = client.get(f"/projects/{project.id}/move", htmx=True).get_data(as_text=True)
    assert "<html" not in body
    offered = [s.name for s in moves.allowed_targets(session, pm, project)]
    assert offered == ["Opportunity", "In Progress"]
    for name in ("Opportunity", "In Progress"):
        assert f">{name}</option>" in body
    for name in ("Pre-Close", "Closed", "Planning"):
        assert f">{name}</option>" not in body


def test_choosing_a_target_re_renders_the_dialog_with_what_the_move_does(client, session, pm_login):
    _, project = pm_login
    set_flags(stage("Closed"), pm_move_to=True)
    session.commit()
    body = client.get(f"/projects/{project.id}/move?stage_id={stage('Closed').id}", htmx=True).get_data(True)
    assert 'id="move-dialog"' in body and "Closed closes projects" in body and "Move to Closed" in body


def test_moving_to_a_forbidden_stage_is_refused_with_a_message(client, session, pm_login):
    _, project = pm_login
    response = client.post(f"/projects/{project.id}/move", data={"stage_id": stage("Closed").id}, htmx=True)
    assert response.status_code == 403
    assert "You cannot move" in response.get_data(as_text=True)
    session.expire_all()
    assert project.stage.name == "Planning"


def test_a_move_without_a_target_comes_back_422(client, pm_login):
    _, project = pm_login
    response = client.post(f"/projects/{project.id}/move", data={"stage_id": ""}, htmx=True)
    assert response.status_code == 422 and "Choose a stage" in response.get_data(as_text=True)


def test_users_who_may_not_move_it_out_get_no_dialog(client, session, login_as):
    project = ProjectFactory(stage=stage("Closed"))
    session.commit()
    login_as("pm")
    assert client.get(f"/projects/{project.id}/move").status_code == 403


MOVE_OPTIONS = """{% if target_stage and target_stage.is_in_progress %}
{% for o in project.offerings %}
<input type="checkbox" name="provision_offering_ids" value="{{ o.id }}" checked>
{% endfor %}
{% endif %}"""


@pytest.fixture
def move_options_partial(app):
    """The timesheet tools' part of the dialog (another domain writes it): offerings when entering In Progress."""
    original = app.jinja_env.loader
    app.jinja_env.loader = ChoiceLoader([DictLoader({"integrations/_move_options.html": MOVE_OPTIONS}), original])
    app.jinja_env.cache.clear()
    yield
    app.jinja_env.loader = original
    app.jinja_env.cache.clear()


@pytest.mark.parametrize("in_progress", [True, False])
def test_in_progress_targets_show_the_provisioning_choice(client, session, pm_login, move_options_partial,
                                                          in_progress):
    """Seed 004 portal setting "In Progress": entering such a stage offers to provision timesheets."""
    _, project = pm_login
    set_flags(stage("In Progress"), in_progress=in_progress)
    session.commit()
    body = client.get(f"/projects/{project.id}/move?stage_id={stage('In Progress').id}", htmx=True).get_data(True)
    shown = 'name="provision_offering_ids"' in body
    assert shown is in_progress
    assert ('name="provision_choice_shown"' in body) is in_progress


@pytest.mark.parametrize("form,expected", [
    ({"provision_offering_ids": ["OFFERING"], "provision_choice_shown": "1"}, ("OFFERING", True)),
    ({"provision_choice_shown": "1"}, (None, True)),
    ({}, (None, False)),
])
def test_the_move_passes_the_provisioning_choice_on(client, session, pm_login, form, expected):
    _, project = pm_login
    offering_id = project.offerings[0].id
    received = []
    data = {"stage_id": stage("In Progress").id, **form}
    if "provision_offering_ids" in data:
        data["provision_offering_ids"] = [offering_id]
    with events.project_stage_changed.connected_to(lambda sender, **kw: received.append(kw["options"])):
        response = client.post(f"/projects/{project.id}/move", data=data, htmx=True)
    assert response.status_code == 200 and response.headers["HX-Redirect"].endswith(f"/projects/{project.id}")
    ids = [offering_id] if expected[0] else []
    assert received == [{"provision_offering_ids": ids, "provision_choice_shown": expected[1]}]


@pytest.mark.parametrize("in_progress", [True, False])
def test_sold_offerings_of_in_progress_projects_show_a_green_dot(client, session, pm_login, in_progress):
    _, project = pm_login
    project.stage = stage("In Progress")
    set_flags(stage("In Progress"), in_progress=in_progress)
    session.commit()
    body = client.get(f"/projects/{project.id}/offerings").get_data(as_text=True)
    assert ('class="dot dot-green"' in body) is in_progress
