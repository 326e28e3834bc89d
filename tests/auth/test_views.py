"""Logging in and out, throttling, the admins' user pages, CSRF and the htmx-aware login redirect."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.auth.models import LoginAttempt, User
from tests.factories import TEST_PASSWORD, UserFactory


def login(client, email, password=TEST_PASSWORD, **kwargs):
    return client.post("/login", data={"email": email, "password": password}, **kwargs)


def test_login_with_the_right_password_goes_home(client, session):
    UserFactory(email="ana@example.test")
    response = login(client, "ANA@example.test ")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_login_keeps_a_same_site_next_and_drops_another_site(client, session):
    UserFactory(email="ana@example.test")
    assert client.post("/login?next=/projects", data={"email": "ana@example.test", "password": TEST_PASSWORD}
                       ).headers["Location"] == "/projects"
    client.post("/logout")
    assert client.post("/login?next=//evil.example/x", data={"email": "ana@example.test", "password": TEST_PASSWORD}
                       ).headers["Location"] == "/"


def test_wrong_password_is_a_422_with_one_message_for_both_causes(client, session):
    UserFactory(email="ana@example.test")
    wrong = login(client, "ana@example.test", "nope")
    unknown = login(client, "who@example.test", "nope")
    assert wrong.status_code == unknown.status_code == 422
    assert b"Unknown email or wrong password." in wrong.data and b"Unknown email or wrong password." in unknown.data


def test_inactive_user_cannot_log_in(client, session):
    UserFactory(email="gone@example.test", active=False)
    assert login(client, "gone@example.test").status_code == 422


def test_repeated_failures_throttle_even_the_right_password(app, client, session):
    UserFactory(email="ana@example.test")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(client, "ana@example.test", "wrong").status_code == 422
    throttled = login(client, "ana@example.test")
    assert throttled.status_code == 429
    assert b"Too many failed logins" in throttled.data
    assert client.get("/projects").headers["Location"].startswith("/login")  # still logged out


def test_success_clears_earlier_failures(app, client, session):
    UserFactory(email="ana@example.test")
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        login(client, "ana@example.test", "wrong")
    assert login(client, "ana@example.test").status_code == 303
    failures = session.scalar(select(func.count()).select_from(LoginAttempt)
                              .where(LoginAttempt.succeeded.is_(False)))
    assert failures == 0


def test_logout_needs_post_and_a_csrf_token(client, login_as):
    login_as("staff")
    assert client.post("/logout", csrf=False).status_code == 400
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 303
    assert client.get("/").headers["Location"].startswith("/login")


def test_a_form_without_its_csrf_token_is_refused_with_a_clear_message(client, login_as):
    login_as("admin", permissions=["maintain_projects"])
    response = client.post("/clients", data={"name": "Sneaky"}, csrf=False)
    assert response.status_code == 400
    assert b"security token" in response.data


def test_htmx_request_with_a_wrong_csrf_token_gets_the_message_in_the_flash_area(client, login_as):
    login_as("admin", permissions=["maintain_projects"])
    response = client.post("/clients", data={"name": "Sneaky"}, csrf=False, htmx=True,
                           headers={"X-CSRFToken": "forged"})
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#flash"
    assert b"<html" not in response.data


def test_an_expired_session_on_an_htmx_request_redirects_the_whole_page(client, session):
    response = client.get("/projects", htmx=True)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login?next=")


def test_admin_creates_a_user_and_it_is_audited(client, login_as, session):
    admin = login_as("admin")
    response = client.post("/admin/users/new", data={
        "email": "New.Person@Example.test", "name": "New Person", "role": "pm", "password": "long enough pw",
        "permissions": ["create_projects", "schedule_resources"]})
    assert response.status_code == 303
    user = session.scalar(select(User).where(User.email == "new.person@example.test"))
    assert user.role == "pm" and user.permissions == {"create_projects", "schedule_resources"}
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "user.created"))
    assert event.actor_id == admin.id and "password_hash" not in event.after


def test_user_form_errors_are_a_422_and_nothing_is_saved(client, login_as, session):
    login_as("admin")
    UserFactory(email="taken@example.test")
    count = session.scalar(select(func.count()).select_from(User))
    short = client.post("/admin/users/new", data={"email": "x@example.test", "name": "X", "role": "staff",
                                                   "password": "short"}, htmx=True)
    taken = client.post("/admin/users/new", data={"email": "taken@example.test", "name": "X", "role": "staff",
                                                   "password": "long enough pw"}, htmx=True)
    assert short.status_code == taken.status_code == 422
    assert b"Already in use" in taken.data
    assert session.scalar(select(func.count()).select_from(User)) == count


def test_only_a_super_admin_grants_super_admin(client, login_as, session):
    login_as("admin")
    response = client.post("/admin/users/new", data={"email": "boss@example.test", "name": "Boss",
                                                      "role": "super_admin", "password": "long enough pw"})
    assert response.status_code == 403
    assert session.scalar(select(User).where(User.email == "boss@example.test")) is None


def test_admin_cannot_deactivate_themselves(client, login_as):
    admin = login_as("admin")
    response = client.post(f"/admin/users/{admin.id}", data={"name": admin.name, "role": "admin"})
    assert response.status_code == 403


def test_editing_a_user_changes_role_and_permissions(client, login_as, session):
    login_as("admin")
    user = UserFactory(role="staff")
    response = client.post(f"/admin/users/{user.id}", data={"name": "Renamed", "role": "approver", "active": "y",
                                                             "permissions": ["request_resources"]})
    assert response.status_code == 303
    session.refresh(user)
    assert (user.name, user.role, user.permissions) == ("Renamed", "approver", {"request_resources"})


@pytest.mark.parametrize("role", ["staff", "approver", "pm", "client"])
def test_only_admins_see_user_pages(client, login_as, role):
    login_as(role)
    assert client.get("/admin/users").status_code == 403


def test_cli_creates_a_user(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--email", "cli@example.test", "--role", "admin",
                                 "--permission", "system_settings", "--password", "long enough pw"])
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.email == "cli@example.test"))
    assert user.role == "admin" and user.permissions == {"system_settings"}


def test_cli_refuses_a_short_password_clearly(app, session):
    result = app.test_cli_runner().invoke(args=["users", "create", "--email", "c@example.test", "--role", "staff",
                                                "--password", "short"])
    assert result.exit_code != 0 and "at least 10 characters" in result.output


@pytest.mark.parametrize(("role", "permissions", "expected"), [
    ("staff", [], []),
    ("pm", ["system_settings"], ["Stages"]),
    ("admin", [], ["Organization settings", "Integrations", "Users", "Audit log"]),
    ("admin", ["system_settings"], ["Organization settings", "Stages", "Integrations", "Users", "Audit log"]),
])
def test_the_admin_menu_lists_only_the_pages_the_user_may_open(client, login_as, role, permissions, expected):
    login_as(role, permissions=permissions)
    page = client.get("/").get_data(as_text=True)
    nav = page[page.index('<nav class="mainnav"'):page.index("</nav>")]
    if not expected:
        assert "<summary>Admin</summary>" not in nav
        return
    menu = nav[nav.index("<summary>Admin</summary>"):]
    assert [label for label in ["Organization settings", "Stages", "Integrations", "Users", "Audit log"]
            if f">{label}</a>" in menu] == expected
