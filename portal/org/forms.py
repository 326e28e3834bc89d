from __future__ import annotations

from wtforms import BooleanField, DecimalField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

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
    # Issue 16: reminders for missing and unsubmitted time.
    reminders_enabled = BooleanField("Send weekly reminders for missing and unsubmitted time")
    reminder_weekday = SelectField("Reminder day", coerce=int, choices=options(enumerate(WEEKDAYS)))
    reminder_hour = SelectField("Reminder hour (organization's time zone)", coerce=int,
                                choices=options((h, f"{h:02d}:00") for h in range(24)))
    expected_hours_per_week = DecimalField("Hours expected a week (a person's own setting wins; 0: none)", places=2,
                                           validators=[InputRequired(), NumberRange(0, 168, "Between 0 and 168.")])
    reminder_escalate_days = IntegerField("Tell approvers after this many more days",
                                          validators=[InputRequired(), NumberRange(1, 28, "Between 1 and 28.")])
