"""Projects, offerings, assignments, bookings, clients and deals: the rules in the service layer."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.audit import AuditEvent
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.projects import crm, services
from portal.projects.models import Booking, DealStage, Offering
from tests.factories import (
    AssignmentFactory,
    ClientFactory,
    DealFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    UserFactory,
    stage,
)


def creator(**fields):
    return UserFactory(role="pm", permissions=["create_projects"], **fields)


def test_project_is_created_in_a_stage_that_allows_it(session):
    user = creator()
    project = services.create_project(session, user, name=" Data platform ", client_id=ClientFactory().id,
                                      stage_id=stage("Planning").id, pm_id=user.id)
    assert project.name == "Data platform" and project.stage.name == "Planning"
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "project.created"))
    assert event.actor_id == user.id and event.subject_id == project.id


def test_creating_in_a_stage_that_does_not_allow_it_is_refused(session):
    with pytest.raises(NotAllowed, match="cannot be created in the In Progress stage"):
        services.create_project(session, creator(), name="X", client_id=ClientFactory().id,
                                stage_id=stage("In Progress").id)


def test_creating_needs_the_create_projects_permission(session):
    with pytest.raises(NotAllowed, match="create-projects permission"):
        services.create_project(session, UserFactory(role="pm"), name="X", client_id=ClientFactory().id,
                                stage_id=stage("Planning").id)


@pytest.mark.parametrize("values, field", [
    ({"name": "  "}, "name"),
    ({"start_date": date(2026, 5, 2), "end_date": date(2026, 5, 1)}, "end_date"),
    ({"percent_likelihood": 101}, "percent_likelihood"),
])
def test_bad_project_input_names_the_field(session, values, field):
    base = {"name": "X", "client_id": ClientFactory().id, "stage_id": stage("Planning").id}
    with pytest.raises(InvalidInput) as error:
        services.create_project(session, creator(), **{**base, **values})
    assert field in error.value.fields


def test_project_codes_are_unique(session):
    user = creator()
    kwargs = {"client_id": ClientFactory().id, "stage_id": stage("Planning").id, "code": "P-1"}
    services.create_project(session, user, name="A", **kwargs)
    with pytest.raises(Conflict):
        services.create_project(session, user, name="B", **kwargs)


def test_pm_edits_info_only_where_the_stage_allows(session):
    pm = UserFactory(role="pm")
    project = ProjectFactory(pm_id=pm.id, stage=stage("Closed"))
    values = dict(name="Renamed", client_id=project.client_id, code=None, start_date=None, end_date=None,
                  description="", percent_likelihood=None, default_cost_category_id=None)
    with pytest.raises(NotAllowed, match="Closed"):
        services.update_project(session, pm, project.id, **values)
    project.stage = stage("In Progress")
    services.update_project(session, pm, project.id, **values)
    assert project.name == "Renamed"


def test_mpe_edits_any_project_whatever_the_stage(session):
    project = ProjectFactory(stage=stage("Closed"))
    mpe = UserFactory(role="staff", permissions=["maintain_projects"])
    services.update_project(session, mpe, project.id, name="Fixed", client_id=project.client_id, code=None,
                            start_date=None, end_date=None, description="", percent_likelihood=40,
                            default_cost_category_id=None)
    assert (project.name, project.likelihood) == ("Fixed", 40)


def test_update_audits_only_what_changed(session):
    project = ProjectFactory(name="Same")
    services.update_project(session, "test", project.id, name="Same", client_id=project.client_id, code="NEW",
                            start_date=project.start_date, end_date=project.end_date, description="",
                            percent_likelihood=None, default_cost_category_id=None)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "project.updated"))
    assert event.before == {"code": None} and event.after == {"code": "NEW"}


def test_likelihood_follows_the_stage_unless_overridden(session):
    project = ProjectFactory(stage=stage("Opportunity"))
    assert project.likelihood == 25
    project.percent_likelihood = 70
    assert project.likelihood == 70


def test_pm_team_excludes_the_pm_and_is_audited(session):
    pm, other = UserFactory(role="pm"), UserFactory(role="pm")
    project = ProjectFactory()
    services.set_pm_team(session, "test", project.id, pm.id, [pm.id, other.id])
    assert project.pm_team_ids() == {pm.id, other.id}
    assert [m.user_id for m in project.team] == [other.id]


def test_client_users_cannot_be_project_managers(session):
    client_user = UserFactory(role="client", client_id=ClientFactory().id)
    with pytest.raises(InvalidInput):
        services.set_pm_team(session, "test", ProjectFactory().id, client_user.id, [])


@pytest.mark.parametrize("model, fee, ok", [
    ("fixed_bid", None, False), ("retainer", None, False), ("fixed_bid", Decimal("1000"), True),
    ("time_and_materials", None, True), ("internal", None, True), ("time_off", None, True),
])
def test_fixed_bid_and_retainer_need_a_fixed_fee(session, model, fee, ok):
    project = ProjectFactory()
    def create():
        return services.create_offering(session, "test", project.id, name="O", billing_model=model,
                                        sold_hours=Decimal("10"), fixed_fee=fee)
    if ok:
        offering = create()
        assert offering.is_billable == (model in ("fixed_bid", "time_and_materials", "retainer"))
    else:
        with pytest.raises(InvalidInput, match="fixed fee"):
            create()


def test_offering_defaults_planned_to_sold_hours_and_budget_to_the_fee(session):
    offering = services.create_offering(session, "test", ProjectFactory().id, name="Fixed", billing_model="fixed_bid",
                                        sold_hours=Decimal("40"), fixed_fee=Decimal("8000"))
    assert offering.planned_hours == Decimal("40") and offering.budget_amount == Decimal("8000")


def test_negative_hours_are_refused(session):
    with pytest.raises(InvalidInput):
        services.create_offering(session, "test", ProjectFactory().id, name="O", billing_model="internal",
                                 sold_hours=Decimal("-1"))


def test_offering_update_sends_the_changes(session):
    from portal import events

    offering = OfferingFactory()
    seen = []
    with events.offering_updated.connected_to(lambda sender, **kw: seen.append(kw["changes"])):
        services.update_offering(session, "test", offering.id, name="Renamed", sold_hours=Decimal("120"))
    assert seen == [{"name": [seen[0]["name"][0], "Renamed"], "sold_hours": ["100", "120"]}]


def test_assignment_rules(session):
    offering = OfferingFactory()
    person = ResourceFactory()
    assignment = services.add_assignment(session, "test", offering.id, person.id, bill_rate=Decimal("150"))
    with pytest.raises(Conflict, match="already on"):
        services.add_assignment(session, "test", offering.id, person.id)
    with pytest.raises(InvalidInput):
        services.update_assignment(session, "test", assignment.id, bill_rate=Decimal("-5"),
                                   planned_hours=Decimal("0"), role="")


def test_pm_without_the_edit_rates_right_cannot_set_a_rate(session):
    pm = UserFactory(role="pm")
    project = ProjectFactory(pm_id=pm.id, stage=stage("Opportunity"))  # PMs may create roles, not edit rates
    offering = OfferingFactory(project=project)
    services.add_assignment(session, pm, offering.id, ResourceFactory().id)
    with pytest.raises(NotAllowed, match="Rates"):
        services.add_assignment(session, pm, offering.id, ResourceFactory().id, bill_rate=Decimal("100"))


def test_passive_assignment_is_created_once(session):
    offering, person = OfferingFactory(), ResourceFactory()
    first = services.ensure_passive_assignment(session, "toggl sync", offering.id, person.id)
    again = services.ensure_passive_assignment(session, "toggl sync", offering.id, person.id)
    assert first.id == again.id and first.passive


def test_removing_an_assignment_is_audited(session):
    assignment = AssignmentFactory()
    services.remove_assignment(session, "test", assignment.id)
    assert session.scalar(select(AuditEvent.action).where(AuditEvent.action == "assignment.removed"))


def test_weekly_bookings_sit_on_the_first_day_of_the_week(session):
    project, person = ProjectFactory(), ResourceFactory()
    booking = services.set_booking(session, "test", project.id, person.id, mode="week", on=date(2026, 11, 26),
                                   hours=Decimal("20"), first_weekday=0)
    assert booking.on == date(2026, 11, 23)  # Thursday -> Monday
    sunday_weeks = services.set_booking(session, "test", project.id, person.id, mode="week",
                                        on=date(2026, 11, 26), hours=Decimal("10"), first_weekday=6)
    assert sunday_weeks.on == date(2026, 11, 22)


def test_booking_zero_hours_removes_it(session):
    project, person = ProjectFactory(), ResourceFactory()
    services.set_booking(session, "test", project.id, person.id, mode="day", on=date(2026, 1, 5), hours=Decimal("8"))
    assert services.set_booking(session, "test", project.id, person.id, mode="day", on=date(2026, 1, 5),
                                hours=Decimal("0")) is None
    assert session.scalar(select(Booking)) is None


@pytest.mark.parametrize("mode, hours", [("day", "25"), ("week", "169"), ("day", "-1")])
def test_absurd_booking_hours_are_refused(session, mode, hours):
    with pytest.raises(InvalidInput):
        services.set_booking(session, "test", ProjectFactory().id, ResourceFactory().id, mode=mode,
                             on=date(2026, 1, 5), hours=Decimal(hours))


def test_home_shows_bookings_only_of_stages_that_display_them(session):
    person = ResourceFactory()
    shown = ProjectFactory(stage=stage("In Progress"))
    hidden = ProjectFactory(stage=stage("Opportunity"))  # display booked roles is off there
    for project in (shown, hidden):
        services.set_booking(session, "test", project.id, person.id, mode="day", on=date(2026, 3, 4),
                             hours=Decimal("4"))
    bookings = services.bookings_for(session, person.id, date(2026, 3, 2), date(2026, 3, 15))
    assert [b.project_id for b in bookings] == [shown.id]


def test_project_list_hides_closed_projects_unless_asked(session):
    user = UserFactory(role="staff")
    open_project = ProjectFactory(name="Alpha")
    closed = ProjectFactory(name="Beta", stage=stage("Closed"))
    names = lambda **kw: [p.name for p in services.list_projects(session, user, **kw)[0]]  # noqa: E731
    assert open_project.name in names() and closed.name not in names()
    assert closed.name in names(include_closed=True)


def test_project_list_pages_by_keyset(session):
    user = UserFactory(role="staff")
    for i in range(7):
        ProjectFactory(name=f"Keyset {i:02d}")
    ProjectFactory(name="Keyset 03")  # a twin name: the id breaks the tie
    seen, cursor = [], None
    while True:
        page, cursor = services.list_projects(session, user, search="Keyset", after=cursor, limit=3)
        seen += [(p.name, p.id) for p in page]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == 8


def test_a_broken_page_cursor_is_a_clear_error(session):
    with pytest.raises(InvalidInput, match="page link"):
        services.list_projects(session, UserFactory(), after="!!not-a-cursor")


def test_client_duplicates_share_a_normalized_name(session):
    a = crm.create_client(session, "test", "Acme Inc")
    b = crm.create_client(session, "test", "ACME, Inc.")
    crm.create_client(session, "test", "Acme Rockets")
    assert crm.normalize_client_name("The Acme Company Ltd") == "acme"
    assert [[c.id for c in group] for group in crm.duplicate_groups(session)] == [[a.id, b.id]]
    assert crm.similar_clients(session, a) == [b]


def test_closed_won_makes_the_project_active_and_its_offerings_sold(session):
    project = ProjectFactory(is_active=False, stage=stage("Planning"))
    deal = DealFactory(client=project.client, project_id=project.id)
    mine = OfferingFactory(project=project, deal_id=deal.id, sale_status="pre_sale")
    unattached = OfferingFactory(project=project, sale_status="pre_sale")
    other_deal = DealFactory(client=project.client, project_id=project.id)
    theirs = OfferingFactory(project=project, deal_id=other_deal.id, sale_status="pre_sale")
    crm.set_deal_stage(session, "crm", deal.id, DealStage.CLOSED_WON)
    assert project.is_active
    assert (mine.sale_status, unattached.sale_status, theirs.sale_status) == ("sold", "sold", "pre_sale")
    actions = set(session.scalars(select(AuditEvent.action)))
    assert {"deal.stage_changed", "project.activated", "offering.sold"} <= actions


def test_deal_update_sends_what_changed_for_the_stage_to_decide(session):
    from portal import events

    deal = DealFactory(project_id=ProjectFactory().id, amount=Decimal("100"))
    seen = []
    with events.deal_updated.connected_to(lambda sender, **kw: seen.append(kw["changes"])):
        crm.update_deal(session, "crm", deal.id, name=deal.name, amount=Decimal("250"), start_date=None,
                        end_date=None)
    assert seen == [{"amount": ["100", "250"]}]


def test_offering_of_another_project_cannot_be_booked(session):
    with pytest.raises(InvalidInput, match="another project"):
        services.set_booking(session, "test", ProjectFactory().id, ResourceFactory().id, mode="day",
                             on=date(2026, 1, 5), hours=Decimal("1"), offering_id=OfferingFactory().id)


def test_offerings_are_listed_in_creation_order(session):
    project = ProjectFactory()
    ids = [OfferingFactory(project=project).id for _ in range(3)]
    session.expire_all()
    assert [o.id for o in session.scalars(select(Offering).where(Offering.project_id == project.id)
                                          .order_by(Offering.id))] == ids
