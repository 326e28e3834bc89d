"""The Procore connector: REST v1.0 over httpx, as ../shared/reference/external-apis.md part B describes.

- OAuth 2.0: client credentials (a service account installed in the company), or an authorization
  code whose refresh tokens are single-use: every refresh returns a new pair, which is saved (encrypted)
  the moment it is issued, under a Redis lock so two workers never spend the same refresh token.
- Every API call carries `Authorization: Bearer …` and `Procore-Company-Id`.
- Lists page with page/per_page, reading `Total` and the `Link` rel="next"; time cards are listed by
  `filters[updated_at]` / `filters[deleted_at]` ranges written `start...end`.
- 429 and 503 are retried by portal.integrations.http, waiting as long as `Retry-After` or
  `X-Rate-Limit-Reset` says (bounded; the limits are read from the headers, never assumed). The wait is kept
  in Redis for the connection (`rate_limit_pause`), so every worker waits until the reset instead of asking
  again; a wait longer than the bound fails with RateLimited and the message is deferred until then.
- A create is sent once: after a lost answer the card (by its origin), hook or trigger is looked up first.

The base URL (API and OAuth host alike) is PROCORE_API_BASE_URL, so the loopback sandbox stands in for
Procore in the demo and the tests.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portal.errors import ExternalServiceError
from portal.extensions import db
from portal.integrations import connectors
from portal.integrations.connectors import (
    AccountInfo,
    ExternalMember,
    ExternalProject,
    TimesheetConnector,
)
from portal.integrations.http import ApiClient, AuthenticationFailed, ExternalNotFound, SharedPause
from portal.integrations.models import Connection
from portal.integrations.procore.records import Timecard, format_instant, ref
from portal.queue import redis_connection

log = logging.getLogger(__name__)

API = "rest/v1.0"
TIMECARD_RESOURCE = "Timecard Entries"
EVENT_TYPES = ("create", "update", "delete")
# The redirect URI of apps that show the code to the user instead of redirecting (Procore's docs).
OOB_REDIRECT = "urn:ietf:wg:oauth:2.0:oob"
# Refresh a token this long before Procore says it expires (clock skew, a slow request).
TOKEN_MARGIN = 120
PER_PAGE = 100


def rate_limit_pause(connection_id: int) -> SharedPause:
    """Where Procore's "wait until T" for a connection is kept for every worker (and the activity page)."""
    return SharedPause(redis_connection(), f"portal:procore:pause:{connection_id}")


class GrantType:
    CLIENT_CREDENTIALS = "client_credentials"
    AUTHORIZATION_CODE = "authorization_code"


def project_web_url(base_url: str, project_id: str) -> str:
    """Where a person opens the project: Procore's web app lives on app.procore.com beside
    api.procore.com; the sandbox serves both from one address."""
    return f"{base_url.rstrip('/').replace('://api.', '://app.', 1)}/{project_id}/project/home"


def authorize_url(base_url: str, client_id: str, redirect_uri: str, state: str) -> str:
    """Where a person signs in at Procore to let the app act for them (the authorization code grant)."""
    params = httpx.QueryParams(response_type="code", client_id=client_id, redirect_uri=redirect_uri, state=state)
    return f"{base_url.rstrip('/')}/oauth/authorize?{params}"


class ProcoreApi(ApiClient):
    service = "Procore"

    def __init__(self, base_url: str, **kwargs: Any):
        super().__init__(base_url, **kwargs)
        self.rate_limit: dict[str, int] = {}
        self.client.event_hooks["response"].append(self._remember_rate_limit)

    def _remember_rate_limit(self, response: httpx.Response) -> None:
        values = {key: response.headers.get(f"X-Rate-Limit-{key.title()}") for key in ("limit", "remaining", "reset")}
        if all(v is not None and v.isdigit() for v in values.values()):
            self.rate_limit = {k: int(v) for k, v in values.items()}

    def error_message(self, response: httpx.Response) -> str:
        # Validation errors come as {"errors": {"party_id": ["is invalid"]}}: say them as a sentence.
        try:
            errors = response.json().get("errors")
        except (ValueError, AttributeError):
            errors = None
        if isinstance(errors, dict):
            return "; ".join(f"{field} {', '.join(map(str, v if isinstance(v, list) else [v]))}"
                             for field, v in errors.items())
        return super().error_message(response)

    def wait_hint(self, response: httpx.Response) -> float | None:
        hint = super().wait_hint(response)
        if hint is not None:
            return hint
        reset = response.headers.get("X-Rate-Limit-Reset")
        if response.status_code == 429 and reset and reset.isdigit():
            return max(0.0, int(reset) - time.time())
        return None


class _BearerAuth(httpx.Auth):
    """Adds the access token; on a 401 (expired early, revoked and re-issued) refreshes once and retries."""

    def __init__(self, connector: ProcoreConnector):
        self.connector = connector

    def auth_flow(self, request: httpx.Request):
        token = self.connector.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {self.connector.access_token(stale=token)}"
            yield request


class CredentialStore:
    """The connection's secrets, read and written in their own short transaction: a rotated refresh
    token is saved the moment Procore issues it, whatever the caller's transaction does afterwards. The
    caller's session is never committed, rolled back or queried from here."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.connection_id = connection.id

    def _session(self) -> Session:
        return Session(bind=db.session.get_bind(), join_transaction_mode="create_savepoint")

    def load(self) -> dict[str, Any]:
        with self._session() as side:
            raw = side.scalar(select(Connection.credentials).where(Connection.id == self.connection_id))
        return json.loads(raw) if raw else {}

    def save(self, credentials: dict[str, Any]) -> None:
        """Store rotated credentials now, in their own transaction; the caller's is left alone (it holds no
        transaction across HTTP calls, so on SQLite no snapshot older than this write is kept to write from)."""
        raw = json.dumps(credentials)
        with self._session() as side:
            side.execute(update(Connection).where(Connection.id == self.connection_id).values(credentials=raw))
            side.commit()
        set_committed_value(self.connection, "credentials", raw)


class ProcoreConnector(TimesheetConnector):
    kind = "procore"
    label = "Procore"
    settings_endpoint = "procore.settings_page"
    account_noun = "company"
    project_reference_example = "4500000000001 or https://app.procore.com/4500000000001/project/home"
    # Offerings connect to existing Procore projects. Time cards and webhooks are replicated by this package
    # (replica, receiving, sending; its own settings page), not by Toggl's time sync.
    capabilities = frozenset({connectors.CONNECT})

    def __init__(self, connection: Connection, config: dict[str, Any] | None = None, *, interactive: bool = False,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None):
        super().__init__(connection, config, interactive=interactive)
        self.base_url = self.config["PROCORE_API_BASE_URL"].rstrip("/")
        self.company_id = str(connection.account_id or "")
        self.store = CredentialStore(connection)
        self._credentials = json.loads(connection.credentials) if connection.credentials else {}
        common = dict(sleep=sleep, transport=transport, max_wait=self.max_wait, timeout=self.timeout,
                      backoff_base=self.backoff_base)
        self.api = ProcoreApi(self.base_url, auth=_BearerAuth(self), headers={"Procore-Company-Id": self.company_id},
                              pause=rate_limit_pause(connection.id) if connection.id else None, **common)
        self.oauth = ProcoreApi(self.base_url, **common)

    def close(self) -> None:
        self.api.close()
        self.oauth.close()

    @property
    def requests(self) -> int:
        return self.api.requests + self.oauth.requests

    # OAuth -------------------------------------------------------------------------------------
    @contextmanager
    def _token_lock(self) -> Iterator[None]:
        """One refresh at a time per connection, across processes: a refresh token works once."""
        lock = redis_connection().lock(f"portal:procore:token:{self.store.connection_id}", timeout=60,
                                       blocking_timeout=90)
        if not lock.acquire():
            raise ExternalServiceError("Another worker is renewing the Procore token and has not finished; "
                                       "try again in a minute.", service="Procore")
        try:
            yield
        finally:
            try:
                lock.release()
            except Exception:  # expired while we worked: nothing left to release
                log.warning("the Procore token lock expired before it was released")

    @staticmethod
    def _usable(credentials: dict[str, Any]) -> bool:
        return bool(credentials.get("access_token")) and credentials.get("expires_at", 0) > time.time() + TOKEN_MARGIN

    def access_token(self, stale: str | None = None) -> str:
        """A valid access token; `stale` is one Procore just refused, so it must not be returned again."""
        if stale is None and self._usable(self._credentials):
            return self._credentials["access_token"]
        with self._token_lock():
            credentials = self.store.load()
            if not self._usable(credentials) or credentials.get("access_token") == stale:
                credentials = self._grant(credentials)
                self.store.save(credentials)
        self._credentials = credentials
        return credentials["access_token"]

    def _grant(self, credentials: dict[str, Any]) -> dict[str, Any]:
        grant = credentials.get("grant", GrantType.CLIENT_CREDENTIALS)
        form = {"client_id": credentials.get("client_id", ""), "client_secret": credentials.get("client_secret", "")}
        if grant == GrantType.CLIENT_CREDENTIALS:
            form["grant_type"] = "client_credentials"
        elif credentials.get("refresh_token"):
            form.update(grant_type="refresh_token", refresh_token=credentials["refresh_token"])
        elif credentials.get("code"):
            form.update(grant_type="authorization_code", code=credentials["code"],
                        redirect_uri=credentials.get("redirect_uri") or OOB_REDIRECT)
        else:
            raise AuthenticationFailed("The portal holds no Procore authorization; connect to Procore again.",
                                       service="Procore")
        try:
            # Sent again after a lost answer: a client-credentials grant simply repeats, and a code or refresh
            # token is single-use, so a repeat either succeeds (the first never arrived) or is refused as used.
            body = self.oauth.request("POST", "oauth/token", data=form, idempotent=True).json()
        except ExternalServiceError as error:
            if error.status_code in (400, 401, 403):
                raise AuthenticationFailed(self._grant_refusal(form["grant_type"], error), service="Procore",
                                           status_code=error.status_code) from None
            raise
        fresh = {k: v for k, v in credentials.items() if k != "code"}
        fresh["access_token"] = body["access_token"]
        fresh["expires_at"] = time.time() + int(body.get("expires_in", 5400))
        if body.get("refresh_token"):
            fresh["refresh_token"] = body["refresh_token"]
        return fresh

    @staticmethod
    def _grant_refusal(grant_type: str, error: ExternalServiceError) -> str:
        detail = error.message.split(": ", 1)[-1]
        if grant_type == "refresh_token":
            # Single-use: when a renewal reached Procore and its answer was lost, the token is spent and the new
            # pair with it. Nothing the portal sends can bring it back; a person must sign in again.
            return ("Procore refused the stored refresh token: it was already used (a renewal reached Procore "
                    "but its answer was lost) or it was revoked. Sign in to Procore again under Admin → "
                    f"Integrations → Procore; nothing is retried until then. Procore said: {detail}")
        if grant_type == "authorization_code":
            return f"Procore refused the authorization code (they expire after 10 minutes; sign in again): {detail}"
        return ("Procore refused the client id and secret: check them in the Procore Developer Portal and that "
                f"the app is still installed in the company. Procore said: {detail}")

    # Account -------------------------------------------------------------------------------------
    def validate(self) -> AccountInfo:
        """Credentials work and the app may act in the company; returns the company's name in Procore."""
        if not self.company_id.isdigit():
            raise ExternalServiceError("A Procore company id is a number (find it in Procore's address bar).",
                                       service="Procore")
        try:
            companies = self.api.get(f"{API}/companies").json()
        except AuthenticationFailed as error:
            if error.status_code == 403:
                raise AuthenticationFailed(
                    f"Procore says the app is not connected to company {self.company_id}: check the company id, "
                    "and that the app is installed in that company with access to its projects.",
                    service="Procore", status_code=403) from None
            raise
        company = next((c for c in companies if str(c.get("id")) == self.company_id), None)
        if company is None:
            raise ExternalServiceError(f"Company {self.company_id} is not among the companies these credentials "
                                       "can reach in Procore; check the company id.", service="Procore")
        me = self.api.get(f"{API}/me").json()
        return AccountInfo(account_name=company.get("name", ""), external_user_id=str(me.get("id", "")),
                           user_email=me.get("login", ""))

    # Paging --------------------------------------------------------------------------------------
    def _pages(self, path: str, params: dict[str, Any] | None = None,
               on_total: Callable[[int], None] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every page of a list, following `Link: rel="next"` (its page number, on our own path and host)."""
        query = {**(params or {}), "page": 1, "per_page": PER_PAGE}
        while True:
            response = self.api.get(path, params=query)
            if on_total is not None and response.headers.get("Total", "").isdigit():
                on_total(int(response.headers["Total"]))
            yield response.json()
            following = response.links.get("next")
            if not following:
                return
            page = parse_qs(urlsplit(following["url"]).query).get("page", [""])[0]
            if not page.isdigit() or int(page) <= query["page"]:
                return
            query["page"] = int(page)

    def _all(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [item for page in self._pages(path, params) for item in page]

    # Projects ------------------------------------------------------------------------------------
    @staticmethod
    def _project(data: dict[str, Any]) -> ExternalProject:
        number = data.get("project_number") or ""
        name = data.get("display_name") or (f"{number} - {data.get('name')}" if number else data.get("name", ""))
        return ExternalProject(
            id=str(data["id"]), name=name, active=bool(data.get("active", True)),
            start_date=date.fromisoformat(data["start_date"]) if data.get("start_date") else None,
            end_date=date.fromisoformat(data["completion_date"]) if data.get("completion_date") else None,
            raw=data,
        )

    def list_projects(self, include_archived: bool = False) -> list[ExternalProject]:
        params = {"company_id": self.company_id, "filters[by_status]": "All" if include_archived else "Active"}
        return [self._project(p) for p in self._all(f"{API}/projects", params)]

    def get_project(self, project_id: str) -> ExternalProject:
        found = self.api.get(f"{API}/projects/{project_id}", params={"company_id": self.company_id})
        return self._project(found.json())

    def project_url(self, project_id: str) -> str:
        return project_web_url(self.base_url, project_id)

    def project_id_from_url(self, text: str) -> str | None:
        text = (text or "").strip()
        if text.isdigit():
            return text
        found = re.search(r"/(\d+)/project(?:/|$)", text) or re.search(r"[?&]project_id=(\d+)", text)
        return found.group(1) if found else None

    # People --------------------------------------------------------------------------------------
    @staticmethod
    def _person(data: dict[str, Any]) -> ExternalMember:
        """A Company People record (the `party` of a time card)."""
        contact = ref(data.get("contact"))
        name = data.get("name") or " ".join(p for p in (data.get("first_name"), data.get("last_name")) if p)
        email = (contact.get("email") or data.get("email_address") or "").strip().lower()
        return ExternalMember(id=str(data["id"]), email=email, name=name or "",
                              active=bool(contact.get("is_active", True)))

    def list_members(self) -> list[ExternalMember]:
        return [self._person(p) for p in self._all(f"{API}/companies/{self.company_id}/people")]

    def get_person(self, person_id: str, hint: str = "") -> ExternalMember | None:
        """A Company People record by id. The published API reads people only as a list (with filters), so
        search it for `hint` (the email or name the time card carries), and page through all of it only when
        that misses (renamed since)."""
        path = f"{API}/companies/{self.company_id}/people"
        for params in ([{"filters[search]": hint.strip()}] if hint.strip() else []) + [{}]:
            for page in self._pages(path, params):
                found = next((row for row in page if str(row.get("id")) == str(person_id)), None)
                if found is not None:
                    return self._person(found)
        return None

    def find_person(self, email: str) -> ExternalMember | None:
        wanted = email.strip().lower()
        found = self._all(f"{API}/companies/{self.company_id}/people", {"filters[search]": wanted})
        return next((p for p in map(self._person, found) if p.email == wanted), None)

    # Reference data --------------------------------------------------------------------------------
    def time_types(self) -> list[dict[str, str]]:
        rows = self.api.get(f"{API}/companies/{self.company_id}/timecard_time_types").json()  # unpaged
        return [{"id": str(r["id"]), "name": r.get("time_type", ""), "code": r.get("abbreviated_time_type", "")}
                for r in rows]

    def cost_codes(self, project_id: str) -> list[dict[str, str]]:
        rows = self._all(f"{API}/cost_codes", {"project_id": project_id})
        return [{"id": str(r["id"]), "code": r.get("full_code") or r.get("code", ""), "name": r.get("name", "")}
                for r in rows if not r.get("deleted_at")]

    # Timecard entries ----------------------------------------------------------------------------
    def _entries_path(self, entry_id: str | None = None) -> str:
        base = f"{API}/companies/{self.company_id}/timecard_entries"
        return f"{base}/{entry_id}" if entry_id else base

    def get_timecard(self, entry_id: str) -> Timecard | None:
        """The entry's current state; None once it is deleted (Procore answers 404)."""
        try:
            return Timecard.from_json(self.api.get(self._entries_path(entry_id)).json())
        except ExternalNotFound:
            return None

    def timecard_pages(self, work_dates: tuple[date, date], *, updated_between: tuple[datetime, datetime] | None = None,
                       deleted_between: tuple[datetime, datetime] | None = None, params: dict[str, Any] | None = None,
                       on_total: Callable[[int], None] | None = None) -> Iterator[list[Timecard]]:
        """Cards whose work date is within `work_dates`, always sent as start_date/end_date: without them Procore
        applies a default window it does not document (its docs say to always send dates)."""
        query: dict[str, Any] = {**(params or {}), "start_date": work_dates[0].isoformat(),
                                 "end_date": work_dates[1].isoformat()}
        for key, window in (("updated_at", updated_between), ("deleted_at", deleted_between)):
            if window:
                query[f"filters[{key}]"] = f"{format_instant(window[0])}...{format_instant(window[1])}"
        for page in self._pages(self._entries_path(), query, on_total):
            yield [Timecard.from_json(item) for item in page]

    def find_timecard_by_origin(self, work_date: date, party_id: str, origin_data: str) -> Timecard | None:
        """The entry we created for `origin_data`, when a create reached Procore but its answer was lost."""
        for page in self.timecard_pages((work_date, work_date), params={"filters[party_id][]": party_id}):
            for card in page:
                if card.origin_data == origin_data:
                    return card
        return None

    def create_timecard(self, project_id: str, fields: dict[str, Any]) -> Timecard:
        """Create a card once: after a lost answer it is looked up by its origin before being sent again."""
        body = {"project_id": int(project_id), "timecard_entry": fields}
        return self.api.create_once(
            lambda: Timecard.from_json(self.api.post(self._entries_path(), json=body).json()),
            lambda: self.find_timecard_by_origin(date.fromisoformat(fields["date"]), str(fields["party_id"]),
                                                 fields["origin_data"]))

    def update_timecard(self, entry_id: str, project_id: str, fields: dict[str, Any]) -> Timecard:
        body = {"project_id": int(project_id), "timecard_entry": fields}
        return Timecard.from_json(self.api.patch(self._entries_path(entry_id), json=body).json())

    def delete_timecard(self, entry_id: str) -> bool:
        """True when Procore deleted it, False when it was already gone."""
        try:
            self.api.delete(self._entries_path(entry_id))
        except ExternalNotFound:
            return False
        return True

    # Webhooks ------------------------------------------------------------------------------------
    def list_hooks(self, namespace: str) -> list[dict[str, Any]]:
        return self.api.get(f"{API}/webhooks/hooks", params={"company_id": self.company_id,
                                                             "namespace": namespace}).json()

    def create_hook(self, namespace: str, destination_url: str, authorization: str) -> dict[str, Any]:
        body = {"company_id": int(self.company_id),
                "hook": {"api_version": "v2", "namespace": namespace, "destination_url": destination_url,
                         "destination_headers": {"Authorization": authorization}}}
        return self.api.create_once(
            lambda: self.api.post(f"{API}/webhooks/hooks", json=body).json(),
            lambda: next((h for h in self.list_hooks(namespace) if h.get("destination_url") == destination_url),
                         None))

    def delete_hook(self, hook_id: str) -> bool:
        try:
            self.api.delete(f"{API}/webhooks/hooks/{hook_id}", params={"company_id": self.company_id})
        except ExternalNotFound:
            return False
        return True

    def list_triggers(self, hook_id: str) -> list[dict[str, Any]]:
        return self.api.get(f"{API}/webhooks/hooks/{hook_id}/triggers",
                            params={"company_id": self.company_id}).json()

    def create_trigger(self, hook_id: str, event_type: str, resource_name: str = TIMECARD_RESOURCE) -> dict[str, Any]:
        body = {"company_id": int(self.company_id), "api_version": "v2",
                "trigger": {"resource_name": resource_name, "event_type": event_type}}
        return self.api.create_once(
            lambda: self.api.post(f"{API}/webhooks/hooks/{hook_id}/triggers", json=body).json(),
            lambda: next((t for t in self.list_triggers(hook_id) if t.get("resource_name") == resource_name
                          and str(t.get("event_type", "")).lower() == event_type), None))
