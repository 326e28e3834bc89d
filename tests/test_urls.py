"""Links built cheaply (portal/urls.py): the layout's fixed links once per app and script root, a page's row
links from one build per route (issue 14: werkzeug's builds were a tenth of the approvals page)."""

from __future__ import annotations

import pytest
from flask import url_for

from portal import urls


def test_a_fixed_link_is_url_for_built_once_per_script_root(app, monkeypatch):
    built = []
    real = urls.url_for
    monkeypatch.setattr(urls, "url_for", lambda *a, **k: built.append(a) or real(*a, **k))
    urls._built.cache_clear()
    for _ in range(3):
        with app.test_request_context("/"):
            assert urls.link("org.audit_log") == url_for("org.audit_log") == "/settings/audit"
            assert urls.link("static", filename="css/portal.css") == "/static/css/portal.css"
    with app.test_request_context("/", base_url="http://localhost/portal/"):  # served under a prefix
        assert urls.link("org.audit_log") == "/portal/settings/audit"
    assert len(built) == 3


def test_a_row_link_is_the_routes_url_with_the_rows_id(app):
    with app.test_request_context("/"):
        detail = urls.url_for_each("timesheets.detail", "timesheet_id")
        remind = urls.url_for_each("approvals.remind", "timesheet_id")
        for ident in (1, 42, 2_147_483_646):
            assert detail(ident) == url_for("timesheets.detail", timesheet_id=ident)
            assert remind(ident) == url_for("approvals.remind", timesheet_id=ident)
        with pytest.raises(ValueError):
            detail("1/../../admin")
