"""Moving time or costs between projects is one rule for both kinds (portal/auth/policy.py): the target's
stage takes transfers of the kind, a PM moves onto projects they manage only, and off a project whose stage
gives them the right; system actors are held to the stages only."""

from __future__ import annotations

import pytest

from portal.auth import policy
from tests.factories import ProjectFactory, UserFactory, stage
from tests.stages.helpers import set_flags


@pytest.fixture
def projects(session):
    pm = UserFactory(role="pm")
    source, target = ProjectFactory(pm=pm, name="Source"), ProjectFactory(pm=pm, name="Target")
    foreign = ProjectFactory(name="Foreign")
    set_flags(stage("In Progress"), open_for_time_transfer=True, open_for_cost_transfer=True, pm_transfer_time=True,
              pm_transfer_cost=True, pm_adjust_time_cost=False)
    session.flush()
    return pm, source, target, foreign


@pytest.mark.parametrize(("kind", "moved"), [("time", "time"), ("cost", "costs")])
def test_onto_a_project_the_pm_manages_whose_stage_takes_the_kind(session, projects, kind, moved):
    pm, _, target, foreign = projects
    assert policy.transfer_onto_refusal(pm, target, kind) is None
    assert policy.transfer_onto_refusal(pm, foreign, kind) == \
        f"You can transfer {moved} only to projects you manage; Foreign is not one."
    assert policy.transfer_onto_refusal("toggl sync", foreign, kind) is None  # a system actor: the stage only
    set_flags(stage("In Progress"), **{f"open_for_{kind}_transfer": False})
    session.flush()
    for actor in (pm, "toggl sync"):
        assert policy.transfer_onto_refusal(actor, target, kind) == \
            f"Target is not open for {kind} transfers (In Progress)."


@pytest.mark.parametrize(("kind", "moved"), [("time", "time"), ("cost", "costs")])
def test_off_a_project_whose_stage_gives_the_pm_the_right(session, projects, kind, moved):
    pm, source, _, _ = projects
    assert policy.transfer_off_refusal(pm, source, kind) is None
    set_flags(stage("In Progress"), **{f"pm_transfer_{kind}": False})
    session.flush()
    assert policy.transfer_off_refusal(pm, source, kind) == \
        f"You cannot transfer {moved} off Source while it is in In Progress."
    assert policy.transfer_off_refusal("demo data", source, kind) is None
