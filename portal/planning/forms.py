from __future__ import annotations

from wtforms import BooleanField, DateField, DecimalField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.columns import MAX_HOURS
from portal.forms import PortalForm
from portal.lookups import LookupField
from portal.projects.forms import optional_int


class TaskTypeForm(PortalForm):
    name = StringField("Task type", validators=[DataRequired(message="Enter a name."), Length(max=120)])
    active = BooleanField("Active", default=True)


class TaskForm(PortalForm):
    name = StringField("Task", validators=[DataRequired(message="Enter a name."), Length(max=200)])
    task_type_id = SelectField("Type", coerce=optional_int, validators=[Optional()])
    planned_hours = DecimalField("Planned hours", places=2, default=0,
                                 validators=[Optional(), NumberRange(0, MAX_HOURS)])
    start_date = DateField("Start", validators=[Optional()])
    end_date = DateField("End", validators=[Optional()])
    active = BooleanField("Open for time and costs", default=True)


class BaselineForm(PortalForm):
    name = StringField("Baseline name", validators=[DataRequired(message="Name the baseline."), Length(max=120)])


class BaselineLineForm(PortalForm):
    planned_hours = DecimalField("Planned hours", places=2, validators=[InputRequired(message="Enter hours."),
                                                                       NumberRange(0, MAX_HOURS)])
    budget_amount = DecimalField("Budget", places=2, validators=[Optional(), NumberRange(0, 1_000_000_000)])


class RequestForm(PortalForm):
    resource_id = LookupField("Person (if you have someone in mind)", kind="people", validators=[Optional()])
    role = StringField("Role needed", validators=[Optional(), Length(max=120)])
    offering_id = SelectField("Offering", coerce=optional_int, validators=[Optional()])
    hours = DecimalField("Hours", places=2, validators=[InputRequired(message="Enter hours."),
                                                       NumberRange(0.01, MAX_HOURS)])
    start_date = DateField("From", validators=[DataRequired(message="Choose a date.")])
    end_date = DateField("Until", validators=[DataRequired(message="Choose a date.")])
    note = StringField("Note", validators=[Optional(), Length(max=1000)])


class FulfilForm(PortalForm):
    resource_id = LookupField("Book", kind="people", validators=[Optional()])
