"""The Procore sandbox's world: companies, projects, people, time types, cost codes, sub jobs, timecard
entries, OAuth clients and tokens, webhook hooks/triggers and their deliveries, faults and counters.

Everything lives in memory behind one lock. Time is a clock that tests can move forward, so token expiry
(5400 s) and Procore's webhook retry schedule (exponential backoff from 1 s to 1 h, the queue flushed and
events discarded after 12 h) can be exercised in a test run; `time_scale` shrinks the retry schedule
when deliveries run on their own thread (the demo uses 1.0, the real schedule).
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

log = logging.getLogger(__name__)

TOKEN_LIFETIME = 5400
CODE_LIFETIME = 600
DISCARD_AFTER = 12 * 3600
MAX_BACKOFF = 3600
DELIVERY_TIMEOUT = 5.0
TIMECARD_RESOURCE = "Timecard Entries"
SPIKE_WINDOW = 10
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LOST_ANSWER = "Gateway Timeout"


@dataclass
class Behaviours:
    """Where the real Procore is unkind to clients, and the sandbox with it. The tests keep them on
    (tests/integrations/procore/conftest.py), so the connector stays right; a test switches one off, or
    counts them, to show what the connector's handling does. POST /_sandbox/behaviours changes them."""

    single_use_refresh: bool = True  # a refresh token works once ("The refresh token is invalid" after)
    # The 10-second spike window beside the hourly one: X-Rate-Limit-* describe whichever is closer to
    # exhaustion, and a 429 carries no Retry-After (only X-Rate-Limit-Reset, an hour away for the hourly one).
    spike_window: bool = True
    duplicate_deliveries: bool = True  # at least once: every event is delivered twice
    out_of_order: bool = True  # a hook's newest due event is delivered first
    drop_every: int = 0  # every Nth event is never delivered (as if discarded after 12 h of failures)
    lose_every: int = 0  # every Nth create (a POST under /rest) is carried out, then answered 504

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if key not in self.__dataclass_fields__:
                raise SandboxError(400, {"errors": f"unknown behaviour {key!r}"})
            setattr(self, key, type(getattr(self, key))(value))


class SandboxError(Exception):
    """An API error: the status and the body Procore would send."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}


def iso(instant: datetime | None) -> str | None:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if instant else None


def parse_range(value: str) -> tuple[datetime, datetime]:
    """`start...end` with dates or instants (Z or an offset), as Procore's filters take them."""
    try:
        start, end = value.split("...", 1)

        def one(text: str, end_of_day: bool) -> datetime:
            text = text.strip()
            if len(text) == 10:
                day = datetime.fromisoformat(text).replace(tzinfo=UTC)
                return day + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else day
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

        return one(start, False), one(end, True)
    except ValueError:
        raise SandboxError(400, {"errors": f"Invalid range {value!r}; use start...end"}) from None


def hours_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


def ulid(now: float) -> str:
    value = (int(now * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


class State:
    def __init__(self, *, time_scale: float = 1.0, hourly_limit: int = 600, spike_limit: int = 25,
                 behaviours: Behaviours | None = None):
        self.lock = threading.RLock()
        self.time_scale = time_scale
        self.hourly_limit = hourly_limit
        self.spike_limit = spike_limit
        self.behaviours = behaviours or Behaviours()
        self.offset = 0.0
        self.wake = threading.Event()  # a new event wakes the delivery thread
        # Ids above 2**32 like Procore's, starting from the clock so a restarted sandbox never reuses one.
        self._ids = itertools.count(int(time.time() * 1000))
        self.reset()

    # What a restarted demo sandbox must remember (the portal holds ids, tokens and hooks of these records).
    PERSISTED = ("companies", "users", "clients", "codes", "tokens", "refresh_tokens", "projects", "people",
                 "time_types", "cost_codes", "sub_jobs", "entries", "hooks", "triggers")

    def snapshot(self) -> dict:
        """The persistent records as JSON-ready data (dict items as pairs, so int keys stay ints)."""
        with self.lock:
            return {name: list(getattr(self, name).items()) for name in self.PERSISTED}

    def restore(self, data: dict) -> None:
        with self.lock:
            self.reset()
            for name in self.PERSISTED:
                setattr(self, name, {key: value for key, value in data.get(name, [])})

    def reset(self) -> None:
        with self.lock:
            self.companies: dict[int, dict] = {}
            self.users: dict[int, dict] = {}
            self.clients: dict[str, dict] = {}
            self.codes: dict[str, dict] = {}
            self.tokens: dict[str, dict] = {}
            self.refresh_tokens: dict[str, dict] = {}
            self.projects: dict[int, dict] = {}
            self.people: dict[int, dict] = {}
            self.time_types: dict[int, dict] = {}
            self.cost_codes: dict[int, dict] = {}
            self.sub_jobs: dict[int, dict] = {}
            self.entries: dict[int, dict] = {}
            self.hooks: dict[int, dict] = {}
            self.triggers: dict[int, dict] = {}
            self.deliveries: dict[int, dict] = {}
            self.faults: list[dict] = []
            self.requests: list[dict] = []
            self.calls: dict[str, list[float]] = {}
            self.counters = {"events": 0, "creates": 0, "lost_answers": 0}

    # Clock and ids -----------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.offset

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(int(self.now()), UTC)

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.offset += seconds

    def new_id(self) -> int:
        return next(self._ids)

    # Seeding ------------------------------------------------------------------------------------
    def add(self, table: str, **row: Any) -> dict:
        with self.lock:
            row.setdefault("id", self.new_id())
            getattr(self, table)[row["id"]] = row
            return row

    def seed(self, world: dict[str, Any]) -> dict[str, list]:
        """Add a world at once: rows by table, and "clients" (installed apps). Returns what was added."""
        added: dict[str, list] = {}
        for table, rows in world.items():
            if table == "clients":
                added[table] = [self.add_client(c["id"], c["secret"], c["company_ids"], c["user_id"])["id"]
                                for c in rows]
            else:
                added[table] = [self.add(table, **row)["id"] for row in rows]
        return added

    def add_client(self, client_id: str, secret: str, company_ids: list[int], user_id: int) -> dict:
        with self.lock:
            client = {"id": client_id, "secret": secret, "company_ids": set(company_ids), "user_id": user_id,
                      "revoked": False}
            self.clients[client_id] = client
            return client

    def revoke_client(self, client_id: str) -> None:
        """The app was uninstalled or its secret regenerated: every token and grant stops working."""
        with self.lock:
            self.clients[client_id]["revoked"] = True
            for store in (self.tokens, self.refresh_tokens):
                for key in [k for k, v in store.items() if v["client_id"] == client_id]:
                    del store[key]

    # OAuth -------------------------------------------------------------------------------------
    def client(self, client_id: str, secret: str | None) -> dict:
        client = self.clients.get(client_id or "")
        if client is None or client["revoked"] or (secret is not None and not secrets.compare_digest(
                client["secret"], secret or "")):
            raise SandboxError(401, {"error": "invalid_client", "error_description":
                                     "Client authentication failed due to unknown client, no client authentication "
                                     "included, or unsupported authentication method."})
        return client

    def issue_code(self, client_id: str, redirect_uri: str) -> str:
        with self.lock:
            client = self.client(client_id, None)
            code = secrets.token_hex(16)
            self.codes[code] = {"client_id": client_id, "redirect_uri": redirect_uri, "user_id": client["user_id"],
                                "expires_at": self.now() + CODE_LIFETIME}
            return code

    def _issue(self, client_id: str, user_id: int, with_refresh: bool) -> dict:
        access = secrets.token_urlsafe(24)
        self.tokens[access] = {"client_id": client_id, "user_id": user_id, "expires_at": self.now() + TOKEN_LIFETIME,
                               "created_at": int(self.now())}
        body = {"access_token": access, "token_type": "bearer", "expires_in": TOKEN_LIFETIME,
                "created_at": int(self.now())}
        if with_refresh:
            refresh = secrets.token_urlsafe(24)
            self.refresh_tokens[refresh] = {"client_id": client_id, "user_id": user_id}
            body["refresh_token"] = refresh
        return body

    def grant(self, form: dict[str, str]) -> dict:
        invalid_grant = {"error": "invalid_grant", "error_description":
                         "The provided authorization grant is invalid, expired, revoked, does not match the "
                         "redirection URI used in the authorization request, or was issued to another client."}
        with self.lock:
            client = self.client(form.get("client_id", ""), form.get("client_secret", ""))
            grant_type = form.get("grant_type")
            if grant_type == "client_credentials":
                return self._issue(client["id"], client["user_id"], with_refresh=False)
            if grant_type == "authorization_code":
                code = self.codes.pop(form.get("code", ""), None)  # single use, whatever happens next
                if (code is None or code["client_id"] != client["id"] or code["expires_at"] < self.now()
                        or code["redirect_uri"] != form.get("redirect_uri")):
                    raise SandboxError(400, invalid_grant)
                return self._issue(client["id"], code["user_id"], with_refresh=True)
            if grant_type == "refresh_token":
                spent = form.get("refresh_token", "")
                held = self.refresh_tokens.pop(spent, None) if self.behaviours.single_use_refresh else \
                    self.refresh_tokens.get(spent)
                if held is None or held["client_id"] != client["id"]:
                    raise SandboxError(400, {"error": "invalid_grant",
                                             "error_description": "The refresh token is invalid"})
                return self._issue(client["id"], held["user_id"], with_refresh=True)
            raise SandboxError(400, {"error": "unsupported_grant_type",
                                     "error_description": f"The grant type {grant_type!r} is not supported."})

    def authenticate(self, authorization: str | None) -> dict:
        scheme, _, token = (authorization or "").partition(" ")
        held = self.tokens.get(token.strip()) if scheme == "Bearer" else None
        if held is None or held["expires_at"] < self.now():
            raise SandboxError(401, {"errors": "The access token is invalid"})
        return held

    def check_company(self, token: dict, header: str | None) -> int:
        if not header:
            raise SandboxError(400, {"errors": "Missing Procore-Company-Id header!"})
        if not header.isdigit() or int(header) not in self.clients[token["client_id"]]["company_ids"]:
            raise SandboxError(403, {"errors": "App is not connected to this company"})
        return int(header)

    # Quotas and faults ---------------------------------------------------------------------------
    def count(self, key: str) -> dict[str, str]:
        """Record a request against the hourly and 10-second spike windows; 429 when either is exhausted. The
        headers describe whichever window is closer to exhaustion (Procore's rate_limiting.md)."""
        now = self.now()
        calls = [t for t in self.calls.get(key, []) if t > now - 3600]
        recent = [t for t in calls if t > now - SPIKE_WINDOW]
        hourly = (self.hourly_limit, self.hourly_limit - len(calls), math.ceil((calls[0] if calls else now) + 3600))
        spike = (self.spike_limit, self.spike_limit - len(recent),
                 math.ceil((recent[0] if recent else now) + SPIKE_WINDOW))
        refused = hourly if hourly[1] <= 0 else (spike if self.behaviours.spike_window and spike[1] <= 0 else None)
        if refused is not None:
            limit, _, reset = refused
            headers = {"X-Rate-Limit-Limit": str(limit), "X-Rate-Limit-Remaining": "0",
                       "X-Rate-Limit-Reset": str(reset)}
            if not self.behaviours.spike_window:  # the kinder sandbox of old: a Retry-After on every 429
                headers["Retry-After"] = str(max(1, reset - int(now)))
            raise SandboxError(429, "You have surpassed the max number of requests for an hour. Please wait until "
                                    "your limit resets.", headers)
        calls.append(now)
        self.calls[key] = calls
        hourly, spike = (hourly[0], hourly[1] - 1, hourly[2]), (spike[0], spike[1] - 1, spike[2])
        closest = spike if self.behaviours.spike_window and spike[1] / spike[0] < hourly[1] / hourly[0] else hourly
        return {"X-Rate-Limit-Limit": str(closest[0]), "X-Rate-Limit-Remaining": str(closest[1]),
                "X-Rate-Limit-Reset": str(closest[2])}

    def lose_this_answer(self, method: str, path: str) -> bool:
        """Whether this create is carried out but its answer lost (Behaviours.lose_every)."""
        if method != "POST" or not path.startswith("/rest/") or not self.behaviours.lose_every:
            return False
        with self.lock:
            self.counters["creates"] += 1
            lost = self.counters["creates"] % self.behaviours.lose_every == 0
            self.counters["lost_answers"] += lost
            return lost

    def take_fault(self, method: str, path: str) -> SandboxError | str | None:
        """The error of the first matching fault, used up by one; LOST_ANSWER for a fault with `lose_answer`
        (the request is carried out, then answered 504, as when a gateway loses the answer)."""
        with self.lock:
            for fault in self.faults:
                if fault.get("path") and not path.startswith(fault["path"]):
                    continue
                if path.startswith("/oauth/") and not fault.get("path"):
                    continue  # a fault meets the OAuth host only when it names it
                if fault.get("method") and fault["method"].upper() != method:
                    continue
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.faults.remove(fault)
                if fault.get("lose_answer"):
                    self.counters["lost_answers"] += 1
                    return LOST_ANSWER
                headers = {}
                if fault.get("retry_after") is not None:
                    headers["Retry-After"] = str(fault["retry_after"])
                if fault["status"] == 429:
                    reset = int(self.now() + fault.get("reset_in", 30))
                    headers.update({"X-Rate-Limit-Limit": str(self.hourly_limit), "X-Rate-Limit-Remaining": "0",
                                    "X-Rate-Limit-Reset": str(reset)})
                    return SandboxError(429, "You have surpassed the max number of requests for an hour. Please "
                                             "wait until your limit resets.", headers)
                return SandboxError(fault["status"], {"errors": fault.get("message", "Service Unavailable")}, headers)
        return None

    # Timecard entries -----------------------------------------------------------------------------
    def _invalid(self, errors: dict[str, str]) -> SandboxError:
        return SandboxError(422, {"errors": {k: [v] for k, v in errors.items()}})

    def write_entry(self, company_id: int, project_id: Any, fields: dict[str, Any], *, entry: dict | None = None,
                    user_id: int | None = None, application: str | None = None) -> dict:
        """Create (entry=None) or update a timecard entry after Procore's validations; fires webhooks."""
        with self.lock:
            try:
                project = self.projects[int(project_id)]
            except (TypeError, ValueError, KeyError):
                raise self._invalid({"project_id": "is invalid"}) from None
            if project["company_id"] != company_id:
                raise SandboxError(403, {"errors": "The project does not belong to this company"})
            row = dict(entry or {"company_id": company_id, "approval_status": "pending", "billable": False,
                                 "description": None, "lunch_time": None, "time_in": None, "time_out": None,
                                 "hours": None, "origin_id": None, "origin_data": None, "deleted_at": None,
                                 "cost_code_id": None, "sub_job_id": None, "timecard_time_type_id": None,
                                 "party_id": None, "line_item_type_id": None, "created_by_id": user_id,
                                 "created_at": self.utcnow()})
            row["project_id"] = project["id"]
            errors = {}
            for key, value in fields.items():
                if key == "hours":
                    try:
                        row[key] = Decimal(str(value)) if value not in (None, "") else None
                    except InvalidOperation:
                        errors[key] = "is not a number"
                elif key in ("time_in", "time_out"):
                    row[key] = datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
                elif key == "date":
                    try:
                        row["date"] = date.fromisoformat(str(value))
                    except ValueError:
                        errors["date"] = "is invalid"
                elif key in ("party_id", "cost_code_id", "sub_job_id", "timecard_time_type_id", "lunch_time",
                             "origin_id", "line_item_type_id"):
                    row[key] = int(value) if value not in (None, "") else None
                elif key in ("billable", "description", "approval_status", "origin_data"):
                    row[key] = value
            checks = [("party_id", self.people, "company_id", company_id),
                      ("timecard_time_type_id", self.time_types, "company_id", company_id),
                      ("cost_code_id", self.cost_codes, "project_id", project["id"]),
                      ("sub_job_id", self.sub_jobs, "project_id", project["id"])]
            for key, table, owner, owner_id in checks:
                if row.get(key) is not None and (row[key] not in table or table[row[key]][owner] != owner_id):
                    errors[key] = "is invalid"
            if not row.get("date"):
                errors.setdefault("date", "can't be blank")
            if row.get("hours") is None and row.get("time_in") and row.get("time_out"):
                minutes = (row["time_out"] - row["time_in"]).total_seconds() / 60 - (row.get("lunch_time") or 0)
                row["hours"] = (Decimal(minutes) / 60).quantize(Decimal("0.01"))
            if row.get("hours") is not None and not (0 <= row["hours"] <= 24):
                errors["hours"] = "must be between 0 and 24"
            if errors:
                raise self._invalid(errors)
            row["in_progress"] = bool(row.get("time_in") and not row.get("time_out") and row.get("hours") is None)
            row["updated_at"] = max(self.utcnow(), (entry or {}).get("updated_at") or self.utcnow())
            if entry is None:
                row["id"] = self.new_id()
            self.entries[row["id"]] = row
            self.emit("update" if entry else "create", row, user_id, application)
            return row

    def delete_entry(self, entry_id: int, user_id: int | None = None, application: str | None = None) -> dict:
        with self.lock:
            row = self.live_entry(entry_id)
            row["deleted_at"] = row["updated_at"] = self.utcnow()
            self.emit("delete", row, user_id, application)
            return row

    def live_entry(self, entry_id: Any, company_id: int | None = None) -> dict:
        row = self.entries.get(int(entry_id)) if str(entry_id).isdigit() else None
        if row is None or row["deleted_at"] is not None or (company_id and row["company_id"] != company_id):
            raise SandboxError(404, {"errors": "Not Found"})
        return row

    def entry_json(self, row: dict) -> dict:
        project = self.projects[row["project_id"]]
        person = self.people.get(row.get("party_id"))
        creator = self.users.get(row.get("created_by_id"))
        cost_code = self.cost_codes.get(row.get("cost_code_id"))
        sub_job = self.sub_jobs.get(row.get("sub_job_id"))
        time_type = self.time_types.get(row.get("timecard_time_type_id"))
        return {
            "id": row["id"], "date": row["date"].isoformat(),
            "hours": hours_text(row["hours"]) if row.get("hours") is not None else None,
            "time_in": iso(row.get("time_in")), "time_out": iso(row.get("time_out")),
            "lunch_time": row.get("lunch_time"), "billable": bool(row.get("billable")),
            "description": row.get("description"), "approval_status": row.get("approval_status"),
            "in_progress": row.get("in_progress", False), "origin_id": row.get("origin_id"),
            "origin_data": row.get("origin_data"), "line_item_type_id": row.get("line_item_type_id"),
            "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"]),
            "deleted_at": iso(row.get("deleted_at")),
            "project": {"id": project["id"], "name": project["name"]},
            "party": ({"id": row["party_id"], "name": person["name"] if person else None}
                      if row.get("party_id") else None),
            "login_information": ({"id": person["id"], "login": person["email"], "name": person["name"]}
                                  if person and person.get("email") else None),
            "created_by": ({"id": creator["id"], "login": creator["login"], "name": creator["name"]}
                           if creator else None),
            "cost_code": ({"id": row["cost_code_id"], "name": cost_code["name"] if cost_code else None,
                           "code": cost_code["code"] if cost_code else None,
                           "full_code": cost_code["full_code"] if cost_code else None}
                          if row.get("cost_code_id") else None),
            "sub_job": {"id": sub_job["id"], "name": sub_job["name"], "code": sub_job["code"]} if sub_job else None,
            "timecard_time_type": ({"id": time_type["id"], "time_type": time_type["time_type"],
                                    "abbreviated_time_type": time_type["abbreviated_time_type"],
                                    "company_id": time_type["company_id"], "global": None} if time_type else None),
            "timesheet": None, "crew": None, "custom_fields": {},
        }

    # Webhooks -------------------------------------------------------------------------------------
    def emit(self, event_type: str, row: dict, user_id: int | None, application: str | None) -> None:
        """Queue an id-only v2 event on every hook whose triggers ask for it."""
        now = self.now()
        for hook in self.hooks.values():
            if hook["owned_by_company_id"] not in (None, row["company_id"]) or \
                    hook["owned_by_project_id"] not in (None, row["project_id"]):
                continue
            if not any(t["webhook_hook_id"] == hook["id"] and t["resource_name"] == TIMECARD_RESOURCE
                       and t["event_type"].lower() == event_type for t in self.triggers.values()):
                continue
            self.counters["events"] += 1
            dropped = bool(self.behaviours.drop_every) and self.counters["events"] % self.behaviours.drop_every == 0
            event_id = self.new_id()
            event = {"id": event_id, "ulid": ulid(now),
                     "timestamp": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                     "metadata": {"source_user_id": user_id, "source_project_id": row["project_id"],
                                  "source_operation_id": None, "source_company_id": row["company_id"],
                                  "source_application_id": application},
                     "user_id": user_id, "company_id": row["company_id"], "project_id": row["project_id"],
                     "api_version": "v2.0", "event_type": event_type, "resource_name": TIMECARD_RESOURCE,
                     "resource_id": row["id"]}
            for _ in range(2 if self.behaviours.duplicate_deliveries and not dropped else 1):
                delivery = {"id": self.new_id(), "hook_id": hook["id"], "event_id": event_id, "event": event,
                            "outcome": "discarded" if dropped else "pending", "attempts": 0, "next_attempt_at": now,
                            "response_status": None, "response_body": None, "response_error": None,
                            "started_at": None, "completed_at": None}
                self.deliveries[delivery["id"]] = delivery
                if not dropped:
                    hook["queue"].append(delivery["id"])
        self.wake.set()

    def _due_head(self) -> tuple[dict, dict] | None:
        """The next delivery to attempt: the head of a hook's queue, or its newest due event when deliveries
        come out of order (a failing event pauses the hook)."""
        now = self.now()
        for hook in self.hooks.values():
            if hook.get("in_flight") or not hook["queue"]:
                continue
            delivery = self.deliveries[hook["queue"][0]]
            if hook.get("failing_since") is not None and \
                    now - hook["failing_since"] >= DISCARD_AFTER * self.time_scale:
                for delivery_id in hook["queue"]:  # Procore flushes the queue after 12 h of failures
                    self.deliveries[delivery_id]["outcome"] = "discarded"
                hook["queue"].clear()
                hook["failing_since"] = None
                continue
            if self.behaviours.out_of_order and hook.get("failing_since") is None:
                delivery = next((self.deliveries[d] for d in reversed(hook["queue"])
                                 if self.deliveries[d]["next_attempt_at"] <= now), delivery)
            if delivery["next_attempt_at"] <= now:
                hook["in_flight"] = True
                return hook, delivery
        return None

    def deliver_due(self) -> list[dict]:
        """Attempt every delivery that is due now (each at most once); returns the attempts."""
        attempted = []
        while True:
            with self.lock:
                picked = self._due_head()
                if picked is None:
                    return attempted
                hook, delivery = picked
                headers = {"Content-Type": "application/json", **hook["destination_headers"]}
                url, body = hook["destination_url"], delivery["event"]
            status, text, error = None, None, None
            try:
                response = httpx.post(url, json=body, headers=headers, timeout=DELIVERY_TIMEOUT)
                status, text = response.status_code, response.text[:1000]
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            with self.lock:
                hook["in_flight"] = False
                now = self.now()
                delivery.update(attempts=delivery["attempts"] + 1, response_status=status, response_body=text,
                                response_error=error, started_at=delivery["started_at"] or iso(self.utcnow()),
                                completed_at=iso(self.utcnow()))
                if status is not None and 200 <= status < 300:
                    delivery["outcome"] = "ok"
                    if delivery["id"] in hook["queue"]:
                        hook["queue"].remove(delivery["id"])
                    hook["failing_since"] = None
                else:
                    delivery["outcome"] = "retried"
                    hook["failing_since"] = hook.get("failing_since") or now
                    wait = min(MAX_BACKOFF, 2 ** (delivery["attempts"] - 1)) * self.time_scale
                    delivery["next_attempt_at"] = now + wait
                attempted.append(dict(delivery))

    def start_delivery_thread(self) -> None:
        """Deliver on a background thread (the demo): the portal hears about changes within a second."""

        def loop() -> None:
            while True:
                try:
                    self.deliver_due()
                except Exception:  # a bug in one attempt must not stop deliveries for good
                    log.exception("sandbox webhook delivery failed")
                self.wake.wait(0.5)
                self.wake.clear()

        threading.Thread(target=loop, name="procore-sandbox-deliveries", daemon=True).start()
