from __future__ import annotations

from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    EmailField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.columns import MAX_HOURS
from portal.forms import PortalForm, options
from portal.lookups import LookupField, LookupMultipleField
from portal.projects.models import BILLING_MODEL_LABELS, DEAL_STAGE_LABELS, BookingMode, RateType, SaleStatus


def optional_int(value):
    return int(value) if value not in (None, "", "None") else None


class ProjectForm(PortalForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    code = StringField("Code", validators=[Optional(), Length(max=40)])
    client_id = LookupField("Client", kind="clients", validators=[DataRequired(message="Choose a client.")])
    stage_id = SelectField("Stage", coerce=optional_int)
    pm_id = LookupField("Project manager", kind="users", validators=[Optional()])
    start_date = DateField("Start", validators=[Optional()])
    end_date = DateField("End", validators=[Optional()])
    percent_likelihood = IntegerField("Percent likelihood (empty: the stage's)",
                                      validators=[Optional(), NumberRange(0, 100, "Between 0 and 100.")])
    default_cost_category_id = SelectField("Default cost category", coerce=optional_int, validators=[Optional()])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])


class PmTeamForm(PortalForm):
    pm_id = LookupField("Project manager", kind="users", validators=[Optional()])
    team_ids = LookupMultipleField("PM team (can act as PM)", kind="users")


class OfferingForm(PortalForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    billing_model = SelectField("Billing model",
                                choices=options([(str(k), v) for k, v in BILLING_MODEL_LABELS.items()]))
    sold_hours = DecimalField("Sold hours", places=2, validators=[InputRequired(message="Enter the sold hours."),
                                                                 NumberRange(0, MAX_HOURS)])
    planned_hours = DecimalField("Current planned hours", places=2, validators=[Optional(), NumberRange(0, MAX_HOURS)])
    fixed_fee = DecimalField("Fixed fee", places=2, validators=[Optional(), NumberRange(0)])
    budget_amount = DecimalField("Budget", places=2, validators=[Optional(), NumberRange(0)])
    start_date = DateField("Start", validators=[Optional()])
    end_date = DateField("End", validators=[Optional()])
    sale_status = SelectField("Sale status", choices=options([(SaleStatus.PRE_SALE.value, "Pre-sale"),
                                                              (SaleStatus.SOLD.value, "Sold")]))
    archived = BooleanField("Archived")


class AssignmentForm(PortalForm):
    resource_id = LookupField("Person", kind="people", validators=[DataRequired(message="Choose a person.")])
    role = StringField("Role", validators=[Optional(), Length(max=120)])
    bill_rate = DecimalField("Bill rate / h", places=2, validators=[Optional(), NumberRange(0, 100_000)])
    planned_hours = DecimalField("Planned hours", places=2, default=0,
                                 validators=[Optional(), NumberRange(0, MAX_HOURS)])
    # Seed 004 "Revalue time on rate change": give existing time entries the new rate too.
    revalue = BooleanField("Revalue existing time at this rate")


class BookingForm(PortalForm):
    resource_id = LookupField("Person", kind="people", validators=[DataRequired(message="Choose a person.")])
    offering_id = SelectField("Offering", coerce=optional_int, validators=[Optional()])
    mode = SelectField("Booked by", choices=options([(BookingMode.DAY.value, "Day"),
                                                        (BookingMode.WEEK.value, "Week")]))
    on = DateField("Day (or any day of the week)", validators=[DataRequired(message="Choose a date.")])
    hours = DecimalField("Hours (0 removes)", places=2, validators=[InputRequired(message="Enter hours."),
                                                                   NumberRange(0, 168)])


class ClientForm(PortalForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    crm_id = StringField("CRM id", validators=[Optional(), Length(max=100)])


class DealForm(PortalForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    client_id = LookupField("Client", kind="clients", validators=[DataRequired(message="Choose a client.")])
    project_id = LookupField("Project", kind="projects", validators=[Optional()])
    stage = SelectField("Stage", choices=options([(str(k), v) for k, v in DEAL_STAGE_LABELS.items()]))
    amount = DecimalField("Amount", places=2, validators=[Optional(), NumberRange(0)])
    start_date = DateField("Start", validators=[Optional()])
    end_date = DateField("End", validators=[Optional()])


class DealStageForm(PortalForm):
    stage = SelectField("Stage", choices=options([(str(k), v) for k, v in DEAL_STAGE_LABELS.items()]))


class ResourceForm(PortalForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    title = StringField("Title", validators=[Optional(), Length(max=120)])
    default_cost_category_id = SelectField("Default cost category", coerce=optional_int, validators=[Optional()])
    active = BooleanField("Active", default=True)
    # The login that enters this person's time under My time (by its email); empty for people who never log in.
    login_email = EmailField("Login (email)", validators=[Optional(), Length(max=254)])
    # Issue 16: timesheet reminders.
    expected_hours_per_week = DecimalField(
        "Hours expected a week (blank: the organization's; 0: never logs time)", places=2,
        validators=[Optional(), NumberRange(0, 168, "Between 0 and 168.")])
    # Issue 13: synced time is dated by its start in this zone (choices: time_zone_choices).
    time_zone = SelectField("Time zone", validators=[Optional()])


class RateForm(PortalForm):
    rate_type = SelectField("Rate", choices=options([(RateType.COST.value, "Cost"), (RateType.SELL.value, "Sell")]))
    amount = DecimalField("Per hour", places=2, validators=[InputRequired(message="Enter the rate."),
                                                           NumberRange(0, 100_000)])
    effective_from = DateField("Effective from", validators=[DataRequired(message="Choose a date.")])
