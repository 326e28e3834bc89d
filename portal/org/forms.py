from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import PortalForm, options
from portal.projects.forms import optional_int

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class OrgSettingsForm(PortalForm):
    name = StringField("Organization name", validators=[DataRequired(), Length(max=200)])
    assignment_level_budgeting = BooleanField("Assignment Level Budgeting (send per-person rates to timesheet tools)")
    timesheet_hours_source = SelectField("Timesheet Hours Source", choices=options([
        ("sold", "Sold hours"), ("current", "Current planned hours")]))
    finance_sync_enabled = BooleanField("Allow Timesheet to Finance Sync (approved hours become actuals)")
    finance_rate_type = SelectField("Rate Type", choices=options([("cost", "Cost rate"), ("sell", "Sell rate")]))
    default_cost_category_id = SelectField("Default Cost Category", coerce=optional_int, validators=[Optional()])
    week_start = SelectField("Timesheet week starts on", coerce=int, choices=options(enumerate(WEEKDAYS)))
