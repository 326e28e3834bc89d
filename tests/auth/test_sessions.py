"""What ends a session (a password change or reset ends all of them, remember-me cookies too; so does
deactivating the login), and who manages super-admins (only super-admins; the last active one stays)."""

from __future__ import annotations

from sqlalchemy import select

from portal.audit import AuditEvent
from portal.auth import passwords
from portal.auth.models import User
from tests.factories import TEST_PASSWORD, UserFactory

NEW_PASSWORD = "a brand new passphrase"


def signed_in(client) -> bool:
    return client.get("/projects").status_code == 200


def remembered_client(app, cookie: str):
    """A browser that kept only the remember-me cookie (its session cookie is gone)."""
    fresh = app.test_client()
    fresh.set_cookie("remember_token", cookie)
    return fresh


def sign_in_remembered(app, email: str):
    browser = app.test_client()
    response = browser.post("/login", data={"email": email, "password": TEST_PASSWORD, "remember": "y"})
    assert response.status_code == 303
    return browser, browser.get_cookie("remember_token").value


def test_a_password_reset_ends_every_session_and_remember_me_cookie(app, client, session):
    user = UserFactory(email="ana@example.test")
    laptop, cookie = sign_in_remembered(app, "ana@example.test")
    phone, _ = sign_in_remembered(app, "ana@example.test")
    assert signed_in(laptop) and signed_in(phone) and signed_in(remembered_client(app, cookie))

    path = f"/password/set/{passwords.make_token(user, passwords.RESET_VALID)}"
    assert client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 303

    assert not signed_in(laptop) and not signed_in(phone)
    assert not signed_in(remembered_client(app, cookie))
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "user.password_set_from_link"))
    assert "sessions and remember-me cookies ended" in event.summary


def test_an_admin_setting_a_password_ends_that_users_sessions_not_the_admins(app, client, login_as, session):
    UserFactory(email="ana@example.test", name="Ana")
    laptop, cookie = sign_in_remembered(app, "ana@example.test")
    login_as("admin")
    ana = session.scalar(select(User).where(User.email == "ana@example.test"))

    response = client.post(f"/admin/users/{ana.id}", data={"name": "Ana", "role": "staff", "active": "y",
                                                            "password": NEW_PASSWORD})
    assert response.status_code == 303
    assert not signed_in(laptop) and not signed_in(remembered_client(app, cookie))
    assert signed_in(client)  # the admin's own session goes on


def test_changing_your_own_password_keeps_you_signed_in_here_only(app, client, session):
    UserFactory(email="boss@example.test", role="admin", name="Boss")
    elsewhere, cookie = sign_in_remembered(app, "boss@example.test")
    assert client.post("/login", data={"email": "boss@example.test", "password": TEST_PASSWORD}).status_code == 303
    boss = session.scalar(select(User).where(User.email == "boss@example.test"))

    response = client.post(f"/admin/users/{boss.id}", data={"name": "Boss", "role": "admin", "active": "y",
                                                             "password": NEW_PASSWORD})
    assert response.status_code == 303
    assert signed_in(client)
    assert not signed_in(elsewhere) and not signed_in(remembered_client(app, cookie))


def test_deactivating_a_login_ends_its_sessions_and_remember_me_cookies(app, client, login_as, session):
    UserFactory(email="ana@example.test", name="Ana")
    laptop, cookie = sign_in_remembered(app, "ana@example.test")
    assert signed_in(laptop) and signed_in(remembered_client(app, cookie))
    login_as("admin")
    ana = session.scalar(select(User).where(User.email == "ana@example.test"))
    assert client.post(f"/admin/users/{ana.id}", data={"name": "Ana", "role": "staff"}).status_code == 303
    assert not signed_in(laptop) and not signed_in(remembered_client(app, cookie))


def test_an_admin_cannot_take_over_or_lock_out_a_super_admin(client, login_as, session):
    login_as("admin")
    boss = UserFactory(role="super_admin", email="boss@example.test", name="Boss")
    UserFactory(role="super_admin")
    before = boss.password_hash

    takeover = client.post(f"/admin/users/{boss.id}", data={"name": "Boss", "role": "super_admin", "active": "y",
                                                             "password": NEW_PASSWORD})
    lockout = client.post(f"/admin/users/{boss.id}", data={"name": "Boss", "role": "super_admin"})
    demotion = client.post(f"/admin/users/{boss.id}", data={"name": "Boss", "role": "staff", "active": "y"})
    link = client.post(f"/admin/users/{boss.id}/invite")

    assert [r.status_code for r in (takeover, lockout, demotion, link)] == [403, 403, 403, 403]
    session.refresh(boss)
    assert boss.password_hash == before and boss.active and boss.role == "super_admin"
    assert "Only a super-admin can change" in client.get(f"/admin/users/{boss.id}").get_data(as_text=True)


def test_a_super_admin_manages_super_admins_but_never_the_last_active_one(client, login_as, session):
    me = login_as("super_admin")
    other = UserFactory(role="super_admin", name="Other")

    assert client.post(f"/admin/users/{other.id}", data={"name": "Other", "role": "admin", "active": "y"}
                       ).status_code == 303
    session.refresh(other)
    assert other.role == "admin"
    # Now `me` is the last active super-admin: nobody can demote or deactivate them, not even themselves.
    demote_self = client.post(f"/admin/users/{me.id}", data={"name": me.name, "role": "admin", "active": "y"},
                              htmx=True)
    assert demote_self.status_code == 422 and "last active super-admin" in demote_self.get_data(as_text=True)
    session.refresh(me)
    assert me.role == "super_admin" and me.active
