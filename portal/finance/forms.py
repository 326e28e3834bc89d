from __future__ import annotations

from wtforms import BooleanField, DateField, RadioField, StringField
from wtforms.validators import DataRequired, Length, Optional

from portal.finance.models import LOCKED_RULE_LABELS
from portal.forms import PortalForm, options


class CostCategoryForm(PortalForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    code = StringField("Code", validators=[Optional(), Length(max=40)])
    active = BooleanField("Active (offered in choice lists)", default=True)


class FiscalPeriodForm(PortalForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=60)])
    start_date = DateField("First day", validators=[DataRequired(message="Choose the first day.")])
    end_date = DateField("Last day", validators=[DataRequired(message="Choose the last day.")])


class ClosePeriodForm(PortalForm):
    confirm_name = StringField("Type the period's name to close it for good", validators=[Length(max=60)])


class LockedPeriodRuleForm(PortalForm):
    rule = RadioField("Actuals that would land in a period on hold",
                      choices=options((value, label.capitalize()) for value, label in LOCKED_RULE_LABELS.items()))
