"""An admin connects to Procore; a time card made in Procore (the sandbox's own page) appears in the
portal; a failed one shows in the activity panel with its reason and is retried."""

from __future__ import annotations

import pytest

from portal.integrations.procore.demo import CLIENT_ID as DEMO_CLIENT_ID
from portal.integrations.procore.demo import CLIENT_SECRET as DEMO_CLIENT_SECRET
from portal.integrations.procore.demo import COMPANY_ID as DEMO_COMPANY_ID
from portal.integrations.procore.demo import COMPANY_NAME as DEMO_COMPANY_NAME
from tests.conftest import browser_login, pick
from tests.factories import OfferingFactory, UserFactory
from tests.integrations.procore.conftest import PEOPLE, sandbox  # noqa: F401  (the fixture)


@pytest.mark.browser
def test_connect_receive_and_retry_a_failed_time_card(app, page, live_server, committed, run_jobs, monkeypatch,
                                                      sandbox):  # noqa: F811
    monkeypatch.setitem(app.config, "PORTAL_PUBLIC_URL", live_server)
    with committed():
        UserFactory(email="admin@example.test", role="admin", permissions=["system_settings"])
        OfferingFactory(name="Fit-out works", project__name="Riverside refurbishment")
    browser_login(page, "admin@example.test")
    page.click("nav summary:has-text('Admin')")
    page.click("nav >> text=Integrations")
    page.click("tr:has-text('Procore') >> text=Settings")
    page.fill("input[name=company_id]", str(DEMO_COMPANY_ID))
    page.fill("input[name=company_name]", DEMO_COMPANY_NAME)
    page.fill("input[name=client_id]", DEMO_CLIENT_ID)
    page.fill("input[name=client_secret]", DEMO_CLIENT_SECRET)
    page.click("text=Connect to Procore")
    page.wait_for_selector("#procore-page .run")  # the connect run's progress, polling
    run_jobs()
    page.wait_for_selector("text=Connected to Procore company")
    assert len(sandbox.state.hooks) == 1

    page.select_option("select[name=external_project_id]", label="RF-101 - Riverside Office Fit-out")
    pick(page.locator("#procore-links"), "Portal offering", "Fit-out", "Riverside refurbishment · Fit-out works")
    page.click("#procore-links button:has-text('Link')")
    page.wait_for_selector("#procore-links td:has-text('Riverside Office Fit-out')")

    procore = page.context.new_page()  # someone adds a time card in Procore
    procore.goto(sandbox.url)
    procore.select_option("select[name=party_id]", label="Dana Developer")
    procore.fill("input[name=date]", "2026-03-03")
    procore.fill("input[name=hours]", "7.5")
    procore.click("text=Add time card")
    procore.wait_for_selector("text=created.")
    sandbox.deliver()
    run_jobs()
    arrived = "Created: 7.50 h for Dana Developer on Riverside refurbishment / Fit-out works"
    page.wait_for_selector(f"#procore-processed td:has-text('{arrived}')")

    procore.select_option("select[name=party_id]", label="Riley Apprentice")  # no email in Procore
    procore.click("text=Add time card")
    procore.wait_for_selector("text=created.")
    sandbox.deliver()
    run_jobs()
    failed = page.wait_for_selector("#procore-failed tr:has-text('Riley Apprentice has no email address')")

    sandbox.state.people[PEOPLE["riley"]]["email"] = "riley@example.test"  # fixed in Procore's Directory
    failed.query_selector("button:has-text('Retry')").click()
    page.wait_for_selector("#procore-pending td:has-text('Retry requested')")
    run_jobs()
    page.wait_for_selector("#procore-processed td:has-text('Created: 8.00 h for Riley Apprentice')")
    assert page.query_selector("#procore-failed") is None
