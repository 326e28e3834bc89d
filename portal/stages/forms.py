from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import PortalForm
from portal.projects.forms import optional_int


class NameForm(PortalForm):
    name = StringField("Name", validators=[DataRequired(message="Enter a name."), Length(max=100)])


class EngagementTypeForm(NameForm):
    copy_from_id = SelectField("Start with the stages of", coerce=optional_int, validators=[Optional()])


class ReassignForm(PortalForm):
    target_id = SelectField("Move its projects to", coerce=optional_int,
                            validators=[DataRequired(message="Choose a stage.")])


class MoveForm(PortalForm):
    stage_id = SelectField("Move to", coerce=optional_int, validators=[DataRequired(message="Choose a stage.")])
