"""The connector interface for timesheet tools, and the registry of kinds.

Everything the portal asks of a tool goes through a connector built for the organization's Connection;
code never branches on `kind`, it looks the connector up in portal.integrations.registry. A connector speaks
one tool's real API over HTTP (through portal.integrations.http) and returns the plain records below; base
URLs come from configuration, so tests and the demo point the same code at the loopback sandboxes.

Operations a tool does not have raise NotSupported; `supports()` lets pages hide the buttons.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from flask import current_app

from portal.errors import PortalError
from portal.integrations.models import Connection

# Capabilities a connector declares; pages offer the matching actions only.
CLIENTS = "clients"  # list and create the tool's clients, map them to portal clients
PROVISION = "provision"  # create the tool's project from an offering (Provision New)
CONNECT = "connect"  # link an offering to a project that already exists (Connect Existing)
TEAM = "team"  # project users for the people assigned to an offering
RATES = "rates"  # per-person rates on those project users
TIME_ENTRIES = "time_entries"  # pull time entries
WEBHOOKS = "webhooks"  # manage the tool's webhook subscriptions
TOTALS = "time_totals"  # entry ids and daily totals of a window: the nightly reconciles without reading it all


class NotSupported(PortalError):
    status = 400
    title = "Not available for this tool"


@dataclass(frozen=True)
class AccountInfo:
    """What validating a connection learns: the account's name and the user we act as."""

    account_name: str
    external_user_id: str
    user_email: str = ""
    # Facts worth keeping on the connection (e.g. the workspace's plan), merged into Connection.settings.
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExternalClient:
    id: str
    name: str
    archived: bool = False


@dataclass(frozen=True)
class ExternalProject:
    id: str
    name: str
    client_id: str | None = None
    active: bool = True
    billable: bool | None = None
    start_date: date | None = None
    end_date: date | None = None
    estimated_hours: int | None = None
    fixed_fee: Decimal | None = None
    external_reference: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class ProjectSpec:
    """What the portal wants a tool's project to look like (seed 002 section 4)."""

    name: str
    client_id: str | None
    active: bool
    billable: bool
    start_date: date | None
    end_date: date | None
    estimated_hours: int | None
    fixed_fee: Decimal | None
    # Our own id for the record, stored in the tool: finds a project whose creation answer was lost.
    external_reference: str = ""


@dataclass(frozen=True)
class ExternalMember:
    id: str
    email: str
    name: str
    active: bool = True


@dataclass(frozen=True)
class ExternalProjectUser:
    id: str
    project_id: str
    user_id: str
    rate: Decimal | None = None
    manager: bool = False


@dataclass(slots=True)  # not frozen: a sync creates hundreds of thousands, and frozen ones cost more to build
class ExternalTimeEntry:
    id: str
    user_id: str
    project_id: str | None
    work_date: date
    seconds: int  # negative while a timer runs
    billable: bool
    description: str
    updated_at: datetime | None  # the tool's last change: an older copy never overwrites a newer one
    deleted: bool = False
    user_email: str = ""  # empty when the source does not say (webhook payloads)
    user_name: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # When the work started: the work date is this instant in the person's own time zone (issue 13). None
    # when the tool gives only a date; `work_date` is then kept as it came.
    started_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.seconds < 0


@dataclass(frozen=True)
class TimeEntryPage:
    """One page of a time-entry query; `next_row` continues it (None on the last page)."""

    entries: list[ExternalTimeEntry]
    next_row: int | None


@dataclass(frozen=True)
class Quota:
    """What the tool's last answer said about the request budget."""

    remaining: int
    resets_at: datetime
    refused_at: datetime | None = None  # when the tool last refused a request for the quota (Toggl: a 402)

    def stored(self) -> dict[str, Any]:
        """As kept in Connection.settings["quota"] (the settings page, the sync log and /metrics read it)."""
        return {"remaining": self.remaining, "resets_at": self.resets_at.isoformat(),
                "refused_at": self.refused_at.isoformat() if self.refused_at else None}


@dataclass(frozen=True)
class WebhookDelivery:
    """One signed delivery, read: a PING (maybe carrying a validation code to echo) or an entity event."""

    event_id: str
    sent_at: datetime | None
    entity: str = ""
    action: str = ""
    validation_code: str | None = None
    entry: ExternalTimeEntry | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # the event as read

    @property
    def is_ping(self) -> bool:
        return not self.entity


@dataclass(frozen=True)
class ExternalWebhook:
    id: str
    url: str
    description: str = ""
    enabled: bool = True
    validated: bool = False
    secret: str = field(default="", repr=False)


class TimesheetConnector(ABC):
    kind: ClassVar[str]
    label: ClassVar[str]
    #: the name in links and buttons ("View in Toggl")
    short_label: ClassVar[str] = ""
    #: what the tool calls the account a connection opens ("workspace", "company")
    account_noun: ClassVar[str] = "account"
    #: the endpoint of the tool's settings page (connection, options; Procore's activity too)
    settings_endpoint: ClassVar[str]
    #: the endpoint of its sync log (runs, messages, unmatched people) by connection id, when it has one
    sync_log_endpoint: ClassVar[str] = ""
    #: the endpoint that syncs one project's time now (project and connection ids), for tools with TIME_ENTRIES
    project_sync_endpoint: ClassVar[str] = ""
    #: how a project's id or address looks, for the Connect Existing field
    project_reference_example: ClassVar[str] = "the project's id"
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, connection: Connection, config: dict[str, Any] | None = None, *, interactive: bool = False):
        self.connection = connection
        self.config = config if config is not None else current_app.config
        # A person waiting on a page gets a short bound on retries; a background job may wait longer.
        self.max_wait = float(self.config.get("CONNECTOR_INTERACTIVE_MAX_WAIT" if interactive else "CONNECTOR_MAX_WAIT",
                                              5 if interactive else 120))
        self.timeout = float(self.config.get("CONNECTOR_TIMEOUT", 20))
        self.backoff_base = float(self.config.get("CONNECTOR_BACKOFF_BASE", 0.5))

    @classmethod
    def display_name(cls) -> str:
        return cls.short_label or cls.label

    @classmethod
    def supports(cls, capability: str) -> bool:
        return capability in cls.capabilities

    def _unsupported(self, what: str):
        raise NotSupported(f"{self.label} does not support {what}.")

    @abstractmethod
    def validate(self) -> AccountInfo:
        """Check credentials and account access; raise ExternalServiceError with a message per cause."""

    def close(self) -> None:  # noqa: B027 (optional hook: connectors without HTTP clients have nothing to release)
        """Release HTTP resources."""

    # Clients
    def list_clients(self) -> list[ExternalClient]:
        self._unsupported("clients")

    def get_client(self, client_id: str) -> ExternalClient:
        self._unsupported("clients")

    def create_client(self, name: str) -> ExternalClient:
        self._unsupported("clients")

    def client_url(self, client_id: str) -> str:
        return ""

    # Projects
    def list_projects(self, include_archived: bool = False) -> list[ExternalProject]:
        self._unsupported("listing projects")

    def get_project(self, project_id: str) -> ExternalProject:
        self._unsupported("projects")

    def create_project(self, spec: ProjectSpec) -> ExternalProject:
        self._unsupported("creating projects")

    def update_project(self, project_id: str, spec: ProjectSpec,
                       current: ExternalProject | None = None) -> ExternalProject:
        """Make the project match `spec`; given its `current` state, send only what differs (or nothing)."""
        self._unsupported("updating projects")

    def unsupported_fields(self) -> list[str]:
        """Fields of ProjectSpec and rates the account's plan cannot take; they are left out of requests."""
        return []

    def project_url(self, project_id: str) -> str:
        return ""

    def project_id_from_url(self, text: str) -> str | None:
        """The project id in a pasted URL (or the text itself when it is an id)."""
        return None

    # People and team
    def list_members(self) -> list[ExternalMember]:
        self._unsupported("workspace members")

    def list_project_users(self, project_id: str) -> list[ExternalProjectUser]:
        self._unsupported("project users")

    def add_project_user(self, project_id: str, user_id: str, rate: Decimal | None) -> ExternalProjectUser:
        self._unsupported("project users")

    def update_project_user(self, project_user_id: str, rate: Decimal | None) -> ExternalProjectUser:
        self._unsupported("project users")

    def remove_project_user(self, project_user_id: str) -> None:
        self._unsupported("project users")

    # Time and webhooks (the time sync)
    def entry_ids(self, start: date, end: date, project_ids: list[str]) -> set[str] | None:
        """Every id of the entries dated start..end on the tool's projects `project_ids`, in as few requests
        as the tool allows (deletions are the ids the portal holds that are not among them); None when the
        tool does not list them."""
        return None

    def daily_totals(self, start: date, end: date, project_ids: list[str]) -> dict[tuple[date, str, str], int]:
        """Seconds per (work date, tool user id, tool project id) dated start..end on `project_ids`."""
        self._unsupported("time totals")

    def time_entry_pages(self, start: date, end: date, project_ids: list[str] | None = None, *,
                         newest_first: bool = False) -> Iterator[TimeEntryPage]:
        """Everyone's time entries dated start..end (inclusive), one page per request: by date, or most
        recently changed first (`newest_first`, for incremental syncs that stop at what they have seen)."""
        self._unsupported("pulling time entries")

    def list_time_entries(self, start: date, end: date,
                          project_ids: list[str] | None = None) -> Iterator[ExternalTimeEntry]:
        """Everyone's time entries dated start..end (inclusive)."""
        for page in self.time_entry_pages(start, end, project_ids):
            yield from page.entries

    def time_entry_url(self, entry: ExternalTimeEntry) -> str:
        """Where the tool shows the entry (for the "From <tool>" marker)."""
        return ""

    def quota(self) -> Quota | None:
        """The request budget the tool's last answer reported, when it reports one."""
        return None

    def requests_sent(self) -> int:
        """Requests sent to the tool so far (retries included: what quotas count)."""
        return 0

    def parse_webhook(self, body: bytes) -> WebhookDelivery:
        """Read a delivery whose signature was verified; ValueError when it is not one."""
        self._unsupported("webhooks")

    def list_webhooks(self) -> list[ExternalWebhook]:
        self._unsupported("webhooks")

    def create_webhook(self, url: str, description: str, secret: str | None = None) -> ExternalWebhook:
        self._unsupported("webhooks")

    def delete_webhook(self, webhook_id: str) -> None:
        self._unsupported("webhooks")

    def verify_webhook(self, body: bytes, headers: dict[str, str], secret: str) -> bool:
        """Whether a delivery really comes from the tool (its signature over the raw body)."""
        self._unsupported("webhooks")
