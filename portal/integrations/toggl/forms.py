from __future__ import annotations

from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import PortalForm


class TogglConnectionForm(PortalForm):
    api_token = PasswordField("API token", validators=[Optional(), Length(max=200)],
                              description="From your Toggl profile settings, API Token section. Leave empty to keep "
                                          "the stored token.")
    workspace_id = StringField("Workspace id", validators=[DataRequired(message="Enter the workspace id."),
                                                          Length(max=30)],
                               description="The number after track.toggl.com/ in your Toggl URL.")
