"""The layout's navigation is page context (portal/layout.py), handed over by the full-page render: no
template global or context processor reads the database, so fragments and emails never pay for it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal import layout
from portal.columns import today
from portal.timesheets import standins
from tests.factories import ClientFactory, UserFactory

APPROVALS_LINK = 'href="/approvals">Approvals</a>'


@pytest.fixture
def nav_calls(monkeypatch):
    calls = []
    real = layout.nav

    def counting(session, user):
        calls.append(user.id if user.is_authenticated else None)
        return real(session, user)

    monkeypatch.setattr(layout, "nav", counting)
    return calls


@pytest.mark.parametrize(("role", "offered"), [("staff", False), ("approver", True), ("pm", True),
                                                ("admin", True), ("super_admin", True)])
def test_the_nav_offers_approvals_to_approving_roles(client, login_as, role, offered):
    login_as(role)
    assert (APPROVALS_LINK in client.get("/").get_data(as_text=True)) is offered


def test_the_nav_offers_approvals_to_whoever_stands_in_today(client, login_as, session):
    approver = UserFactory(role="approver")
    deputy = login_as("staff")
    session.flush()
    standins.name_stand_in(session, approver, approver_email=approver.email, stand_in_email=deputy.email,
                           starts_on=today(), ends_on=today() + timedelta(days=2), note="")
    session.flush()
    assert APPROVALS_LINK in client.get("/my-time").get_data(as_text=True)


def test_only_whole_pages_ask_for_the_nav(client, login_as, nav_calls):
    user = login_as("staff")
    assert client.get("/approvals").status_code == 200
    assert nav_calls == [user.id]
    assert client.get("/approvals", htmx=True).status_code == 200  # the queue's fragment
    assert client.get("/timesheets/999999", htmx=True).status_code == 404  # an error fragment
    assert nav_calls == [user.id]
    assert client.get("/timesheets/999999").status_code == 404  # an error page has the layout
    assert nav_calls == [user.id, user.id]


def test_an_email_never_asks_for_the_nav(session, nav_calls):
    approver, deputy = UserFactory(role="approver"), UserFactory(role="staff")
    session.flush()
    standins.name_stand_in(session, approver, approver_email=approver.email, stand_in_email=deputy.email,
                           starts_on=today(), ends_on=today() + timedelta(days=2), note="")  # emails the stand-in
    assert nav_calls == []


def test_templates_get_no_context_from_the_portal_but_the_frameworks(app):
    """What a page shows comes from its view; the only context processors are Flask's, Flask-WTF's (csrf_token)
    and Flask-Login's (current_user)."""
    modules = {processor.__module__ for processors in app.template_context_processors.values()
               for processor in processors}
    assert modules == {"flask.templating", "flask_wtf.csrf", "flask_login.utils"}


@pytest.mark.parametrize(("role", "offered"), [("client", True), ("staff", False), ("admin", False)])
def test_the_nav_offers_workspaces_to_client_users(client, login_as, role, offered):
    login_as(role, client_id=ClientFactory().id if role == "client" else None)
    assert ('href="/workspace">Workspaces</a>' in client.get("/").get_data(as_text=True)) is offered
