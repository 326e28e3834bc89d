from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import PortalForm


class ConnectProjectForm(PortalForm):
    """Connect Existing: a project from the workspace's list, or its id or URL typed in (which wins)."""

    project_id = SelectField("Project in the tool", validators=[Optional()], validate_choice=False)
    project = StringField("…or its id, or paste its URL", validators=[Optional(), Length(max=500)])

    @property
    def choice(self) -> str:
        return (self.project.data or "").strip() or (self.project_id.data or "")


class ConnectClientForm(PortalForm):
    external_id = SelectField("Client in the tool", validators=[DataRequired(message="Choose a client.")],
                              validate_choice=False)
    replace = BooleanField("Move the mapping from the duplicate to this client")


class LinkPersonForm(PortalForm):
    """Unmatched people: the resource a tool's user is."""

    resource_id = SelectField("Resource", validators=[Optional()], validate_choice=False)

    @property
    def resource(self) -> int | None:
        value = self.resource_id.data or ""
        return int(value) if value.isdigit() else None
