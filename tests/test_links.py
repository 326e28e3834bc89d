"""portal.links.url_for_each: the rows of a page link as url_for would, for a fraction of its cost."""

from __future__ import annotations

from flask import url_for

from portal.links import url_for_each


def test_each_rows_link_is_the_one_url_for_builds(app):
    with app.test_request_context("/approvals", base_url="https://portal.example/app"):
        detail_of = url_for_each("timesheets.detail", "timesheet_id")
        week_of = url_for_each("timesheets.sheet_week", "timesheet_id")
        for ident in (1, 42, 2_147_483_646, "7"):
            assert detail_of(ident) == url_for("timesheets.detail", timesheet_id=ident)
            assert week_of(ident) == url_for("timesheets.sheet_week", timesheet_id=ident)
        assert detail_of(5) == "/app/timesheets/5"  # under the application's root


def test_a_marker_it_cannot_stand_for_falls_back_to_url_for(app):
    """Another argument holding the marker's digits: the row's id is not put in its place."""
    with app.test_request_context("/"):
        each = url_for_each("timesheets.detail", "timesheet_id", note="2147483647")
        assert each(9) == url_for("timesheets.detail", timesheet_id=9, note="2147483647")
