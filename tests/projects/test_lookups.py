"""Searchable selects: /lookup/<kind> answers a page of matches; LookupField takes only what names a record."""

from __future__ import annotations

import pytest

from portal import lookups
from portal.lookups import LookupField
from tests.factories import (
    ClientFactory,
    OfferingFactory,
    ProjectFactory,
    ResourceFactory,
    UserFactory,
    stage,
)


def _options(client, url: str) -> list[str]:
    body = client.get(url, htmx=True).get_data(as_text=True)
    return [part.split('data-label="')[1].split('"')[0] for part in body.split("<li")[1:] if "data-label" in part]


def test_a_lookup_answers_one_page_of_matches_and_says_when_more_match(client, login_as, session):
    login_as("staff")
    for n in range(lookups.LIMIT + 5):
        ClientFactory(name=f"Acme {n:02d}")
    ClientFactory(name="Globex")
    session.flush()
    response = client.get("/lookup/clients?q=acme", htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert body.count('role="option"') == lookups.LIMIT and "More match" in body and "Globex" not in body
    assert _options(client, "/lookup/clients?q=ACME 2") == ["Acme 20", "Acme 21", "Acme 22", "Acme 23", "Acme 24"]
    assert "No client matches" in client.get("/lookup/clients?q=initech", htmx=True).get_data(as_text=True)


def test_wildcards_typed_in_a_lookup_match_themselves(client, login_as, session):
    login_as("staff")
    ClientFactory(name="100% Juice")
    ClientFactory(name="Juicy_Fruit")
    ClientFactory(name="Juice bar")
    session.flush()
    assert _options(client, "/lookup/clients?q=%25") == ["100% Juice"]
    assert _options(client, "/lookup/clients?q=y_F") == ["Juicy_Fruit"]


def test_tasks_follow_the_chosen_offerings_project(client, login_as, session):
    from portal.planning.models import ProjectTask

    login_as("staff")
    offering = OfferingFactory()
    session.add_all([ProjectTask(project_id=offering.project_id, name="Design"),
                     ProjectTask(project_id=offering.project_id, name="Closed one", active=False),
                     ProjectTask(project_id=ProjectFactory().id, name="Elsewhere")])
    session.flush()
    assert _options(client, f"/lookup/tasks?offering={offering.id}") == ["Design"]
    assert _options(client, f"/lookup/tasks?project={offering.project_id}") == ["Design"]
    assert _options(client, "/lookup/tasks") == []


def test_people_and_users_match_by_name_or_email(client, login_as, session):
    login_as("staff")
    ResourceFactory(name="Ada Lovelace", email="ada@example.test")
    ResourceFactory(name="Gone Person", email="gone@example.test", active=False)
    UserFactory(name="Grace Hopper", email="grace@example.test", role="pm")
    UserFactory(name="Client Person", email="client@example.test", role="client")
    session.flush()
    assert _options(client, "/lookup/people?q=ada@") == ["Ada Lovelace"]
    assert _options(client, "/lookup/people?q=gone") == []
    assert _options(client, "/lookup/people?q=gone&inactive=1") == ["Gone Person"]
    assert _options(client, "/lookup/users?q=grace") == ["Grace Hopper"]
    assert _options(client, "/lookup/users?q=client") == []


def test_projects_match_by_name_or_code_and_open_ones_on_request(client, login_as, session):
    login_as("staff")
    ProjectFactory(name="Harbour bridge", code="HB-1")
    ProjectFactory(name="Harbour tunnel", stage=stage("Closed"))
    session.flush()
    assert _options(client, "/lookup/projects?q=hb-") == ["Harbour bridge"]
    assert _options(client, "/lookup/projects?q=harbour") == ["Harbour bridge", "Harbour tunnel"]
    assert _options(client, "/lookup/projects?q=harbour&open=1") == ["Harbour bridge"]


def test_lookups_are_for_signed_in_staff(client, login_as):
    assert client.get("/lookup/clients").status_code == 303  # to the login page
    login_as("client")
    assert client.get("/lookup/clients").status_code == 403
    login_as("staff")
    assert client.get("/lookup/nonsense").status_code == 404


@pytest.mark.parametrize("value, error", [
    ("", "Choose a client."), ("999999", "Not one we know"), ("abc", "Choose a client."),
    ("99999999999999999999", "Choose a client."),
])
def test_a_lookup_field_refuses_what_names_no_record(app, session, value, error):
    from werkzeug.datastructures import MultiDict
    from wtforms.validators import DataRequired

    from portal.forms import PortalForm

    class Form(PortalForm):
        client_id = LookupField("Client", kind="clients", validators=[DataRequired(message="Choose a client.")])

    with app.test_request_context(method="POST"):
        form = Form(formdata=MultiDict({"client_id": value}), meta={"csrf": False})
        form.client_id.resolve(session)
        assert not form.validate()
        assert any(error in message for message in form.client_id.errors), form.client_id.errors
        known = ClientFactory(name="Acme")
        session.flush()
        form = Form(formdata=MultiDict({"client_id": str(known.id)}), meta={"csrf": False})
        form.client_id.resolve(session)
        assert form.validate() and form.client_id.chosen == "Acme"
