"""A login's `next` sends the browser back to a page of this site, never to another one, whether the login
form was posted by htmx (HX-Redirect) or plainly (a 303), or the user was already logged in."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.factories import TEST_PASSWORD, UserFactory

HOSTILE = ["//evil.example/x", "/\\evil.example", "/\\/evil.example", "\\\\evil.example", "https://evil.example/",
           "/\t/evil.example", "/\n/evil.example", "javascript:alert(1)", "http:/evil.example", " //evil.example",
           "evil.example", "/\r\nSet-Cookie: a=b"]


def target(response) -> str:
    return response.headers.get("HX-Redirect") or response.headers["Location"]


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_login_never_redirects_to_another_site(client, session, htmx, hostile):
    UserFactory(email="ana@example.test")
    url = f"/login?next={quote(hostile, safe='')}"
    response = client.post(url, data={"email": "ana@example.test", "password": TEST_PASSWORD}, htmx=htmx)
    assert response.status_code == (200 if htmx else 303)
    assert target(response) == "/"
    again = client.get(url, htmx=htmx)  # already logged in
    assert target(again) == "/"


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_a_login_returns_to_the_page_of_this_site_it_came_from(client, session, htmx):
    UserFactory(email="ana@example.test")
    response = client.post(f"/login?next={quote('/projects?stage=2&q=ab', safe='')}",
                           data={"email": "ana@example.test", "password": TEST_PASSWORD}, htmx=htmx)
    assert target(response) == "/projects?stage=2&q=ab"


def test_a_page_that_needs_a_login_sends_its_own_path_as_next(client, session):
    login = urlsplit(client.get("/projects?stage=2").headers["Location"])
    assert login.path == "/login" and parse_qs(login.query) == {"next": ["/projects?stage=2"]}
    assert client.get("/projects", htmx=True).headers["HX-Redirect"].startswith("/login?next=")
