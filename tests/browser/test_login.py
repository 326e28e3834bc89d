import pytest

from tests.conftest import browser_login
from tests.factories import UserFactory


@pytest.mark.browser
def test_login_and_open_projects(page, committed):
    with committed():
        UserFactory(email="pm@example.test", role="pm")
    browser_login(page, "pm@example.test")
    page.click("text=Projects")
    page.wait_for_selector("h1:has-text('Projects')")
