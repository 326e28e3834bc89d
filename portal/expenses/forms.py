from __future__ import annotations

from wtforms import BooleanField, DateField, DecimalField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.forms import PortalForm
from portal.lookups import LookupField
from portal.projects.forms import optional_int


class ExpenseForm(PortalForm):
    project_id = LookupField("Project", kind="cost_projects", validators=[DataRequired(message="Choose a project.")])
    spent_on = DateField("Date", validators=[DataRequired(message="Enter the date.")])
    amount = DecimalField("Amount", places=2, validators=[InputRequired(message="Enter the amount."),
                                                          NumberRange(0.01, 1_000_000_000)])
    cost_category_id = SelectField("Cost category", coerce=optional_int,
                                   validators=[DataRequired(message="Choose a category.")])
    task_id = LookupField("Task", kind="tasks", validators=[Optional()])
    description = StringField("What for", validators=[DataRequired(message="Describe the expense."),
                                                      Length(max=500)])
    billable = BooleanField("Billable to the client", default=True)


class AdjustTimeForm(PortalForm):
    hours = DecimalField("Hours", places=2, validators=[InputRequired(message="Enter hours."), NumberRange(0.01, 24)])
    bill_rate = DecimalField("Bill rate", places=2, validators=[Optional(), NumberRange(0, 100_000)])
    task_id = SelectField("Task", coerce=optional_int, validators=[Optional()])
    billable = BooleanField("Billable")


class AdjustExpenseForm(PortalForm):
    amount = DecimalField("Amount", places=2, validators=[InputRequired(message="Enter the amount."),
                                                          NumberRange(0.01, 1_000_000_000)])
    cost_category_id = SelectField("Cost category", coerce=optional_int,
                                   validators=[DataRequired(message="Choose a category.")])
    task_id = SelectField("Task", coerce=optional_int, validators=[Optional()])
    billable = BooleanField("Billable")
