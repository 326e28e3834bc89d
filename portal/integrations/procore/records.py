"""Procore's records as the portal reads them: time card entries and webhook events in plain values, and
Procore's ways of writing instants and hours (../shared/reference/external-apis.md part B)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from portal import inputs


def parse_instant(value: str | None) -> datetime | None:
    """Procore's ISO 8601 instants ("2018-11-01T19:10:25Z", with or without fractions or an offset)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def format_instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_hours(value: Any) -> Decimal | None:
    """`hours` is a string ("8.0"); absent or blank while someone is still clocked in."""
    if value is None or str(value).strip() == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def ref(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class WebhookEvent:
    """A v2 webhook event (id-only: the worker asks Procore for the record's current state)."""

    resource_name: str
    resource_id: str
    event_type: str
    ulid: str | None
    event_id: str | None
    timestamp: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, body: bytes) -> WebhookEvent:
        """Read a delivery's body, every field the portal uses held to Procore's documented type
        (inputs.BadShape, a ValueError naming the field, otherwise)."""
        event = inputs.json_object(inputs.json_document(body), "event", required=True)
        metadata = inputs.json_object(event.get("metadata"), "metadata")
        inputs.json_id(metadata.get("source_application_id"), "metadata.source_application_id")
        for name in ("company_id", "project_id", "user_id"):
            inputs.json_id(event.get(name), name)
        resource_id = inputs.json_id(event.get("resource_id"), "resource_id", required=True)
        if not resource_id.isdigit():
            raise inputs.BadShape("'resource_id' must be a whole number.")
        return cls(resource_name=inputs.json_text(event.get("resource_name"), "resource_name", 100),
                   resource_id=resource_id, event_type=inputs.json_text(event.get("event_type"), "event_type", 20),
                   ulid=inputs.json_id(event.get("ulid"), "ulid"), event_id=inputs.json_id(event.get("id"), "id"),
                   timestamp=inputs.json_instant(event.get("timestamp"), "timestamp"), raw=event)


@dataclass(frozen=True)
class Timecard:
    """A Procore timecard entry as the company-level endpoints return it, in plain values."""

    id: str
    project_id: str | None
    project_name: str
    work_date: date
    hours: Decimal | None
    time_in: datetime | None
    time_out: datetime | None
    lunch_minutes: int | None
    billable: bool
    description: str
    approval_status: str
    in_progress: bool
    origin_id: str | None
    origin_data: str
    updated_at: datetime | None
    deleted_at: datetime | None
    party_id: str | None
    party_name: str
    login_email: str
    login_name: str
    cost_code_id: str | None
    cost_code: str
    cost_code_name: str
    sub_job_id: str | None
    sub_job_name: str
    time_type_id: str | None
    time_type: str
    time_type_code: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timecard:
        project, party, login = ref(data.get("project")), ref(data.get("party")), ref(data.get("login_information"))
        cost_code, sub_job = ref(data.get("cost_code")), ref(data.get("sub_job"))
        time_type = ref(data.get("timecard_time_type"))
        lunch = data.get("lunch_time")

        def text(value: Any) -> str:
            return str(value) if value not in (None, "") else ""

        def ident(value: Any) -> str | None:
            return str(value) if value not in (None, "") else None

        return cls(
            id=str(data["id"]),
            project_id=ident(project.get("id") or data.get("project_id")),
            project_name=text(project.get("name")),
            work_date=date.fromisoformat(data["date"]),
            hours=parse_hours(data.get("hours")),
            time_in=parse_instant(data.get("time_in")),
            time_out=parse_instant(data.get("time_out")),
            lunch_minutes=int(lunch) if lunch not in (None, "") else None,
            billable=bool(data.get("billable")),
            description=text(data.get("description")),
            approval_status=text(data.get("approval_status")),
            in_progress=bool(data.get("in_progress")),
            origin_id=ident(data.get("origin_id")),
            origin_data=text(data.get("origin_data")),
            updated_at=parse_instant(data.get("updated_at")),
            deleted_at=parse_instant(data.get("deleted_at")),
            party_id=ident(party.get("id") or data.get("party_id")),
            party_name=text(party.get("name")),
            login_email=text(login.get("login")),
            login_name=text(login.get("name")),
            cost_code_id=ident(cost_code.get("id") or data.get("cost_code_id")),
            cost_code=text(cost_code.get("full_code") or cost_code.get("code")),
            cost_code_name=text(cost_code.get("name")),
            sub_job_id=ident(sub_job.get("id") or data.get("sub_job_id")),
            sub_job_name=text(sub_job.get("name")),
            time_type_id=ident(time_type.get("id") or data.get("timecard_time_type_id")),
            time_type=text(time_type.get("time_type")),
            time_type_code=text(time_type.get("abbreviated_time_type")),
            raw=data,
        )
