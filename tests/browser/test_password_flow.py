"""Someone who forgot their password asks for a link, gets it by email (real SMTP) and logs in again."""

from __future__ import annotations

import re

import pytest

from tests.conftest import browser_login
from tests.factories import UserFactory


@pytest.mark.browser
def test_forgot_password_email_link_new_password_and_log_in(page, committed, run_jobs, mailbox):
    with committed():
        UserFactory(email="ada@example.test", name="Ada Lovelace")

    page.goto("/login")
    page.click("text=Forgot your password?")
    page.fill("input[name=email]", "ada@example.test")
    page.click("button:has-text('Email me a link')")
    page.wait_for_selector("#flash:has-text('If ada@example.test has a login here')")

    run_jobs()  # the worker sends the email
    ((envelope, message),) = mailbox.wait_for(1)
    assert envelope.rcpt_tos == ["ada@example.test"]
    path = re.search(r"http://127\.0\.0\.1:5000(/password/set/\S+)", message.get_content()).group(1)

    page.goto(path)
    page.fill("input[name=password]", "a brand new passphrase")
    page.fill("input[name=confirm]", "a brand new passphrase!")
    page.click("button:has-text('Set password')")
    page.wait_for_selector("text=The two passwords differ.")
    page.fill("input[name=password]", "a brand new passphrase")
    page.fill("input[name=confirm]", "a brand new passphrase")
    page.click("button:has-text('Set password')")
    page.wait_for_selector("#flash:has-text('Your password is set. Log in with it.')")

    browser_login(page, "ada@example.test", "a brand new passphrase")
    assert page.locator("main h1").inner_text() == "Hello, Ada Lovelace"
