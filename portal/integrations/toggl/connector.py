"""Toggl Track over httpx: API v9 (workspace, clients, projects, project users, members), Reports v3
(everyone's time) and Webhooks v1, as ../shared/reference/external-apis.md part A describes.

Authentication is HTTP Basic with the API token as user name and the literal `api_token` as password.
A token Toggl no longer accepts (regenerated) is answered 401 or 403, with an empty, text or JSON body;
a 403 with words can also be a permission refusal, so the token is then checked once with `GET /me`
(its own hourly bucket): refused there too, it is AuthenticationFailed ("needs a new token").

Two limits apply (A8, and "Corrections and additions" 1): a sliding hourly quota per user and organization,
answered with 402 and the headers X-Toggl-Quota-Remaining (0) and X-Toggl-Quota-Resets-In, and a short-burst
limit (about one request a second) answered with 429, maybe without Retry-After. The quota's 402 is retried
after the reset the headers name, within the bounded total wait of ApiClient; a quota that resets later than
that fails with the time it resets. A 402 with quota left means the workspace's plan lacks a feature and is
not retried. A 429 without Retry-After waits at least the bucket's one second, doubling.

Team time comes from the Reports API v3: the detailed search (50 rows a page, the documented default), the
summary report with `include_time_entry_ids` (every entry id of a window in one request) and the weekly
report (seconds per day, person and project for up to seven days): the nightly reconcile compares those with
what the portal holds and reads details only where they differ (portal/integrations/toggl/reconcile.py).
Where the reference marks behaviour UNCONFIRMED, this module and the sandbox (sandboxes/toggl_state.py)
follow the same decision.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx

from portal import inputs
from portal.errors import ExternalServiceError, InvalidInput
from portal.integrations import connectors
from portal.integrations.connectors import (
    AccountInfo,
    ExternalClient,
    ExternalMember,
    ExternalProject,
    ExternalProjectUser,
    ExternalTimeEntry,
    ExternalWebhook,
    ProjectSpec,
    Quota,
    TimeEntryPage,
    TimesheetConnector,
    WebhookDelivery,
)
from portal.integrations.http import ApiClient, AuthenticationFailed, ExternalNotFound, RateLimited
from portal.integrations.models import Connection

SERVICE = "Toggl"
PER_PAGE = 200  # the API's maximum page size for projects (its default is 151)
# Rows per detailed-report request (TOGGL_REPORT_PAGE_SIZE): 50 is the documented default, and Toggl may
# ignore a larger page_size ("Corrections and additions" 2), so asking for more saves nothing.
REPORT_PAGE_SIZE = 50
WEEK = 7  # days one weekly report covers (its `seconds` has one value a day)
# Workspace roles that may create projects, manage their team and read everyone's time (the `admin`
# boolean is deprecated: read `role`).
ADMIN_ROLES = frozenset({"admin", "owner", "workspace_admin", "organization_admin"})
# Toggl's eventual consistency after creating a project: project users may be refused with "Invalid
# project_id" for a few seconds; wait 2-5 s and retry up to 3 times (TG-DOCS).
CONSISTENCY_RETRIES = 3
CONSISTENCY_WAIT = 3.0
BURST_WAIT = 1.0  # the leaky bucket leaks about one request a second
MAX_DESCRIPTION = 3000  # characters: Toggl's own limit on a time entry's description
MAX_SECONDS = 10**10  # |duration|: a running timer's is negative (-1, or minus its start in epoch seconds)
# Fields that need a paid plan (reference A3, "*"); sending them to a free workspace is a 402.
PREMIUM_PROJECT_FIELDS = ("billable", "estimated_hours", "fixed_fee")
# https://track.toggl.com/{workspace}/projects/{project}/team, .../dashboard, .../edit
_PROJECT_URL = re.compile(r"/(\d+)/projects/(\d+)")
_PROJECT_IN_TEXT = re.compile(r"(?:projects/|project_ids=|pid=)(\d+)")


def _quota_exhausted(response: httpx.Response) -> bool:
    return response.status_code == 402 and response.headers.get("X-Toggl-Quota-Remaining") == "0"


def _is_empty(response: httpx.Response) -> bool:
    return not response.content.strip()


def is_workspace_admin(workspace: dict[str, Any]) -> bool:
    """Whether the token's user administers the workspace: its `role`, else the deprecated `admin` flag."""
    role = workspace.get("role")
    if role is not None:
        return str(role).lower() in ADMIN_ROLES
    return bool(workspace.get("admin"))


TOKEN_REFUSED = ("Toggl did not accept the API token{detail}. Was the Toggl API token regenerated? Copy "
                 "the current one from your Toggl profile settings (API Token section), enter it in Admin → "
                 "Integrations → Toggl Track and Validate connection; syncs wait until then.")


class TogglApi(ApiClient):
    """One of Toggl's three APIs (v9, Reports v3, Webhooks v1): same auth, limits and error bodies."""

    service = SERVICE

    def __init__(self, base_url: str, *, on_quota: Callable[[Quota], None] | None = None,
                 token_works: Callable[[], bool] | None = None, on_exhausted: Callable[[], None] | None = None,
                 **kwargs: Any):
        super().__init__(base_url, **kwargs)
        self.on_quota = on_quota
        self.token_works = token_works
        self.on_exhausted = on_exhausted
        self._bursts = 0  # 429s in a row

    def observe(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            self._bursts += 1
        elif response.status_code < 400:
            self._bursts = 0
        # Requests about the user itself (/me) have their own 30/h bucket; the sync cares about the workspace's.
        remaining = response.headers.get("X-Toggl-Quota-Remaining")
        if self.on_quota is None or remaining is None or response.request.url.path.rstrip("/").endswith(
                ("/me", "/me/workspaces")):
            return
        try:
            resets_in = float(response.headers.get("X-Toggl-Quota-Resets-In", "3600"))
            self.on_quota(Quota(int(remaining), datetime.now(UTC) + timedelta(seconds=resets_in)))
        except ValueError:
            return

    def retryable(self, response: httpx.Response) -> bool:
        return super().retryable(response) or _quota_exhausted(response)

    def wait_hint(self, response: httpx.Response) -> float | None:
        if _quota_exhausted(response):
            if self.on_exhausted is not None:
                self.on_exhausted()
            try:
                return max(0.0, float(response.headers.get("X-Toggl-Quota-Resets-In", "")))
            except ValueError:
                return None
        hint = super().wait_hint(response)
        if hint is None and response.status_code == 429:
            # No Retry-After ("Corrections and additions" 1): the bucket leaks about one request a second,
            # so waiting less than that only earns another 429; each further 429 in a row doubles the wait.
            return min(self.backoff_cap, BURST_WAIT * 2 ** max(0, self._bursts - 1))
        return hint

    def raise_for(self, response: httpx.Response, method: str, path: str) -> None:
        status = response.status_code
        message = "" if _is_empty(response) else self.error_message(response)
        about_me = path.strip("/") in ("me", "me/workspaces")  # the token's own calls: no permission to lack
        if status == 401 or (status == 403 and (not message or about_me or (self.token_works is not None
                                                                            and not self.token_works()))):
            raise AuthenticationFailed(TOKEN_REFUSED.format(detail=f" ({status}: {message[:200]})" if message
                                                            else f" ({status})"),
                                       service=SERVICE, status_code=status, token_refused=True)
        if status == 403:
            raise ExternalServiceError(f"Toggl does not allow this for the connected user: {message}",
                                       service=SERVICE, status_code=status)
        if status == 402:
            raise ExternalServiceError(f"Toggl refused: the workspace's plan does not include this ({message}).",
                                       service=SERVICE, status_code=status)
        if status == 404 or (status == 400 and message.startswith("Invalid project_id")):
            raise ExternalNotFound(f"Toggl has no such record ({message or 'not found'}).", service=SERVICE,
                                   status_code=status)
        raise ExternalServiceError(f"Toggl refused the request ({status}): {message or response.reason_phrase}",
                                   service=SERVICE, status_code=status, toggl_message=message)

    def retry_exhausted(self, response: httpx.Response | None, waited: float, reason: str) -> ExternalServiceError:
        if response is not None and _quota_exhausted(response):
            seconds = self.wait_hint(response) or 3600
            resets_at = datetime.now(UTC) + timedelta(seconds=seconds)
            return RateLimited(
                f"Toggl's hourly request quota for this workspace is used up; it resets in about "
                f"{max(1, round(seconds / 60))} min (at {resets_at:%H:%M} UTC). Retry after that.",
                service=SERVICE, resets_at=resets_at, status_code=402)
        if response is not None and response.status_code == 429:
            error = super().retry_exhausted(response, waited, reason)
            error.message = (f"Toggl is rate limiting the portal (too many requests per second); waited "
                             f"{waited:.0f} s. Retry in a few minutes.")
            return error
        return ExternalServiceError(f"Toggl could not be reached or failed: {reason} (waited {waited:.0f} s). "
                                    "Retry later.", service=SERVICE,
                                    status_code=response.status_code if response is not None else None)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)  # Python 3.11 reads the "Z" suffix too
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _entry(entry: dict[str, Any], zone: ZoneInfo, *, user_id: Any, project_id: Any, billable: Any,
           description: Any, seconds: int, email: str = "", name: str = "", deleted: bool = False,
           raw: dict[str, Any] | None = None) -> ExternalTimeEntry:
    """A time entry with its start instant (the importer dates it in its person's own time zone) and a
    default date in the organization's, whichever offset the API wrote its start with (the report and the
    v9 payloads differ), so a report row and a webhook of the same entry agree on its date."""
    started = _instant(entry["start"])
    return ExternalTimeEntry(
        id=str(entry["id"]), user_id=str(user_id), project_id=str(project_id) if project_id else None,
        work_date=started.astimezone(zone).date(), seconds=int(seconds),
        billable=bool(billable), description=description or "", updated_at=_instant(entry.get("at")),
        deleted=deleted, user_email=email or "", user_name=name or "", raw=raw or entry, started_at=started)


def _project(row: dict[str, Any]) -> ExternalProject:
    return ExternalProject(
        id=str(row["id"]), name=row["name"], client_id=str(row["client_id"]) if row.get("client_id") else None,
        active=bool(row.get("active", True)), billable=row.get("billable"), start_date=_day(row.get("start_date")),
        end_date=_day(row.get("end_date")), estimated_hours=row.get("estimated_hours"),
        fixed_fee=_decimal(row.get("fixed_fee")), external_reference=row.get("external_reference") or "", raw=row,
    )


def _project_user(row: dict[str, Any]) -> ExternalProjectUser:
    return ExternalProjectUser(id=str(row["id"]), project_id=str(row["project_id"]), user_id=str(row["user_id"]),
                               rate=_decimal(row.get("rate")), manager=bool(row.get("manager")))


class TogglConnector(TimesheetConnector):
    kind = "toggl"
    label = "Toggl Track"
    settings_endpoint = "toggl.settings"
    sync_log_endpoint = "time_sync.sync_log"
    project_sync_endpoint = "toggl.sync_project_time"
    short_label = "Toggl"
    account_noun = "workspace"
    project_reference_example = "123456789 or https://track.toggl.com/…/projects/123456789/…"
    capabilities: ClassVar[frozenset[str]] = frozenset({
        connectors.CLIENTS, connectors.PROVISION, connectors.CONNECT, connectors.TEAM, connectors.RATES,
        connectors.TIME_ENTRIES, connectors.WEBHOOKS, connectors.TOTALS,
    })

    def __init__(self, connection: Connection, config: dict[str, Any] | None = None, *, interactive: bool = False,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None):
        super().__init__(connection, config, interactive=interactive)
        self._sleep = sleep
        self._transport = transport
        self._apis: dict[str, TogglApi] = {}
        self._quota: Quota | None = None
        self._refused_at: datetime | None = None  # when Toggl last answered 402: the quota was used up
        self._sent = 0  # requests of closed clients
        self.report_page_size = int(self.config.get("TOGGL_REPORT_PAGE_SIZE") or REPORT_PAGE_SIZE)
        self.consistency_wait = float(self.config.get("TOGGL_CONSISTENCY_WAIT", CONSISTENCY_WAIT))
        self._reports_url = f"{self.config['TOGGL_APP_URL'].rstrip('/')}/reports/detailed/{connection.account_id}"
        self._zone = ZoneInfo(self.config.get("PORTAL_TIMEZONE") or "UTC")

    # Plumbing -----------------------------------------------------------------------------------
    @property
    def workspace_id(self) -> str:
        wid = (self.connection.account_id or "").strip()
        if not wid.isdigit():
            raise InvalidInput("Enter the Toggl workspace id: the number after track.toggl.com/ in your Toggl URL.",
                               fields={"workspace_id": "Enter the workspace id (a number)."})
        return wid

    def _token(self) -> str:
        try:
            token = json.loads(self.connection.credentials or "{}").get("api_token")
        except ValueError:
            token = None
        if not token:
            raise AuthenticationFailed("No Toggl API token is stored. Enter it in Admin → Integrations → "
                                       "Toggl Track.", service=SERVICE)
        return token

    def _api(self, which: str = "api") -> TogglApi:
        if which not in self._apis:
            base = self.config[{"api": "TOGGL_API_BASE_URL", "reports": "TOGGL_REPORTS_BASE_URL",
                                "webhooks": "TOGGL_WEBHOOKS_BASE_URL"}[which]]
            self._apis[which] = TogglApi(base, auth=(self._token(), "api_token"), timeout=self.timeout,
                                         max_wait=self.max_wait, backoff_base=self.backoff_base, sleep=self._sleep,
                                         transport=self._transport, on_quota=self._note_quota,
                                         token_works=self._token_works, on_exhausted=self._note_refused)
        return self._apis[which]

    def _token_works(self) -> bool:
        """After a 403 with words: does Toggl still accept the token at all? `GET /me` (its own hourly
        bucket) tells a regenerated token from a permission refusal. Sent as is, never retried."""
        api = self._api()
        api.requests += 1
        try:
            response = api.client.get("me")
        except httpx.HTTPError:
            return True  # cannot tell: the refusal keeps its own words
        api.observe(response)
        return response.status_code not in (401, 403)

    def _note_quota(self, quota: Quota) -> None:
        self._quota = Quota(quota.remaining, quota.resets_at, refused_at=self._refused_at)

    def _note_refused(self) -> None:
        self._refused_at = datetime.now(UTC)
        if self._quota is not None:
            self._quota = Quota(self._quota.remaining, self._quota.resets_at, refused_at=self._refused_at)

    def quota(self) -> Quota | None:
        return self._quota

    def requests_sent(self) -> int:
        return self._sent + sum(api.requests for api in self._apis.values())

    def close(self) -> None:
        for api in self._apis.values():
            self._sent += api.requests
            api.close()
        self._apis.clear()

    def _ws(self, path: str = "") -> str:
        return f"workspaces/{self.workspace_id}{path}"

    @property
    def _premium(self) -> bool:
        # Learned at validation; unknown (older connections) counts as premium so nothing is dropped silently.
        return bool((self.connection.settings or {}).get("premium", True))

    def unsupported_fields(self) -> list[str]:
        return [] if self._premium else ["billable flag", "estimated hours", "fixed fee", "rates"]

    # Connection ---------------------------------------------------------------------------------
    def validate(self) -> AccountInfo:
        wid = self.workspace_id
        me = self._api().get("me").json()  # counts against the separate 30/h user quota
        workspaces = {str(w["id"]): w for w in self._api().get("me/workspaces").json()}
        workspace = workspaces.get(wid)
        who = me.get("email") or "the token's user"
        if workspace is None:
            try:
                self._api().get(f"workspaces/{wid}")
            except ExternalNotFound:
                raise ExternalServiceError(
                    f"Toggl has no workspace {wid}. Check the workspace id: it is the number after "
                    "track.toggl.com/ in your Toggl URL.", service=SERVICE) from None
            except ExternalServiceError as error:
                if error.status_code != 403:
                    raise
            raise ExternalServiceError(
                f"The Toggl user {who} has no access to workspace {wid}. Ask a workspace admin to invite them, "
                "or use the API token of a member of that workspace.", service=SERVICE)
        if not is_workspace_admin(workspace):
            raise ExternalServiceError(
                f"The Toggl user {who} is a member of workspace {workspace.get('name', wid)} but not an admin. "
                "The portal needs an admin's API token to create projects, manage their team and read everyone's "
                "time; use a non-billable admin account.", service=SERVICE)
        return AccountInfo(account_name=workspace.get("name", ""), external_user_id=str(me["id"]),
                           user_email=me.get("email", ""),
                           settings={"premium": bool(workspace.get("premium")), "user_name": me.get("fullname", "")})

    # Clients ------------------------------------------------------------------------------------
    def list_clients(self) -> list[ExternalClient]:
        rows = self._api().get(self._ws("/clients"), params={"status": "both"}).json() or []
        return [ExternalClient(id=str(c["id"]), name=c["name"], archived=bool(c.get("archived"))) for c in rows]

    def get_client(self, client_id: str) -> ExternalClient:
        row = self._api().get(self._ws(f"/clients/{int(client_id)}")).json()
        return ExternalClient(id=str(row["id"]), name=row["name"], archived=bool(row.get("archived")))

    def create_client(self, name: str) -> ExternalClient:
        api = self._api()
        try:
            row = api.create_once(lambda: api.post(self._ws("/clients"), json={"name": name}).json(),
                                  lambda: self._client_named(name))
        except ExternalServiceError as error:
            if error.details.get("toggl_message") == "Name has already been taken":
                raise ExternalServiceError(
                    f"Toggl already has a client named {name!r}. Use Connect to Toggl Client to link it instead.",
                    service=SERVICE, status_code=400) from None
            raise
        return ExternalClient(id=str(row["id"]), name=row["name"], archived=bool(row.get("archived")))

    def _client_named(self, name: str) -> dict[str, Any] | None:
        """The client a create whose answer was lost made (client names are unique in a workspace)."""
        rows = self._api().get(self._ws("/clients"), params={"status": "both", "name": name}).json() or []
        return next((row for row in rows if row.get("name") == name), None)

    def client_url(self, client_id: str) -> str:
        # Toggl has no page per client (UNCONFIRMED deep link); its clients page lists them.
        return f"{self.config['TOGGL_APP_URL'].rstrip('/')}/{self.connection.account_id}/clients"

    # Projects -----------------------------------------------------------------------------------
    def list_projects(self, include_archived: bool = False, name: str | None = None) -> list[ExternalProject]:
        """Every project of the workspace, page by page (the API answers plain arrays with total_count)."""
        projects: list[ExternalProject] = []
        page = 1
        while True:
            params: dict[str, Any] = {"active": "both" if include_archived else "true", "page": page,
                                      "per_page": PER_PAGE, "sort_field": "name"}
            if name:
                params["name"] = name
            rows = self._api().request_json("GET", self._ws("/projects"), params=params)[0] or []
            projects.extend(_project(r) for r in rows)
            total = rows[0].get("total_count") if rows else 0
            if len(rows) < PER_PAGE or (total and len(projects) >= total):
                return projects
            page += 1

    def get_project(self, project_id: str) -> ExternalProject:
        try:
            return _project(self._api().get(self._ws(f"/projects/{int(project_id)}")).json())
        except ExternalNotFound:
            raise ExternalNotFound(f"Toggl workspace {self.workspace_id} has no project {project_id}.",
                                   service=SERVICE) from None

    def _payload(self, spec: ProjectSpec) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": spec.name, "client_id": int(spec.client_id) if spec.client_id else None, "active": spec.active,
            "start_date": spec.start_date.isoformat() if spec.start_date else None,
            "end_date": spec.end_date.isoformat() if spec.end_date else None,
            "billable": spec.billable, "estimated_hours": spec.estimated_hours,
            "fixed_fee": float(spec.fixed_fee) if spec.fixed_fee is not None else None,
        }
        if not self._premium:  # the docs ask clients not to send what the plan lacks (it would be a 402)
            for key in PREMIUM_PROJECT_FIELDS:
                body.pop(key)
        return body

    def create_project(self, spec: ProjectSpec) -> ExternalProject:
        body = {**self._payload(spec), "external_reference": spec.external_reference or None}
        api = self._api()
        try:
            # After a lost answer the project is looked up by its external reference before creating it again.
            return api.create_once(lambda: _project(api.post(self._ws("/projects"), json=body).json()),
                                   lambda: self._project_made_for(spec))
        except ExternalServiceError as error:
            if error.details.get("toggl_message") != "Name has already been taken":
                raise
        # Same client and name: ours when it carries our reference (an earlier answer was lost), else a clash.
        existing = self._project_made_for(spec)
        if existing is not None:
            return existing
        raise ExternalServiceError(
            f"Toggl already has a project named {spec.name!r} for this client. Rename the offering, or use "
            "Connect Existing to link that project.", service=SERVICE, status_code=400)

    def _project_made_for(self, spec: ProjectSpec) -> ExternalProject | None:
        """The project an earlier create of `spec` made: same name and the offering's external reference."""
        if not spec.external_reference:
            return None
        return next((p for p in self.list_projects(include_archived=True, name=spec.name)
                     if p.external_reference == spec.external_reference), None)

    def update_project(self, project_id: str, spec: ProjectSpec,
                       current: ExternalProject | None = None) -> ExternalProject:
        body = self._payload(spec)
        if current is not None:
            now = self._payload(ProjectSpec(
                name=current.name, client_id=current.client_id, active=current.active,
                billable=bool(current.billable), start_date=current.start_date, end_date=current.end_date,
                estimated_hours=current.estimated_hours, fixed_fee=current.fixed_fee))
            if current.billable is None:
                now["billable"] = None
            body = {k: v for k, v in body.items() if now.get(k) != v}
            if not body:
                return current
        return _project(self._api().put(self._ws(f"/projects/{int(project_id)}"), json=body).json())

    def project_url(self, project_id: str) -> str:
        return f"{self.config['TOGGL_APP_URL'].rstrip('/')}/{self.connection.account_id}/projects/{project_id}/team"

    def project_id_from_url(self, text: str) -> str | None:
        text = (text or "").strip()
        if text.isdigit():
            return text
        match = _PROJECT_URL.search(text)
        if match:
            workspace, project = match.groups()
            if self.connection.account_id and workspace != str(self.connection.account_id):
                raise InvalidInput(f"That link is to a project of Toggl workspace {workspace}; the connected "
                                   f"workspace is {self.connection.account_id}.",
                                   fields={"project": "A project of another workspace."})
            return project
        match = _PROJECT_IN_TEXT.search(text)
        return match.group(1) if match else None

    # People and team ------------------------------------------------------------------------------
    def list_members(self) -> list[ExternalMember]:
        rows = self._api().request_json("GET", self._ws("/users"))[0] or []
        return [ExternalMember(id=str(r["id"]), email=r.get("email") or "", name=r.get("fullname") or "",
                               active=not r.get("inactive") and r.get("is_active", True)) for r in rows]

    def list_project_users(self, project_id: str) -> list[ExternalProjectUser]:
        rows = self._api().get(self._ws("/project_users"), params={"project_ids": int(project_id)}).json() or []
        return [_project_user(r) for r in rows]

    def add_project_user(self, project_id: str, user_id: str, rate: Decimal | None) -> ExternalProjectUser:
        """Right after a project is created Toggl may not know it yet ("Invalid project_id" for a few
        seconds, TG-DOCS): wait and ask again, up to CONSISTENCY_RETRIES times, before calling it missing."""
        body: dict[str, Any] = {"project_id": int(project_id), "user_id": int(user_id), "manager": False}
        if rate is not None and self._premium:
            body.update(rate=float(rate), rate_change_mode="start-today")
        for attempt in range(CONSISTENCY_RETRIES + 1):
            try:
                return self._create_project_user(body)
            except ExternalNotFound as error:
                if error.status_code != 400 or attempt == CONSISTENCY_RETRIES:
                    raise
                self._sleep(self.consistency_wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _create_project_user(self, body: dict[str, Any]) -> ExternalProjectUser:
        """Sent once: after a lost answer the (project, user) row is looked up before asking again (a repeat
        would only meet "Project user already exists")."""
        api = self._api()
        return api.create_once(
            lambda: _project_user(api.post(self._ws("/project_users"), json=body).json()),
            lambda: next((pu for pu in self.list_project_users(str(body["project_id"]))
                          if pu.user_id == str(body["user_id"])), None))

    def update_project_user(self, project_user_id: str, rate: Decimal | None) -> ExternalProjectUser:
        # "start-today": the new rate applies from now on; past time keeps the rate it was logged at.
        body = {"rate": float(rate) if rate is not None else None, "rate_change_mode": "start-today"}
        return _project_user(self._api().put(self._ws(f"/project_users/{int(project_user_id)}"), json=body).json())

    def remove_project_user(self, project_user_id: str) -> None:
        self._api().delete(self._ws(f"/project_users/{int(project_user_id)}"))

    # Time (Reports v3) and webhooks (Webhooks v1) -------------------------------------------------
    def time_entry_pages(self, start: date, end: date, project_ids: list[str] | None = None, *,
                         newest_first: bool = False) -> Iterator[TimeEntryPage]:
        """The detailed report of the whole workspace (one query stream, not one per project), ungrouped so
        each row is one entry. Reports leave out running and deleted entries (an UNCONFIRMED behaviour the
        sandbox follows): the sync finds deletions by reconciling, and running timers through webhooks."""
        body: dict[str, Any] = {"start_date": start.isoformat(), "end_date": end.isoformat(), "grouped": False,
                                "enrich_response": True, "page_size": self.report_page_size,
                                "order_by": "last_update" if newest_first else "date",
                                "order_dir": "DESC" if newest_first else "ASC"}
        if project_ids:
            body["project_ids"] = [int(p) for p in project_ids]
        # Resolved now, not when the pages are read: they may be read in another thread (sync.read_ahead),
        # which must not touch the database rows the connection holds.
        api, path = self._api("reports"), f"workspace/{self.workspace_id}/search/time_entries"
        return self._report_pages(api, path, body)

    def _report_pages(self, api: TogglApi, path: str, body: dict[str, Any]) -> Iterator[TimeEntryPage]:
        while True:
            rows, response = api.request_json("POST", path, json=body, idempotent=True)  # a search reads
            entries = [_entry(entry, self._zone, user_id=row["user_id"], project_id=row.get("project_id"),
                              billable=row.get("billable"), description=row.get("description"),
                              seconds=entry["seconds"], email=row.get("email") or "", name=row.get("username") or "",
                              raw=row)
                       for row in rows or [] for entry in row.get("time_entries") or []]
            next_row = response.headers.get("X-Next-Row-Number")
            yield TimeEntryPage(entries, int(next_row) if next_row else None)
            if not next_row:
                return
            body["first_row_number"] = int(next_row)
            if response.headers.get("X-Next-ID"):
                body["first_id"] = int(response.headers["X-Next-ID"])

    def entry_ids(self, start: date, end: date, project_ids: list[str]) -> set[str] | None:
        """The summary report of the window with `include_time_entry_ids`: one request lists the id of every
        entry it sums (grouped by project, then user). None when Toggl left the ids out of a group that has
        time (the caller must then not take missing ids for deletions)."""
        body = {"start_date": start.isoformat(), "end_date": end.isoformat(), "grouping": "projects",
                "sub_grouping": "users", "include_time_entry_ids": True, "rounding": 0,
                "project_ids": [int(p) for p in project_ids]}
        report = self._api("reports").request_json(
            "POST", f"workspace/{self.workspace_id}/summary/time_entries", json=body, idempotent=True)[0] or {}
        ids: set[str] = set()
        for group in report.get("groups") or []:
            for sub in group.get("sub_groups") or []:
                listed = sub.get("ids", sub.get("time_entry_ids"))
                if listed is None:
                    if sub.get("seconds"):
                        return None
                    continue
                ids.update(str(i) for i in listed)
        return ids

    def daily_totals(self, start: date, end: date, project_ids: list[str]) -> dict[tuple[date, str, str], int]:
        """The weekly report, a week (7 days) a request: `seconds` holds one value a day from the range's
        first day (X-Range-Start when Toggl names it), per user and project; values past the range (a total
        column, should one come) are ignored. Rounding is off so the seconds are the entries' own."""
        totals: dict[tuple[date, str, str], int] = {}
        api, path = self._api("reports"), f"workspace/{self.workspace_id}/weekly/time_entries"
        first = start
        while first <= end:
            last = min(end, first + timedelta(days=WEEK - 1))
            body = {"start_date": first.isoformat(), "end_date": last.isoformat(), "rounding": 0,
                    "project_ids": [int(p) for p in project_ids]}
            rows, response = api.request_json("POST", path, json=body, idempotent=True)  # a report reads
            begins = _day(response.headers.get("X-Range-Start")) or first
            days = (last - begins).days + 1
            for row in rows or []:
                for offset, seconds in enumerate((row.get("seconds") or [])[:days]):
                    if seconds:
                        key = (begins + timedelta(days=offset), str(row.get("user_id")),
                               str(row.get("project_id") or ""))
                        totals[key] = totals.get(key, 0) + int(seconds)
            first = last + timedelta(days=1)
        return totals

    def time_entry_url(self, entry: ExternalTimeEntry) -> str:
        # Toggl has no page per entry; its detailed report of that day and person shows it (the URL shape
        # is UNCONFIRMED; the sandbox serves it).
        day = entry.work_date.isoformat()
        return f"{self._reports_url}/from/{day}/to/{day}/users/{entry.user_id}"

    def parse_webhook(self, body: bytes) -> WebhookDelivery:
        """A Webhooks v1 delivery: PING (with `validation_code` until validated) or a time_entry event whose
        payload is the v9 entry; a deletion carries the entry with `server_deleted_at` (UNCONFIRMED shape).
        Every field the portal reads is held to Toggl's documented type (inputs.BadShape naming it otherwise)."""
        event = inputs.json_object(inputs.json_document(body), "event", required=True)
        event_id = inputs.json_id(event.get("event_id"), "event_id", required=True)
        sent_at = inputs.json_instant(event.get("timestamp"), "timestamp")
        metadata = inputs.json_object(event.get("metadata"), "metadata")
        if event.get("payload") == "ping":
            code = inputs.json_text(event.get("validation_code"), "validation_code", 200)
            return WebhookDelivery(event_id=event_id, sent_at=sent_at, validation_code=code or None, raw=event)
        entity = inputs.json_text(metadata.get("model"), "metadata.model", 40)
        action = inputs.json_text(metadata.get("action"), "metadata.action", 20)
        payload = inputs.json_object(event.get("payload"), "payload")
        entry = None
        if entity == "time_entry" and payload.get("id") and payload.get("start"):
            deleted = action == "deleted" or inputs.json_instant(payload.get("server_deleted_at"),
                                                                 "payload.server_deleted_at") is not None
            inputs.json_id(payload["id"], "payload.id", required=True)
            inputs.json_instant(payload["start"], "payload.start", required=True)
            inputs.json_instant(payload.get("at"), "payload.at")
            entry = _entry(payload, self._zone,
                           user_id=inputs.json_id(payload.get("user_id"), "payload.user_id")
                           or inputs.json_id(metadata.get("model_owner_id"), "metadata.model_owner_id"),
                           project_id=inputs.json_id(payload.get("project_id"), "payload.project_id"),
                           billable=inputs.json_bool(payload.get("billable"), "payload.billable"),
                           description=inputs.json_text(payload.get("description"), "payload.description",
                                                        MAX_DESCRIPTION),
                           seconds=inputs.json_whole(payload.get("duration"), "payload.duration", MAX_SECONDS) or 0,
                           deleted=deleted)
        return WebhookDelivery(event_id=event_id, sent_at=sent_at, entity=entity or "unknown", action=action,
                               entry=entry, raw=event)

    def list_webhooks(self) -> list[ExternalWebhook]:
        rows = self._api("webhooks").request_json("GET", f"subscriptions/{self.workspace_id}")[0] or []
        return [self._webhook(r) for r in rows]

    def create_webhook(self, url: str, description: str, secret: str | None = None) -> ExternalWebhook:
        body: dict[str, Any] = {"url_callback": url, "description": description, "enabled": True,
                                "event_filters": [{"entity": "time_entry", "action": "*"}]}
        if secret:
            body["secret"] = secret
        api = self._api("webhooks")
        return api.create_once(
            lambda: self._webhook(api.post(f"subscriptions/{self.workspace_id}", json=body).json()),
            lambda: next((w for w in self.list_webhooks() if w.url == url), None))

    def delete_webhook(self, webhook_id: str) -> None:
        self._api("webhooks").delete(f"subscriptions/{self.workspace_id}/{int(webhook_id)}")

    def verify_webhook(self, body: bytes, headers: dict[str, str], secret: str) -> bool:
        signature = next((v for k, v in headers.items() if k.lower() == "x-webhook-signature-256"), "")
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature, expected)

    @staticmethod
    def _webhook(row: dict[str, Any]) -> ExternalWebhook:
        return ExternalWebhook(id=str(row["subscription_id"]), url=row.get("url_callback", ""),
                               description=row.get("description", ""), enabled=bool(row.get("enabled")),
                               validated=bool(row.get("validated_at")), secret=row.get("secret") or "")
