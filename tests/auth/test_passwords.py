"""Links to set a password: "Forgot your password?", invitations for new logins, and their limits."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.auth import passwords
from portal.auth.models import LoginAttempt, User
from portal.columns import utcnow
from portal.mail import OutboundEmail
from tests.factories import TEST_PASSWORD, ProjectFactory, UserFactory

NEW_PASSWORD = "a brand new passphrase"


def emails(session) -> list[OutboundEmail]:
    return list(session.scalars(select(OutboundEmail).where(OutboundEmail.category == "password_link")
                                .order_by(OutboundEmail.id)))


def link_path(email: OutboundEmail) -> str:
    """The path of the emailed link (the address is PORTAL_PUBLIC_URL's)."""
    return re.search(r"http://127\.0\.0\.1:5000(/password/set/\S+)", email.body).group(1)


def forgot(client, email):
    return client.post("/password/forgot", data={"email": email})


def set_password(client, path, password=NEW_PASSWORD, confirm=None):
    return client.post(path, data={"password": password, "confirm": confirm or password})


def logs_in(client, email, password) -> bool:
    response = client.post("/login", data={"email": email, "password": password})
    client.post("/logout")
    return response.status_code == 303


def test_a_forgotten_password_is_reset_through_the_emailed_link_once(client, session):
    user = UserFactory(email="ada@example.test", name="Ada")
    session.flush()

    response = forgot(client, " Ada@Example.test ")
    assert response.status_code == 303 and response.location.endswith("/login")
    (email,) = emails(session)
    assert email.recipients == ["ada@example.test"] and email.subject == "Set a new portal password"
    assert "The link works once, for 2 hours." in email.body
    path = link_path(email)

    page = client.get(path)
    assert page.status_code == 200 and "For ada@example.test" in page.get_data(as_text=True)
    assert set_password(client, path).status_code == 303
    assert logs_in(client, "ada@example.test", NEW_PASSWORD)
    assert not logs_in(client, "ada@example.test", TEST_PASSWORD)

    # The link was for the old password: it is spent.
    again = client.get(path)
    assert again.status_code == 410 and "expired or was already used" in again.get_data(as_text=True)
    assert set_password(client, path, "yet another passphrase").location == path  # to the page that says so
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == user.id)).all()
    assert {"user.password_reset_requested", "user.password_set_from_link"} <= set(actions)


@pytest.mark.parametrize("who", ["nobody@example.test", "gone@example.test"])
def test_unknown_and_inactive_emails_get_the_same_answer_and_no_email(client, session, who):
    UserFactory(email="gone@example.test", active=False)
    session.flush()
    response = forgot(client, who)
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert f"If {who} has a login here, a link to set a new password is on its way." in page
    assert emails(session) == []


def test_one_link_per_account_every_few_minutes(client, session):
    UserFactory(email="ada@example.test")
    session.flush()
    forgot(client, "ada@example.test")
    forgot(client, "ada@example.test")
    assert len(emails(session)) == 1
    with time_machine.travel(utcnow() + passwords.RESEND_AFTER + timedelta(seconds=1)):
        forgot(client, "ada@example.test")
    assert len(emails(session)) == 2


def test_a_link_expires_and_a_tampered_one_is_refused(client, session):
    UserFactory(email="ada@example.test")
    session.flush()
    forgot(client, "ada@example.test")
    path = link_path(emails(session)[0])
    with time_machine.travel(utcnow() + passwords.RESET_VALID + timedelta(minutes=1)):
        assert client.get(path).status_code == 410
    # One character of the signature changed (a whole one: the last character of base64 carries unused bits).
    tampered = path[:-10] + ("A" if path[-10] != "A" else "B") + path[-9:]
    assert client.get(tampered).status_code == 410
    assert client.get("/password/set/not-a-token").status_code == 410


def test_a_bad_new_password_is_a_422_and_changes_nothing(client, session):
    user = UserFactory(email="ada@example.test")
    session.flush()
    before = user.password_hash
    forgot(client, "ada@example.test")
    path = link_path(emails(session)[0])

    differs = set_password(client, path, NEW_PASSWORD, "something else entirely")
    assert differs.status_code == 422 and "The two passwords differ." in differs.get_data(as_text=True)
    short = set_password(client, path, "short")
    assert short.status_code == 422
    session.expire_all()
    assert session.get(User, user.id).password_hash == before
    assert client.get(path).status_code == 200  # still usable


def test_setting_a_password_lifts_the_login_throttle(app, client, session):
    UserFactory(email="ada@example.test")
    session.flush()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        client.post("/login", data={"email": "ada@example.test", "password": "wrong"})
    assert client.post("/login", data={"email": "ada@example.test", "password": TEST_PASSWORD}).status_code == 429

    forgot(client, "ada@example.test")
    set_password(client, link_path(emails(session)[0]))
    assert logs_in(client, "ada@example.test", NEW_PASSWORD)
    assert session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.email == "ada@example.test", LoginAttempt.succeeded.is_(False))) == 0


def test_an_admin_creates_a_login_without_a_password_and_it_gets_an_invitation(client, login_as, session):
    admin = login_as("admin")
    response = client.post("/admin/users/new", data={"email": "new@example.test", "name": "Nia", "role": "staff"})
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert "Created new@example.test and emailed them a link to set their password." in page

    (email,) = emails(session)
    assert email.subject == "You have a login on the portal: set your password"
    assert "A login on the portal has been made for you (new@example.test)" in email.body
    assert "The link works once, for 7 days." in email.body
    user = session.scalar(select(User).where(User.email == "new@example.test"))
    invited = session.scalar(select(AuditEvent).where(AuditEvent.action == "user.invited"))
    assert invited.subject_id == user.id and invited.actor_id == admin.id

    client.post("/logout")
    assert set_password(client, link_path(email)).status_code == 303
    assert logs_in(client, "new@example.test", NEW_PASSWORD)


def test_an_admin_sends_a_link_again_but_not_twice_in_a_row(client, login_as, session):
    login_as("admin")
    user = UserFactory(email="locked@example.test")
    session.flush()
    first = client.post(f"/admin/users/{user.id}/invite", htmx=True)
    assert first.status_code == 200 and first.headers["HX-Redirect"] == f"/admin/users/{user.id}"
    second = client.post(f"/admin/users/{user.id}/invite", htmx=True)
    assert second.status_code == 409
    assert "A link went to locked@example.test less than 5 minutes ago." in second.get_data(as_text=True)
    assert len(emails(session)) == 1


def test_only_admins_send_links_and_never_to_inactive_logins(client, login_as, session):
    other = UserFactory(email="other@example.test")
    inactive = UserFactory(email="inactive@example.test", active=False)
    session.flush()
    login_as("pm")
    assert client.post(f"/admin/users/{other.id}/invite").status_code == 403
    client.post("/logout")
    login_as("admin")
    refused = client.post(f"/admin/users/{inactive.id}/invite", htmx=True)
    assert refused.status_code == 422 and "inactive@example.test is inactive" in refused.get_data(as_text=True)
    assert emails(session) == []


def test_a_client_login_made_from_a_workspace_without_a_password_gets_an_invitation(session):
    from portal.workspaces.services import create_client_user

    project = ProjectFactory()
    session.flush()
    user = create_client_user(session, "test", project.id, email="cli@client.test", name="Cli", password=None)
    (email,) = emails(session)
    assert user.role == "client" and email.recipients == ["cli@client.test"]
