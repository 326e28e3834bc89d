from __future__ import annotations

from wtforms import BooleanField, DateField, StringField
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import PortalForm


class CostCategoryForm(PortalForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    code = StringField("Code", validators=[Optional(), Length(max=40)])
    active = BooleanField("Active (offered in choice lists)", default=True)


class FiscalPeriodForm(PortalForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=60)])
    start_date = DateField("First day", validators=[DataRequired(message="Choose the first day.")])
    end_date = DateField("Last day", validators=[DataRequired(message="Choose the last day.")])
