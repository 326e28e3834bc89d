from __future__ import annotations

from wtforms import DateField, DecimalField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from portal.forms import PortalForm
from portal.projects.forms import optional_int

BILLABLE_CHOICES = [SelectChoice("", "As the offering"), SelectChoice("yes", "Billable"),
                    SelectChoice("no", "Not billable")]


def billable_value(choice: str) -> bool | None:
    return {"yes": True, "no": False}.get(choice)


class EntryForm(PortalForm):
    offering_id = SelectField("Project · offering", coerce=optional_int,
                              validators=[DataRequired(message="Choose what you worked on.")])
    work_date = DateField("Date", validators=[DataRequired(message="Choose the day.")])
    hours = DecimalField("Hours", places=2, validators=[InputRequired(message="Enter the hours, like 7.5.")])
    task_id = SelectField("Task", coerce=optional_int, validators=[Optional()])
    description = StringField("Description", validators=[Optional(), Length(max=2000)])
    billable = SelectField("Billable", choices=BILLABLE_CHOICES)


class EntryEditForm(PortalForm):
    work_date = DateField("Date", validators=[DataRequired(message="Choose the day.")])
    hours = DecimalField("Hours", places=2, validators=[InputRequired(message="Enter the hours, like 7.5.")])
    task_id = SelectField("Task", coerce=optional_int, validators=[Optional()])
    description = StringField("Description", validators=[Optional(), Length(max=2000)])
    billable = SelectField("Billable", choices=BILLABLE_CHOICES[1:])


class DecisionForm(PortalForm):
    """Any single transition: the version the page showed (stale forms are refused) and maybe a reason."""

    version = IntegerField(validators=[InputRequired(message="Reload the page and try again.")])
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=2000)])
    then = SelectField("Afterwards", choices=[
        SelectChoice("draft", "Return it to the person to change (draft)"),
        SelectChoice("submitted", "Put it back in the approval queue (submitted)")], default="draft")
    # Which page the button was on, so the answer re-renders that page's region.
    view = HiddenField(default="detail")


class BulkDecisionForm(PortalForm):
    action = SelectField(choices=[SelectChoice("approve", "Approve"), SelectChoice("reject", "Reject")])
    reason = TextAreaField("Reason (needed to reject)", validators=[Optional(), Length(max=2000)])


class GridCellForm(PortalForm):
    """One cell of the week grid: which row (offering, task) and day, and the hours as typed (7.5, 7:30)."""

    offering_id = IntegerField(validators=[InputRequired(message="Reload the page and try again.")])
    task_id = IntegerField(validators=[Optional()])
    work_date = DateField(validators=[DataRequired(message="Reload the page and try again.")])
    hours = StringField("Hours", validators=[Optional(), Length(max=12, message="Enter hours like 7.5 or 7:30.")])


class CellEntryForm(PortalForm):
    """An entry of a cell's panel: its hours, description and billable flag."""

    hours = StringField("Hours", validators=[InputRequired(message="Enter the hours, like 7.5 or 7:30."),
                                             Length(max=12, message="Enter hours like 7.5 or 7:30.")])
    description = StringField("Description", validators=[Optional(), Length(max=2000)])
    billable = SelectField("Billable", choices=BILLABLE_CHOICES[1:])
