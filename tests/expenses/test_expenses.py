"""Expenses: people report their own costs where the stage and the project take them; PMs move and adjust them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal import audit
from portal.errors import InvalidInput, NotAllowed
from portal.expenses import services
from portal.expenses.models import Expense
from portal.projects import entry_settings
from tests.factories import (
    AssignmentFactory,
    CostCategoryFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    UserFactory,
    stage,
)
from tests.stages.helpers import set_flags

DAY = date(2026, 3, 3)


@pytest.fixture
def person(session):
    user = UserFactory(role="staff")
    resource = ResourceFactory(user_id=user.id)
    category = CostCategoryFactory(name="Travel")
    session.flush()
    return user, resource, category


def spend(session, person, project, **values):
    user, resource, category = person
    return services.add_expense(session, values.pop("actor", user), resource_id=resource.id, project_id=project.id,
                                spent_on=DAY, amount=values.pop("amount", "42.50"),
                                cost_category_id=values.pop("cost_category_id", category.id),
                                description=values.pop("description", "Train to the client"), **values)


def count(session):
    return session.scalar(select(func.count()).select_from(Expense))


def test_a_person_reports_a_cost_and_it_is_audited(session, person):
    project = ProjectFactory()
    session.flush()
    expense = spend(session, person, project)
    assert (expense.amount, expense.project_id, expense.cost_category.name) == (Decimal("42.50"), project.id, "Travel")
    assert audit.history(session, "expenses", expense.id)[0].after["amount"] == "42.5"


@pytest.mark.parametrize("stage_name,message", [
    ("Closed", "is closed (Closed); costs cannot be reported to it."),
    ("Planning", "is in Planning, which is not open for cost."),
])
def test_stages_that_do_not_take_costs_refuse_them(session, person, stage_name, message):
    project = ProjectFactory(stage=stage(stage_name))
    session.flush()
    with pytest.raises(NotAllowed, match=message.replace("(", r"\(").replace(")", r"\)")):
        spend(session, person, project)
    assert count(session) == 0


def test_only_ones_own_costs(session, person):
    project = ProjectFactory()
    session.flush()
    with pytest.raises(NotAllowed, match="only for yourself"):
        spend(session, person, project, actor=UserFactory(role="staff"))
    assert spend(session, person, project, actor=UserFactory(role="admin")).amount == Decimal("42.50")


def test_assigned_only_projects_and_their_cost_categories(session, person):
    _, resource, travel = person
    meals = CostCategoryFactory(name="Meals")
    project = ProjectFactory(stage=stage("In Progress"))
    session.flush()
    entry_settings.update_entry_settings(session, "test", project.id, "cost_entry",
                                         {"cost_entry_by": "assigned", "cost_category_ids": [meals.id]})
    with pytest.raises(NotAllowed, match="Only people assigned to"):
        spend(session, person, project, cost_category_id=meals.id)
    AssignmentFactory(offering=OfferingFactory(project=project), resource=resource)
    session.flush()
    with pytest.raises(NotAllowed, match="does not take expenses in that cost category"):
        spend(session, person, project, cost_category_id=travel.id)
    assert spend(session, person, project, cost_category_id=meals.id).cost_category_id == meals.id


@pytest.mark.parametrize("amount,field", [("0", "amount"), ("-3", "amount"), ("lots", "amount")])
def test_bad_amounts_are_field_errors(session, person, amount, field):
    project = ProjectFactory()
    session.flush()
    with pytest.raises(InvalidInput) as refused:
        spend(session, person, project, amount=amount)
    assert field in refused.value.fields


def test_a_description_and_a_category_are_needed(session, person):
    project = ProjectFactory()
    session.flush()
    with pytest.raises(InvalidInput, match="Say what the expense was for"):
        spend(session, person, project, description=" ")
    with pytest.raises(InvalidInput, match="Choose a cost category"):
        spend(session, person, project, cost_category_id=None)


def test_pms_transfer_costs_to_projects_they_manage_that_take_cost_transfers(session, person):
    pm = UserFactory(role="pm")
    source, target = ProjectFactory(pm=pm, name="Source"), ProjectFactory(pm=pm, name="Target")
    set_flags(stage("In Progress"), pm_transfer_cost=True, open_for_cost_transfer=True)
    session.flush()
    expense = spend(session, person, source)
    (moved,) = services.transfer_expenses(session, pm, [expense.id], target.id)
    assert moved.project_id == target.id
    assert audit.history(session, "expenses", expense.id)[0].action == "expense.transferred"
    target.stage = stage("Pre-Close")
    session.flush()
    with pytest.raises(NotAllowed, match="Target is not open for cost transfers"):
        services.transfer_expenses(session, pm, [spend(session, person, source).id], target.id)


def test_adjusting_a_cost_needs_the_adjust_right(session, person):
    pm = UserFactory(role="pm")
    project = ProjectFactory(pm=pm)
    set_flags(stage("In Progress"), pm_adjust_time_cost=False)
    session.flush()
    expense = spend(session, person, project)
    with pytest.raises(NotAllowed, match="cannot adjust costs"):
        services.adjust_expense(session, pm, expense.id, amount="40", cost_category_id=expense.cost_category_id,
                                task_id=None, billable=False)
    set_flags(stage("In Progress"), pm_adjust_time_cost=True)
    session.flush()
    services.adjust_expense(session, pm, expense.id, amount="40", cost_category_id=expense.cost_category_id,
                            task_id=None, billable=False)
    assert (expense.amount, expense.billable) == (Decimal("40.00"), False)


def test_my_expenses_page_records_a_cost_and_shows_errors_with_422(client, session, login_as):
    user = login_as("staff")
    resource = ResourceFactory(user_id=user.id)
    category = CostCategoryFactory(name="Hotel")
    project = ProjectFactory(name="Open project")
    ProjectFactory(name="Closed project", stage=stage("Closed"))
    session.commit()
    page = client.get("/expenses").get_data(as_text=True)
    assert f'/lookup/cost_projects?resource={resource.id}' in page
    offered = client.get(f"/lookup/cost_projects?resource={resource.id}", htmx=True).get_data(as_text=True)
    assert 'data-label="Open project"' in offered and "Closed project" not in offered
    bad = client.post("/expenses", data={"project_id": project.id, "spent_on": "2026-03-03", "amount": "",
                                         "cost_category_id": category.id, "description": "Hotel"}, htmx=True)
    assert bad.status_code == 422 and "Enter the amount." in bad.get_data(as_text=True)
    good = client.post("/expenses", data={"project_id": project.id, "spent_on": "2026-03-03", "amount": "120",
                                          "cost_category_id": category.id, "description": "Hotel"}, htmx=True)
    assert good.status_code == 200 and good.headers["HX-Redirect"].endswith("/expenses")
    assert session.scalar(select(Expense.amount).where(Expense.resource_id == resource.id)) == Decimal("120.00")
