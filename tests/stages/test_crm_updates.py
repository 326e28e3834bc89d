"""CRM changes reach a project only in stages that allow CRM updates; otherwise they are recorded as skipped."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from portal import audit
from portal.projects import crm
from tests.factories import ClientFactory, ProjectFactory, stage
from tests.stages.helpers import set_flags


def test_deal_changes_update_the_project_and_its_estimate(session):
    set_flags(stage("Opportunity"), allow_crm_updates=True)
    project = ProjectFactory(stage=stage("Opportunity"), name="Old name")
    session.flush()
    deal = crm.create_deal(session, "crm", name="Old name", client_id=project.client_id, project_id=project.id,
                           amount=Decimal("5000"), start_date=date(2026, 4, 1), end_date=date(2026, 6, 30))
    assert (project.estimate_amount, project.estimate_start, project.estimate_end) == (
        Decimal("5000"), date(2026, 4, 1), date(2026, 6, 30))
    assert project.name == "Old name", "a new deal sets the estimate, not the name"
    crm.update_deal(session, "crm", deal.id, name="New name", amount=Decimal("7000"), start_date=date(2026, 4, 1),
                    end_date=date(2026, 7, 31))
    assert (project.name, project.estimate_amount, project.estimate_end) == ("New name", Decimal("7000"),
                                                                            date(2026, 7, 31))
    event = audit.history(session, "projects", project.id)[0]
    assert event.action == "project.crm_updated" and event.after["name"] == "New name"


def test_a_stage_without_crm_updates_keeps_the_project_and_records_the_skip(client, session, login_as):
    set_flags(stage("In Progress"), allow_crm_updates=False)
    project = ProjectFactory(stage=stage("In Progress"), name="Delivery", estimate_amount=Decimal("100"))
    session.flush()
    deal = crm.create_deal(session, "crm", name="Delivery", client_id=project.client_id, project_id=project.id,
                           amount=Decimal("100"))
    crm.update_deal(session, "crm", deal.id, name="Delivery (renamed in CRM)", amount=Decimal("900"),
                    start_date=None, end_date=None)
    assert (project.name, project.estimate_amount) == ("Delivery", Decimal("100"))
    skipped = audit.history(session, "projects", project.id)[0]
    assert skipped.action == "project.crm_update_skipped"
    assert skipped.after == {"name": "Delivery (renamed in CRM)", "estimate_amount": "900"}
    assert "In Progress does not allow updates from the CRM" in skipped.summary
    # The deal is won, proposing that estimate again: no second line saying the same.
    crm.set_deal_stage(session, "crm", deal.id, "closed_won")
    events = audit.history(session, "projects", project.id)
    assert [e.action for e in events].count("project.crm_update_skipped") == 1
    session.commit()
    login_as("pm")
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "CRM changes not applied" in page and "Delivery (renamed in CRM)" in page


def test_lost_deals_leave_the_estimate(session):
    set_flags(stage("Opportunity"), allow_crm_updates=True)
    project = ProjectFactory(stage=stage("Opportunity"))
    session.flush()
    first = crm.create_deal(session, "crm", name="A", client_id=project.client_id, project_id=project.id,
                            amount=Decimal("1000"))
    crm.create_deal(session, "crm", name="B", client_id=project.client_id, project_id=project.id,
                    amount=Decimal("500"))
    assert project.estimate_amount == Decimal("1500")
    crm.set_deal_stage(session, "crm", first.id, "closed_lost")
    assert project.estimate_amount == Decimal("500")


def test_deals_without_a_project_change_nothing(session):
    deal = crm.create_deal(session, "crm", name="Loose", client_id=ClientFactory().id, amount=Decimal("1"))
    crm.update_deal(session, "crm", deal.id, name="Still loose", amount=Decimal("2"), start_date=None,
                    end_date=None)
    assert deal.project is None
