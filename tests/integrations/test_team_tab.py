"""The Team tab (issue 15 item 19): an aligned grid, the fixed-bid effective rate where a bill rate would be, a
person picker without the people already on the offering, and a note of what a change sent to the timesheet
tool, or why nothing was sent."""

from __future__ import annotations

from decimal import Decimal

from portal.org.services import get_settings
from tests.factories import AssignmentFactory, OfferingFactory, ProjectFactory, ResourceFactory
from tests.integrations.test_provisioning import provision


def _section(body: str, offering) -> str:
    return body.split(f"<h3>{offering.name} ")[1].split("<h3>")[0]


def test_fixed_bids_show_their_effective_rate_and_the_picker_leaves_out_who_is_on_it(client, session, admin):
    project = ProjectFactory()
    fixed = OfferingFactory(project=project, name="Fixed", billing_model="fixed_bid", fixed_fee=Decimal("10000"),
                            sold_hours=Decimal("80"))
    other = OfferingFactory(project=project, name="Hourly")
    dana = ResourceFactory(name="Dana")
    ResourceFactory(name="Lee")
    AssignmentFactory(offering=fixed, resource=dana, bill_rate=Decimal("999"))
    session.flush()
    client.login(admin)
    body = client.get(f"/projects/{project.id}/team").get_data(as_text=True)
    fixed_part, other_part = _section(body, fixed), _section(body, other)
    assert "Effective rate / h" in fixed_part and "125.00" in fixed_part and "999.00<" not in fixed_part
    assert 'name="bill_rate" class="narrow' not in fixed_part and "Bill rate / h" in other_part
    # The pickers are searchable selects whose options leave out who is on the offering already.
    assert f"/lookup/people?not_on={fixed.id}" in fixed_part and f"/lookup/people?not_on={other.id}" in other_part
    picker = client.get(f"/lookup/people?not_on={fixed.id}", htmx=True).get_data(as_text=True)
    assert "Dana" not in picker and "Lee" in picker
    assert "Dana" in client.get(f"/lookup/people?not_on={other.id}", htmx=True).get_data(as_text=True)
    assert f'aria-label="Role of Dana on {fixed.name}"' in fixed_part  # every field of the grid is named
    refused = client.post(f"/offerings/{fixed.id}/assignments", htmx=True,
                          data={"resource_id": dana.id, "planned_hours": "0"})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and f'id="resource-{fixed.id}" value="{dana.id}"' in body


def test_a_change_on_an_unlinked_offering_says_nothing_was_sent(client, session, admin):
    offering = OfferingFactory(name="Build")
    session.flush()
    client.login(admin)
    response = client.post(f"/offerings/{offering.id}/assignments", htmx=True,
                           data={"resource_id": ResourceFactory().id, "planned_hours": "10"})
    note = response.get_data(as_text=True).split('id="team-note"')[1].split("</div>")[0]
    assert response.status_code == 200 and "Not sent to a timesheet tool: Build is not linked to one." in note


def test_a_change_on_a_linked_offering_says_what_went_to_toggl_and_why_not(client, session, tool, admin, run_jobs):
    get_settings(session).assignment_level_budgeting = False
    offering = tool.offering(people={"ana@example.test": "150"}, name="Platform build")
    provision(session, run_jobs, tool, offering, admin)
    client.login(admin)
    ben = ResourceFactory(email="ben@example.test", name="Ben")
    session.commit()
    added = client.post(f"/offerings/{offering.id}/assignments", htmx=True,
                        data={"resource_id": ben.id, "planned_hours": "10", "bill_rate": "120"})
    note = added.get_data(as_text=True).split('id="team-note"')[1]
    assert "Sent to the Toggl project Platform build: its people" in note and "sync-run-" in note
    run_jobs()
    assert "ben@example.test" in tool.sandbox.team(tool.link(session, offering).external_id)

    assignment = next(a for a in offering.assignments if a.resource_id == ben.id)
    rate = client.post(f"/assignments/{assignment.id}", htmx=True,
                       data={"resource_id": ben.id, "role": "", "planned_hours": "10", "bill_rate": "130"})
    assert "Not sent to Toggl: with Assignment Level Budgeting off, rates stay in the portal." in \
        rate.get_data(as_text=True)
    role = client.post(f"/assignments/{assignment.id}", htmx=True,
                       data={"resource_id": ben.id, "role": "Lead", "planned_hours": "10", "bill_rate": "130"})
    assert "timesheet tools take who is on a project and their rates, not roles or planned hours" in \
        role.get_data(as_text=True)
    same = client.post(f"/assignments/{assignment.id}", htmx=True,
                       data={"resource_id": ben.id, "role": "Lead", "planned_hours": "10", "bill_rate": "130"})
    assert "Nothing changed, so nothing was sent" in same.get_data(as_text=True)
