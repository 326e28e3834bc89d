from __future__ import annotations

from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.auth.models import PERMISSION_LABELS, ROLE_LABELS
from portal.forms import PortalForm, options


class LoginForm(PortalForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me logged in")


class ForgotPasswordForm(PortalForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])


class SetPasswordForm(PortalForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(min=10, max=200)])
    confirm = PasswordField("The same password again",
                            validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")])


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(PortalForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=options([(str(k), v) for k, v in ROLE_LABELS.items()]))
    client_id = SelectField("Client (for client users)", coerce=lambda v: int(v) if v else None,
                            validators=[Optional()])
    permissions = MultiCheckboxField("Cost-centre permissions",
                                     choices=options([(str(k), v) for k, v in PERMISSION_LABELS.items()]))
    active = BooleanField("Active", default=True)
    notify_stage_moves = BooleanField("Email me when projects are moved to or from a stage")
    password = PasswordField("Password", validators=[Optional(), Length(min=10, max=200)])
