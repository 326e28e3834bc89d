"""The Toggl Track sandbox's world: users, organizations and their plans, workspaces and members,
clients, projects, project users, time entries and webhook subscriptions, plus the quota windows and
the leaky bucket every request is charged to.

Records are kept in the shape the real API answers with (../shared/reference/external-apis.md part A),
so handlers mostly copy them out. Behaviour the reference marks UNCONFIRMED is decided here, once, and
the connector (portal/integrations/toggl/connector.py) relies on the same decisions:

- no Authorization header: 401, empty body, X-Authorization-Missing; bad credentials (a regenerated token):
  403 with a text body "Incorrect username and/or password" (behaviour `auth_error_body`: "text", "json"
  for the same words as a JSON string, or "empty");
- a workspace that does not exist: 404; one that exists but the user is not in: 403 with a message;
- a project id that is not in the workspace: 400 "Invalid project_id" (the documented message);
- duplicate project (same client and name) or client name: 400 "Name has already been taken";
- the quota's 402 body is a message, and X-Toggl-Quota-Remaining is 0 (that is how a client tells a
  used-up quota from a plan that lacks a feature, which is also 402);
- 429 comes without Retry-After (behaviour `retry_after_on_429` adds it: seconds until the bucket has room);
- workspaces carry `role` and not the deprecated `admin` boolean (behaviour `admin_field` adds it back);
- a project is not known to project users for `project_lag_seconds` after its creation ("Invalid
  project_id", Toggl's eventual consistency), or until `project_lag_requests` of them were refused,
  whichever ends first (so tests need not wait);
- reports read their date range in each entry creator's own time zone (the user's `timezone`): the detailed
  search, the summary report (with `include_time_entry_ids`: each sub group lists its entries' `ids`) and
  the weekly report (`seconds` a day from start_date, at most 7 days); detailed pages hold at most
  `report_page_size` rows (50, Toggl's documented default, whatever page_size asks);
- the creator of a project gets a manager project-user row, public or private, so adding them again
  answers 400 "Project user already exists";
- GET projects answers only active projects unless `active` says false or both; per_page above 200
  is cut to 200.
"""

from __future__ import annotations

import itertools
import math
import random
import secrets
import threading
from collections import defaultdict, deque
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import request

from sandboxes.kit import Clock

PLAN_QUOTAS = {"free": 30, "starter": 240, "premium": 600, "enterprise": 6000}
USER_QUOTA = 30  # requests about the user itself (/me...), per hour, on every plan
WINDOW = 3600
# Behaviours of the real service the sandbox imitates, all on by default; tests and the demo switch them
# (POST /_sandbox/behaviours). Each has a test that fails without the connector's handling.
BEHAVIOURS = {"auth_error_body": "text", "retry_after_on_429": False, "admin_field": False,
              "project_lag_seconds": 3.0, "project_lag_requests": 1, "report_page_size": 50}
# Fields of a project or project user that need a paid plan (the reference's "*" fields).
PREMIUM_FIELDS = {"billable", "estimated_hours", "auto_estimates", "fixed_fee", "rate", "rate_change_mode",
                  "currency", "template", "recurring", "recurring_parameters", "labor_cost"}
ID_STARTS = {"user": 9_000_001, "organization": 5_000_001, "workspace": 7_000_001, "client": 60_000_001,
             "project": 200_000_001, "project_user": 110_000_001, "time_entry": 3_700_000_001,
             "subscription": 10_001, "event": 8_000_000_000_000_001}


class ApiError(Exception):
    """An answer other than 2xx: the body is a JSON string, as Toggl's are."""

    def __init__(self, status: int, message: str = "", headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def body_json() -> dict[str, Any]:
    """The request's JSON object; anything else is Toggl's 400."""
    if not request.data:
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "Invalid JSON input")
    return data


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_instant(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_day(value: Any, field: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise ApiError(400, f"Invalid {field}: {value!r}") from None


class TogglState:
    def __init__(self, clock: Clock):
        self.clock = clock
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        self.users: dict[int, dict[str, Any]] = {}
        self.tokens: dict[str, int] = {}
        self.organizations: dict[int, dict[str, Any]] = {}
        self.workspaces: dict[int, dict[str, Any]] = {}
        self.members: dict[tuple[int, int], dict[str, Any]] = {}
        self.clients: dict[int, dict[str, Any]] = {}
        self.projects: dict[int, dict[str, Any]] = {}
        self.project_users: dict[int, dict[str, Any]] = {}
        self.time_entries: dict[int, dict[str, Any]] = {}
        self.subscriptions: dict[int, dict[str, Any]] = {}
        self.deliveries: list[dict[str, Any]] = []
        # Bumped by every change to time entries: the reports' and projects' cached views follow it.
        self.entries_version = 0
        self.report_cache: dict[Any, tuple[int, list[dict[str, Any]]]] = {}
        self._project_seconds: tuple[int, dict[int, int]] = (-1, {})
        self.windows: dict[tuple[int, int | None], deque[float]] = defaultdict(deque)
        self.buckets: dict[str, tuple[float, float]] = {}
        self.latency = 0.0  # seconds every API answer takes (a slow server; tests catch a run mid-way)
        self.bucket_capacity = 60.0
        self.bucket_rate = 1.0  # requests leaking out per second: Toggl's "about 1 request per second"
        self.behaviours = dict(BEHAVIOURS)
        self.lagging: dict[int, list[float]] = {}  # new project id -> [created at (clock), refusals left]
        self._ids = {name: itertools.count(start) for name, start in ID_STARTS.items()}

    # What a restarted demo sandbox must remember (the portal keeps links to these records); quotas,
    # buckets and caches start afresh.
    PERSISTED = ("users", "tokens", "organizations", "workspaces", "clients", "projects", "project_users",
                 "time_entries", "subscriptions")

    def snapshot(self) -> dict[str, Any]:
        """The persistent records as JSON-ready data (dict items as pairs: keys stay ints, tuples lists)."""
        with self.lock:
            data: dict[str, Any] = {name: list(getattr(self, name).items()) for name in self.PERSISTED}
            data["members"] = [[list(key), value] for key, value in self.members.items()]
            return data

    def restore(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.reset()
            for name in self.PERSISTED:
                setattr(self, name, {key: value for key, value in data.get(name, [])})
            self.members = {tuple(key): value for key, value in data.get("members", [])}
            self.entries_changed()  # next_id skips ids in use, so new records never reuse restored ids

    def next_id(self, kind: str) -> int:
        """A fresh id of a kind, skipping ids a seed gave explicitly."""
        taken = {"user": self.users, "organization": self.organizations, "workspace": self.workspaces,
                 "client": self.clients, "project": self.projects, "project_user": self.project_users,
                 "time_entry": self.time_entries, "subscription": self.subscriptions}.get(kind, {})
        while (candidate := next(self._ids[kind])) in taken:
            pass
        return candidate

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    def entries_changed(self) -> None:
        self.entries_version += 1
        self.report_cache.clear()

    def today(self) -> str:
        return self.now().date().isoformat()

    # Limits ------------------------------------------------------------------------------------
    def drip(self, token: str) -> float | None:
        """Leaky bucket per token: None when the request fits, else seconds until it would."""
        now = self.clock.now()
        level, at = self.buckets.get(token, (0.0, now))
        level = max(0.0, level - (now - at) * self.bucket_rate)
        if level + 1 > self.bucket_capacity:
            self.buckets[token] = (level, now)
            return (level + 1 - self.bucket_capacity) / self.bucket_rate
        self.buckets[token] = (level + 1, now)
        return None

    def quota_limit(self, organization_id: int | None) -> int:
        if organization_id is None:
            return USER_QUOTA
        org = self.organizations[organization_id]
        return int(org.get("quota") or PLAN_QUOTAS.get(org["plan"], PLAN_QUOTAS["free"]))

    def charge(self, user_id: int, organization_id: int | None) -> tuple[bool, int, int]:
        """Count a request in the sliding hour of (user, organization); (allowed, remaining, resets_in)."""
        limit = self.quota_limit(organization_id)
        window = self.windows[(user_id, organization_id)]
        now = self.clock.now()
        while window and window[0] <= now - WINDOW:
            window.popleft()
        if len(window) >= limit:
            return False, 0, max(1, math.ceil(window[0] + WINDOW - now))
        window.append(now)
        return True, limit - len(window), max(1, math.ceil(window[0] + WINDOW - now))

    def quota_rows(self, user_id: int) -> list[dict[str, Any]]:
        rows = []
        orgs = {None} | {self.workspaces[w]["organization_id"] for (w, u) in self.members if u == user_id}
        for org in sorted(orgs, key=lambda o: (o is not None, o or 0)):
            limit = self.quota_limit(org)
            window = [t for t in self.windows[(user_id, org)] if t > self.clock.now() - WINDOW]
            resets = math.ceil(window[0] + WINDOW - self.clock.now()) if window else WINDOW
            rows.append({"organization_id": org, "remaining": max(0, limit - len(window)),
                         "resets_in_secs": resets, "total": limit})
        return rows

    # Lookups ------------------------------------------------------------------------------------
    def user_for_token(self, token: str) -> dict[str, Any] | None:
        user_id = self.tokens.get(token)
        return self.users.get(user_id) if user_id else None

    def user_by_email(self, email: str) -> dict[str, Any]:
        for user in self.users.values():
            if user["email"].lower() == email.lower():
                return user
        raise ApiError(400, f"No user with the email {email}")

    def workspace_for(self, user: dict[str, Any], wid: int) -> dict[str, Any]:
        workspace = self.workspaces.get(wid)
        if workspace is None:
            raise ApiError(404, "Workspace not found")
        if (wid, user["id"]) not in self.members:
            raise ApiError(403, "User does not have access to this resource.")
        return workspace

    def is_admin(self, wid: int, user_id: int) -> bool:
        return bool(self.members.get((wid, user_id), {}).get("admin"))

    def require_premium(self, workspace: dict[str, Any], body: dict[str, Any]) -> None:
        used = sorted(PREMIUM_FIELDS & {k for k, v in body.items() if v is not None})
        if used and not workspace["premium"]:
            raise ApiError(402, f"The fields {', '.join(used)} need a paid plan on this workspace.")

    def check_visible(self, project: dict[str, Any]) -> None:
        """Eventual consistency: a project created a moment ago is not known to project users yet."""
        lag = self.lagging.get(project["id"])
        if lag is None:
            return
        if self.clock.now() - lag[0] >= float(self.behaviours["project_lag_seconds"]) or lag[1] <= 0:
            del self.lagging[project["id"]]
            return
        lag[1] -= 1
        raise ApiError(400, "Invalid project_id")

    def user_zone(self, user_id: int) -> ZoneInfo:
        try:
            return ZoneInfo(self.users[user_id].get("timezone") or "UTC")
        except (KeyError, ZoneInfoNotFoundError):
            return ZoneInfo("UTC")

    def local_day(self, entry: dict[str, Any]) -> str:
        """The entry's date as its creator sees it (reports read date ranges in the creator's zone)."""
        return parse_instant(entry["start"]).astimezone(self.user_zone(entry["user_id"])).date().isoformat()

    def project_in(self, wid: int, project_id: Any) -> dict[str, Any]:
        try:
            project = self.projects.get(int(project_id))
        except (TypeError, ValueError):
            project = None
        if project is None or project["workspace_id"] != wid or project.get("server_deleted_at"):
            raise ApiError(400, "Invalid project_id")
        return project

    def client_in(self, wid: int, client_id: Any, status: int = 404) -> dict[str, Any]:
        try:
            client = self.clients.get(int(client_id))
        except (TypeError, ValueError):
            client = None
        if client is None or client["wid"] != wid:
            if status == 400:
                raise ApiError(400, f"Client with the ID {client_id} isn't present in workspace {wid}")
            raise ApiError(404, "Client not found")
        return client

    # Creation, shared by the API handlers and the admin seed -----------------------------------
    def new_user(self, email: str, fullname: str = "", api_token: str | None = None,
                 user_id: int | None = None, timezone: str = "UTC") -> dict[str, Any]:
        user_id = user_id or self.next_id("user")
        token = api_token or secrets.token_hex(16)
        now = stamp(self.now())
        user = {"id": user_id, "email": email, "fullname": fullname or email.split("@")[0], "api_token": token,
                "timezone": timezone or "UTC", "default_workspace_id": None, "beginning_of_week": 1, "image_url": "",
                "created_at": now, "updated_at": now, "at": now}
        self.users[user_id] = user
        self.tokens[token] = user_id
        return user

    def new_organization(self, name: str, plan: str = "premium", org_id: int | None = None,
                         quota: int | None = None) -> dict[str, Any]:
        org_id = org_id or self.next_id("organization")
        self.organizations[org_id] = {"id": org_id, "name": name, "plan": plan, "quota": quota}
        return self.organizations[org_id]

    def new_workspace(self, name: str, organization_id: int, *, workspace_id: int | None = None,
                      premium: bool = True, projects_private_by_default: bool = True,
                      only_admins_may_create_projects: bool = False) -> dict[str, Any]:
        wid = workspace_id or self.next_id("workspace")
        self.workspaces[wid] = {
            "id": wid, "organization_id": organization_id, "name": name, "premium": premium,
            "business_ws": premium, "projects_private_by_default": projects_private_by_default,
            "only_admins_may_create_projects": only_admins_may_create_projects, "default_hourly_rate": None,
            "default_currency": "USD", "rounding": 1, "rounding_minutes": 0, "at": stamp(self.now()),
        }
        return self.workspaces[wid]

    def add_member(self, wid: int, user_id: int, admin: bool = False, active: bool = True,
                   rate: float | None = None) -> dict[str, Any]:
        member = {"id": self.next_id("user") + 50_000_000, "admin": admin, "active": active, "rate": rate}
        self.members[(wid, user_id)] = member
        user = self.users[user_id]
        if user["default_workspace_id"] is None:
            user["default_workspace_id"] = wid
        return member

    def new_client(self, wid: int, creator_id: int, body: dict[str, Any]) -> dict[str, Any]:
        name = (body.get("name") or "").strip()
        if not name:
            raise ApiError(400, "Client name must not be empty")
        if len(name) > 100:
            raise ApiError(400, "Client name must be 100 characters or less")
        if any(c["wid"] == wid and c["name"].lower() == name.lower() for c in self.clients.values()):
            raise ApiError(400, "Name has already been taken")
        client_id = body.get("id") or self.next_id("client")
        self.clients[client_id] = {
            "id": client_id, "wid": wid, "name": name, "notes": body.get("notes"), "archived": False,
            "at": stamp(self.now()), "creator_id": creator_id, "external_reference": body.get("external_reference"),
            "integration_ext_id": None, "integration_ext_type": None, "integration_provider": None,
            "permissions": None,
        }
        return self.clients[client_id]

    def check_project(self, wid: int, project_id: int | None, values: dict[str, Any]) -> None:
        if not (values.get("name") or "").strip():
            raise ApiError(400, "Project name must not be empty")
        if values.get("client_id") is not None:
            self.client_in(wid, values["client_id"], status=400)
        for p in self.projects.values():
            if (p["workspace_id"] == wid and p["id"] != project_id and not p.get("server_deleted_at")
                    and p["client_id"] == values.get("client_id") and p["name"].lower() == values["name"].lower()):
                raise ApiError(400, "Name has already been taken")
        estimate = values.get("estimated_hours")
        if estimate is not None and (not isinstance(estimate, int) or isinstance(estimate, bool) or estimate < 0):
            raise ApiError(400, "estimated_hours must be a non-negative integer")
        if values.get("start_date") and values.get("end_date") and values["end_date"] < values["start_date"]:
            raise ApiError(400, "End date must not be before start date")

    def new_project(self, wid: int, creator_id: int, body: dict[str, Any]) -> dict[str, Any]:
        workspace = self.workspaces[wid]
        client_id = body.get("client_id", body.get("cid"))
        values = {
            "name": (body.get("name") or "").strip(), "client_id": client_id,
            "active": body.get("active", True), "is_private": body.get("is_private",
                                                                      workspace["projects_private_by_default"]),
            "billable": body.get("billable"), "start_date": parse_day(body.get("start_date"), "start_date")
            or self.today(), "end_date": parse_day(body.get("end_date"), "end_date"),
            "estimated_hours": body.get("estimated_hours"), "auto_estimates": body.get("auto_estimates"),
            "fixed_fee": body.get("fixed_fee"), "rate": body.get("rate"), "currency": body.get("currency"),
            "color": body.get("color") or "#06aaf5", "external_reference": body.get("external_reference"),
        }
        self.check_project(wid, None, values)
        project_id = body.get("id") or self.next_id("project")
        now = stamp(self.now())
        self.projects[project_id] = {"id": project_id, "workspace_id": wid, **values, "template": False,
                                     "template_id": None, "recurring": False, "recurring_parameters": None,
                                     "created_at": now, "at": now, "server_deleted_at": None,
                                     "rate_last_updated": None, "pinned": False, "creator_id": creator_id}
        # Toggl makes the creator a manager of the project; that row cannot be created again (seed 002).
        self.new_project_user(wid, {"project_id": project_id, "user_id": creator_id, "manager": True})
        return self.projects[project_id]

    def lag(self, project_id: int) -> None:
        """Start the eventual-consistency lag of a project created through the API."""
        if float(self.behaviours["project_lag_seconds"]) > 0 and int(self.behaviours["project_lag_requests"]) > 0:
            self.lagging[project_id] = [self.clock.now(), int(self.behaviours["project_lag_requests"])]

    def new_project_user(self, wid: int, body: dict[str, Any]) -> dict[str, Any]:
        project = self.project_in(wid, body.get("project_id"))
        try:
            user_id = int(body.get("user_id"))
        except (TypeError, ValueError):
            raise ApiError(400, "Invalid user_id") from None
        if (wid, user_id) not in self.members:
            raise ApiError(400, "Invalid user_id")
        if any(pu["project_id"] == project["id"] and pu["user_id"] == user_id for pu in self.project_users.values()):
            raise ApiError(400, "Project user already exists")
        pu_id = self.next_id("project_user")
        now = stamp(self.now())
        self.project_users[pu_id] = {
            "id": pu_id, "project_id": project["id"], "user_id": user_id, "workspace_id": wid,
            "manager": bool(body.get("manager", False)), "rate": body.get("rate"),
            "rate_last_updated": now if body.get("rate") is not None else None,
            "rate_change_mode": body.get("rate_change_mode"), "labor_cost": body.get("labor_cost"),
            "labor_cost_last_updated": None, "group_id": None, "gid": None, "at": now,
        }
        return self.project_users[pu_id]

    def _timing(self, start: datetime, duration: Any, stop: Any) -> tuple[datetime | None, int]:
        """(stop, duration) from what a request gave; a running entry has no stop and a negative duration."""
        if stop is not None:
            stop_at = parse_instant(stop)
            if duration is not None and duration >= 0 and int((stop_at - start).total_seconds()) != duration:
                raise ApiError(400, "Duration and stop do not match the start")
            return stop_at, int((stop_at - start).total_seconds())
        if duration is not None and duration >= 0:
            return start + timedelta(seconds=duration), duration
        return None, duration if duration is not None else 0

    def new_time_entry(self, wid: int, user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("project_id") is not None:
            self.project_in(wid, body["project_id"])
        start = parse_instant(body.get("start") or "")
        stop_at, duration = self._timing(start, body.get("duration"), body.get("stop"))
        entry_id = self.next_id("time_entry")
        self.time_entries[entry_id] = {
            "id": entry_id, "workspace_id": wid, "wid": wid, "project_id": body.get("project_id"),
            "pid": body.get("project_id"), "task_id": None, "tid": None, "user_id": user_id, "uid": user_id,
            "billable": bool(body.get("billable", False)), "description": body.get("description"),
            "start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "stop": stop_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if stop_at else None,
            "duration": duration, "duronly": True, "tags": body.get("tags") or [], "tag_ids": [],
            "at": stamp(self.now()), "server_deleted_at": None, "permissions": None,
            "created_with": body.get("created_with") or "sandbox",
        }
        self.entries_changed()
        return self.time_entries[entry_id]

    def update_time_entry(self, wid: int, entry: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """PUT semantics: the fields given change; start, stop and duration stay consistent."""
        if body.get("project_id") is not None:
            self.project_in(wid, body["project_id"])
        for key in ("description", "billable", "tags"):
            if key in body:
                entry[key] = body[key]
        if "project_id" in body:
            entry["project_id"] = entry["pid"] = body["project_id"]
        if "start" in body or "stop" in body or "duration" in body:
            start = parse_instant(body.get("start", entry["start"]))
            stop = body.get("stop", entry["stop"] if "duration" not in body else None)
            duration = body.get("duration", entry["duration"]) if stop is None else None
            stop_at, duration = self._timing(start, duration, stop)
            entry["start"] = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            entry["stop"] = stop_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if stop_at else None
            entry["duration"] = duration
        entry["at"] = stamp(self.now())
        self.entries_changed()
        return entry

    def delete_time_entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        entry["server_deleted_at"] = entry["at"] = stamp(self.now())
        self.entries_changed()
        return entry

    def generate_time_entries(self, spec: dict[str, Any]) -> dict[str, Any]:
        """`count` stopped entries spread over `days` from `start_date`, round-robin over the people
        (`emails`) and `project_ids` (a seed for the benchmark and the reliability tests)."""
        wid = int(spec["workspace_id"])
        users = [self.user_by_email(e)["id"] for e in spec.get("emails") or []] or [self._admin_of(wid)]
        projects = [int(p) for p in spec.get("project_ids") or []] or [None]
        for project_id in projects:
            if project_id is not None:
                self.project_in(wid, project_id)
        count, days = int(spec.get("count", 1)), max(1, int(spec.get("days", 1)))
        first_day = datetime.fromisoformat(spec.get("start_date") or self.today())
        rng = random.Random(spec.get("seed", 0))
        ids = []
        for n in range(count):
            project_id = projects[n % len(projects)]
            user_id = users[(n // len(projects)) % len(users)]
            # Working hours in the person's own time zone, stored in UTC as Toggl does.
            local = (first_day + timedelta(days=n % days, hours=8, minutes=rng.randrange(0, 480))).replace(
                tzinfo=self.user_zone(user_id))
            start = local.astimezone(UTC)
            duration = int(spec.get("seconds") or rng.randrange(900, 4 * 3600, 300))
            entry_id = self.next_id("time_entry")
            self.time_entries[entry_id] = {
                "id": entry_id, "workspace_id": wid, "wid": wid, "project_id": project_id, "pid": project_id,
                "task_id": None, "tid": None, "user_id": user_id, "uid": user_id, "billable": n % 4 != 0,
                "description": f"{spec.get('description', 'Work')} {n + 1}",
                "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "stop": (start + timedelta(seconds=duration)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "duration": duration, "duronly": True, "tags": [], "tag_ids": [], "at": stamp(self.now()),
                "server_deleted_at": None, "permissions": None, "created_with": "sandbox generator",
            }
            ids.append(entry_id)
        self.entries_changed()
        return {"created": len(ids), "ids": ids}

    def project_seconds(self) -> dict[int, int]:
        """Tracked seconds per project, computed once per change of the entries."""
        version, seconds = self._project_seconds
        if version != self.entries_version:
            seconds = defaultdict(int)
            for entry in self.time_entries.values():
                if entry["project_id"] and not entry["server_deleted_at"] and entry["duration"] > 0:
                    seconds[entry["project_id"]] += entry["duration"]
            self._project_seconds = (self.entries_version, seconds)
        return seconds

    # Views of records as the API answers -------------------------------------------------------
    def project_view(self, project: dict[str, Any]) -> dict[str, Any]:
        seconds = self.project_seconds().get(project["id"], 0)
        today = self.today()
        if not project["active"]:
            status = "archived"
        elif project["start_date"] and project["start_date"] > today:
            status = "upcoming"
        elif project["end_date"] and project["end_date"] < today:
            status = "ended"
        else:
            status = "active"
        client = self.clients.get(project["client_id"]) if project["client_id"] else None
        estimate = project["estimated_hours"]
        view = {k: v for k, v in project.items() if k != "creator_id"}
        view.update(wid=project["workspace_id"], cid=project["client_id"],
                    client_name=client["name"] if client else None, status=status,
                    estimated_seconds=estimate * 3600 if estimate is not None else None,
                    actual_seconds=seconds, actual_hours=seconds // 3600, can_track_time=True,
                    current_period=None, permissions=None, integration_ext_id=None, integration_ext_type=None,
                    integration_provider=None)
        return view

    def workspace_view(self, workspace: dict[str, Any], user_id: int) -> dict[str, Any]:
        member = self.members.get((workspace["id"], user_id), {})
        view = {**workspace, "role": "admin" if member.get("admin") else "user"}
        if self.behaviours["admin_field"]:  # deprecated; the real API may drop it
            view["admin"] = bool(member.get("admin"))
        return view

    def dump(self) -> dict[str, Any]:
        return {
            "users": list(self.users.values()), "organizations": list(self.organizations.values()),
            "workspaces": list(self.workspaces.values()),
            "members": [{"workspace_id": w, "user_id": u, **m} for (w, u), m in self.members.items()],
            "clients": list(self.clients.values()),
            "projects": [self.project_view(p) for p in self.projects.values()],
            "project_users": list(self.project_users.values()), "time_entries": list(self.time_entries.values()),
            "subscriptions": list(self.subscriptions.values()), "deliveries": self.deliveries,
        }

    # Seeding (the admin API and the demo) -------------------------------------------------------
    def seed(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Create what `spec` describes; people are named by email. Returns the created records."""
        created: dict[str, list[Any]] = defaultdict(list)
        for org in spec.get("organizations", []):
            created["organizations"].append(self.new_organization(org["name"], org.get("plan", "premium"),
                                                                  org.get("id"), org.get("quota")))
        for user in spec.get("users", []):
            created["users"].append(self.new_user(user["email"], user.get("fullname", ""), user.get("api_token"),
                                                  user.get("id"), user.get("timezone", "UTC")))
        for ws in spec.get("workspaces", []):
            org_id = ws.get("organization_id") or self.new_organization(
                f"{ws['name']} organization", ws.get("plan", "premium" if ws.get("premium", True) else "free"),
                quota=ws.get("quota"))["id"]
            workspace = self.new_workspace(
                ws["name"], org_id, workspace_id=ws.get("id"), premium=ws.get("premium", True),
                projects_private_by_default=ws.get("projects_private_by_default", True),
                only_admins_may_create_projects=ws.get("only_admins_may_create_projects", False))
            for member in ws.get("members", []):
                try:
                    user = self.user_by_email(member["email"])
                except ApiError:
                    user = self.new_user(member["email"], member.get("fullname", ""), member.get("api_token"),
                                         timezone=member.get("timezone", "UTC"))
                self.add_member(workspace["id"], user["id"], member.get("admin", False), member.get("active", True),
                                member.get("rate"))
            created["workspaces"].append(workspace)
        for client in spec.get("clients", []):
            wid = client["workspace_id"]
            creator = self._admin_of(wid)
            created["clients"].append(self.new_client(wid, creator, client))
        for project in spec.get("projects", []):
            wid = project["workspace_id"]
            creator = self.user_by_email(project["creator_email"])["id"] if project.get("creator_email") \
                else self._admin_of(wid)
            created["projects"].append(self.project_view(self.new_project(wid, creator, project)))
        for pu in spec.get("project_users", []):
            project = self.projects[pu["project_id"]]
            user_id = pu.get("user_id") or self.user_by_email(pu["email"])["id"]
            created["project_users"].append(self.new_project_user(project["workspace_id"],
                                                                  {**pu, "user_id": user_id}))
        for entry in spec.get("time_entries", []):
            user_id = entry.get("user_id") or self.user_by_email(entry["email"])["id"]
            created["time_entries"].append(self.new_time_entry(entry["workspace_id"], user_id, entry))
        return dict(created)

    def _admin_of(self, wid: int) -> int:
        admins = [u for (w, u), m in self.members.items() if w == wid and m["admin"]]
        if not admins:
            raise ApiError(400, f"Workspace {wid} has no admin to act as creator")
        return admins[0]
