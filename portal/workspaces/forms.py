from __future__ import annotations

from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional

from portal.auth.forms import MultiCheckboxField
from portal.forms import PortalForm, options
from portal.workspaces.services import SECTIONS

SECTION_CHOICES = [(key, f"{label}: {what}") for key, label, what in SECTIONS]


class SectionsForm(PortalForm):
    sections = MultiCheckboxField("Sections of the workspace", choices=options(SECTION_CHOICES))


class ClientAccessForm(PortalForm):
    client_sections = MultiCheckboxField("Client users see", choices=options(SECTION_CHOICES))


class ClientUserForm(PortalForm):
    email = EmailField("Email", validators=[DataRequired(message="Enter the email."), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(message="Enter the name."), Length(max=200)])
    password = PasswordField("First password (leave empty and we email them a link to set their own)",
                             validators=[Optional(), Length(min=10, max=200)])
