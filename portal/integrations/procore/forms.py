from __future__ import annotations

from wtforms import BooleanField, PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.auth.forms import MultiCheckboxField
from portal.forms import PortalForm
from portal.integrations.procore.connector import GrantType
from portal.lookups import LookupField


class ConnectForm(PortalForm):
    company_id = StringField("Procore company id", validators=[DataRequired(), Length(max=30)],
                             description="The long number in Procore's address bar, after /companies/.")
    company_name = StringField("Procore company name", validators=[DataRequired(), Length(max=200)])
    method = RadioField("Sign in with", default=GrantType.CLIENT_CREDENTIALS, choices={
        GrantType.CLIENT_CREDENTIALS: "A service account (client credentials; recommended for data sync)",
        GrantType.AUTHORIZATION_CODE: "A Procore user (you sign in at Procore next)"})
    client_id = StringField("Client id", validators=[DataRequired(), Length(max=200)])
    client_secret = PasswordField("Client secret", validators=[DataRequired(), Length(max=500)])


def _emails(text: str) -> list[str]:
    return [e.strip() for e in (text or "").replace(";", ",").replace("\n", ",").split(",") if e.strip()]


class SettingsForm(PortalForm):
    receive = BooleanField("Receive: Procore time cards become portal time entries")
    send = BooleanField("Send: portal time entries become Procore time cards (both on: two-way)")
    only_linked = BooleanField("Only sync records for linked projects (otherwise time cards of unlinked "
                               "projects wait until the project is linked)")
    sub_job_projects = BooleanField("Create a new project for each Procore sub job used in a time card "
                                    "(a copy of the linked project)")
    task_time_types = MultiCheckboxField("Import matching template: Procore time types that become portal tasks")
    alert_emails = TextAreaField("Alert recipients (emails, one per line or comma-separated)",
                                 validators=[Optional(), Length(max=4000)])

    @property
    def alert_list(self) -> list[str]:
        """The addresses as typed; the service checks them."""
        return _emails(self.alert_emails.data)


class LinkForm(PortalForm):
    external_project_id = SelectField("Procore project", validators=[DataRequired(message="Choose a project.")])
    offering_id = LookupField("Portal offering", kind="offerings",
                              validators=[DataRequired(message="Choose an offering.")])
