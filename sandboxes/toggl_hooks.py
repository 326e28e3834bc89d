"""The Toggl sandbox's time side: time entries (API v9), the Reports v3 detailed search with its paging
headers, and Webhooks v1 subscriptions that deliver signed events to the portal.

Decisions where the reference is open (UNCONFIRMED there): `/me/time_entries` without dates answers
the last 9 days; `since` older than 90 days is 400 "Since cannot be older than 3 months"; reports leave
out running and deleted entries and read their date range in each entry creator's own time zone; the
detailed report answers at most 50 rows a page (behaviour `report_page_size`); the summary report lists
its entries' ids in each sub group's `ids` when asked (`include_time_entry_ids`); the weekly report covers
at most 7 days, `seconds` holding one value a day from start_date (no total column); deliveries are not
retried (each attempt is recorded under /_sandbox/state "deliveries"),
and a deleted entry's event carries the entry with `server_deleted_at` set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from flask import Blueprint, Response, g, request

from sandboxes.kit import json_answer as _answer
from sandboxes.toggl_state import ApiError, TogglState, parse_day, parse_instant, stamp
from sandboxes.toggl_state import body_json as _body

ENTITIES = ["client", "project", "project_group", "project_user", "tag", "task", "time_entry", "workspace",
            "workspace_user"]
ACTIONS = ["created", "updated", "deleted"]
WEBHOOK_LIMITS = {"free": (1, 3), "starter": (2, 6), "premium": (3, 12), "enterprise": (3, 12)}
DELIVERY_TIMEOUT = 5.0


# Time entries (API v9) ------------------------------------------------------------------------

def time_entry_routes(bp: Blueprint, state: TogglState, workspace: Callable[[int], dict[str, Any]]) -> None:
    def mine(entry_id: int) -> dict[str, Any]:
        entry = state.time_entries.get(entry_id)
        if entry is None or entry["user_id"] != g.user["id"] or entry["server_deleted_at"]:
            raise ApiError(404, "Time entry not found")
        return entry

    def in_workspace(wid: int, entry_id: int) -> dict[str, Any]:
        entry = state.time_entries.get(entry_id)
        if entry is None or entry["workspace_id"] != wid or entry["server_deleted_at"]:
            raise ApiError(404, "Time entry not found")
        if entry["user_id"] != g.user["id"] and not state.is_admin(wid, g.user["id"]):
            raise ApiError(403, "Only admins may change other users' time entries")
        return entry

    @bp.get("/me/time_entries")
    def my_time_entries():
        args = request.args
        if args.get("since") and args.get("before"):
            raise ApiError(400, "'since' and 'before' can not be present simultaneously")
        if bool(args.get("start_date")) != bool(args.get("end_date")):
            raise ApiError(400, "start_date and end_date must be used together")
        now = state.now()
        rows = [e for e in state.time_entries.values() if e["user_id"] == g.user["id"]]
        if args.get("since"):
            since = datetime.fromtimestamp(args.get("since", type=int) or 0, UTC)
            if since < now - timedelta(days=90):
                raise ApiError(400, "Since cannot be older than 3 months")
            rows = [e for e in rows if parse_instant(e["at"]) >= since]  # modified since, deleted included
        else:
            rows = [e for e in rows if not e["server_deleted_at"]]
            if args.get("start_date"):
                start, end = _bound(args["start_date"]), _bound(args["end_date"])
                rows = [e for e in rows if start <= parse_instant(e["start"]) < end]
            elif args.get("before"):
                rows = [e for e in rows if parse_instant(e["start"]) < _bound(args["before"])]
            else:
                rows = [e for e in rows if parse_instant(e["start"]) >= now - timedelta(days=9)]
        return _answer(sorted(rows, key=lambda e: e["start"], reverse=True))

    @bp.get("/me/time_entries/current")
    def current_entry():
        running = [e for e in state.time_entries.values()
                   if e["user_id"] == g.user["id"] and e["stop"] is None and not e["server_deleted_at"]]
        return _answer(running[0] if running else None)

    @bp.get("/me/time_entries/<int:entry_id>")
    def my_time_entry(entry_id: int):
        return _answer(mine(entry_id))

    @bp.post("/workspaces/<int:wid>/time_entries")
    def create_time_entry(wid: int):
        workspace(wid)
        body = _body()
        if body.get("workspace_id") not in (wid, str(wid)):
            raise ApiError(400, "workspace_id is required and must match the path")
        if not body.get("created_with"):
            raise ApiError(400, "created_with needs to be provided a valid string")
        if not body.get("start"):
            raise ApiError(400, "start is required")
        user_id = int(body.get("user_id") or g.user["id"])
        if user_id != g.user["id"] and not state.is_admin(wid, g.user["id"]):
            raise ApiError(403, "Only admins may create time entries for other users")
        entry = state.new_time_entry(wid, user_id, body)
        emit(state, wid, "time_entry", "created", entry, g.user["id"])
        return _answer(entry)

    @bp.put("/workspaces/<int:wid>/time_entries/<int:entry_id>")
    def update_time_entry(wid: int, entry_id: int):
        workspace(wid)
        entry = state.update_time_entry(wid, in_workspace(wid, entry_id), _body())
        emit(state, wid, "time_entry", "updated", entry, g.user["id"])
        return _answer(entry)

    @bp.patch("/workspaces/<int:wid>/time_entries/<int:entry_id>/stop")
    def stop_time_entry(wid: int, entry_id: int):
        workspace(wid)
        entry = in_workspace(wid, entry_id)
        if entry["stop"] is not None:
            raise ApiError(409, "Time entry already stopped")
        now = state.now()
        entry["stop"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        entry["duration"] = int((now - parse_instant(entry["start"])).total_seconds())
        entry["at"] = stamp(now)
        state.entries_changed()
        emit(state, wid, "time_entry", "updated", entry, g.user["id"])
        return _answer(entry)

    @bp.delete("/workspaces/<int:wid>/time_entries/<int:entry_id>")
    def delete_time_entry(wid: int, entry_id: int):
        workspace(wid)
        entry = state.delete_time_entry(in_workspace(wid, entry_id))
        emit(state, wid, "time_entry", "deleted", entry, g.user["id"])
        return Response("", 200)


def _bound(value: str) -> datetime:
    if len(value) == 10:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return parse_instant(value)


# Reports v3 -------------------------------------------------------------------------------------

WEEKLY_DAYS = 7  # the weekly report's range, at most (UNCONFIRMED; its web page shows one week)
SUMMARY_DAYS = 366  # the summary report's range, at most (UNCONFIRMED)
SUMMARY_GROUPINGS = ("projects", "users", "clients")
SUMMARY_SUB_GROUPINGS = ("time_entries", "users", "projects", "clients", "tasks")


def _range(body: dict[str, Any], longest: int) -> tuple[str, str]:
    start = parse_day(body.get("start_date"), "start_date")
    end = parse_day(body.get("end_date"), "end_date")
    if not start or not end:
        raise ApiError(400, "The start_date parameter is required" if not start else
                       "The end_date parameter is required")
    if start > end:
        raise ApiError(400, "start_date must not be after end_date")
    if (datetime.fromisoformat(end) - datetime.fromisoformat(start)).days >= longest:
        raise ApiError(400, f"The date range must not be longer than {longest} days")
    return start, end


def reports_blueprint(state: TogglState) -> Blueprint:
    bp = Blueprint("toggl_reports", __name__, url_prefix="/reports/api/v3")

    @bp.post("/workspace/<int:wid>/search/time_entries")
    def search_time_entries(wid: int):
        state.workspace_for(g.user, wid)
        body = _body()
        if not body:
            raise ApiError(400, "At least one parameter must be set")
        start = parse_day(body.get("start_date"), "start_date")
        end = parse_day(body.get("end_date"), "end_date")
        if start and end and start > end:
            raise ApiError(400, "start_date must not be after end_date")
        order = body.get("order_by", "date")
        if order not in ("date", "user", "duration", "description", "last_update"):
            raise ApiError(400, f"Invalid value for order_by: {order}")
        entries = _report_entries(state, wid, body, start, end)
        # Toggl serves its documented page size whatever page_size asks ("Corrections and additions" 2).
        size = max(1, min(int(state.behaviours["report_page_size"]), int(body.get("page_size") or 50)))
        first = max(1, int(body.get("first_row_number") or 1))
        rates = _project_rates(state)
        page = [_report_row(state, wid, entry, number, bool(body.get("enrich_response")), rates)
                for number, entry in enumerate(entries[first - 1: first - 1 + size], start=first)]
        response = _answer(page)
        if start and end:
            response.headers["X-Range-Start"], response.headers["X-Range-End"] = start, end
        if len(entries) >= first + size:
            response.headers["X-Next-ID"] = str(entries[first - 1 + size]["id"])
            response.headers["X-Next-Row-Number"] = str(first + size)
        return response

    @bp.post("/workspace/<int:wid>/summary/time_entries")
    def summary(wid: int):
        """Seconds per group and sub group; with `include_time_entry_ids` each sub group lists its entries'
        `ids` (one request lists every entry of a window)."""
        state.workspace_for(g.user, wid)
        body = _body()
        if not body:
            raise ApiError(400, "At least one parameter must be set")
        start, end = _range(body, SUMMARY_DAYS)
        grouping, sub_grouping = body.get("grouping") or "projects", body.get("sub_grouping") or "time_entries"
        if grouping not in SUMMARY_GROUPINGS:
            raise ApiError(400, f"Invalid 'grouping' value, allowed values are: '{', '.join(SUMMARY_GROUPINGS)}'")
        if sub_grouping not in SUMMARY_SUB_GROUPINGS:
            raise ApiError(400, "Invalid 'sub_grouping' value, allowed values are: "
                                f"'{', '.join(SUMMARY_SUB_GROUPINGS)}'")
        groups: dict[Any, dict[Any, dict[str, Any]]] = {}
        for entry in _report_entries(state, wid, body, start, end):
            project = state.projects.get(entry["project_id"]) if entry["project_id"] else None
            keys = {"projects": entry["project_id"], "users": entry["user_id"],
                    "clients": project["client_id"] if project else None, "tasks": None,
                    "time_entries": entry["description"] or ""}
            sub = groups.setdefault(keys[grouping], {}).setdefault(keys[sub_grouping], {
                "id": None if sub_grouping == "time_entries" else keys[sub_grouping],
                "title": keys[sub_grouping] if sub_grouping == "time_entries" else None,
                "seconds": 0, "ids": []})
            sub["seconds"] += entry["duration"]
            sub["ids"].append(entry["id"])
        include = bool(body.get("include_time_entry_ids"))
        response = _answer({"groups": [
            {"id": group_id, "sub_groups": [sub if include else {k: v for k, v in sub.items() if k != "ids"}
                                             for sub in subs.values()]}
            for group_id, subs in groups.items()]})
        response.headers["X-Range-Start"], response.headers["X-Range-End"] = start, end
        response.headers["X-Grouping"], response.headers["X-Sub-Grouping"] = grouping, sub_grouping
        return response

    @bp.post("/workspace/<int:wid>/weekly/time_entries")
    def weekly(wid: int):
        """Seconds a day (from start_date, at most 7 days) per user and project."""
        state.workspace_for(g.user, wid)
        body = _body()
        if not body:
            raise ApiError(400, "At least one parameter must be set")
        for unsupported in ("page_size", "first_row_number", "order_by", "grouping"):
            if unsupported in body:
                raise ApiError(400, f"The '{unsupported}' parameter is not supported")
        start, end = _range(body, WEEKLY_DAYS)
        first = datetime.fromisoformat(start)
        days = (datetime.fromisoformat(end) - first).days + 1
        rows: dict[tuple[int, Any], dict[str, Any]] = {}
        for entry in _report_entries(state, wid, body, start, end):
            user = state.users[entry["user_id"]]
            row = rows.setdefault((entry["user_id"], entry["project_id"]), {
                "user_id": entry["user_id"], "user_name": user["fullname"], "project_id": entry["project_id"],
                "project_name": (state.projects.get(entry["project_id"]) or {}).get("name"),
                "seconds": [0] * days, "billable_seconds": [0] * days, "currency": "USD"})
            offset = (datetime.fromisoformat(state.local_day(entry)) - first).days
            row["seconds"][offset] += entry["duration"]
            if entry["billable"]:
                row["billable_seconds"][offset] += entry["duration"]
        response = _answer(list(rows.values()))
        response.headers["X-Range-Start"], response.headers["X-Range-End"] = start, end
        return response

    return bp


def _report_entries(state: TogglState, wid: int, body: dict[str, Any], start: str | None,
                    end: str | None) -> list[dict[str, Any]]:
    """The query's entries in order; kept until the entries change, so paging a big report stays cheap."""
    admin = state.is_admin(wid, g.user["id"])
    filters = {key: frozenset(body.get(key) or []) for key in ("user_ids", "project_ids", "client_ids")}
    billable = body.get("billable")
    wanted = frozenset(body.get("time_entry_ids") or [])
    key = (wid, g.user["id"] if not admin else None, start, end, billable, body.get("order_by", "date"),
           (body.get("order_dir") or "ASC").upper(), wanted,
           *filters.values())
    cached = state.report_cache.get(key)
    if cached is not None and cached[0] == state.entries_version:
        return cached[1]
    entries = []
    for entry in state.time_entries.values():
        if entry["workspace_id"] != wid or entry["server_deleted_at"] or entry["stop"] is None:
            continue
        day = state.local_day(entry)
        project = state.projects.get(entry["project_id"]) if entry["project_id"] else None
        if ((start and day < start) or (end and day > end) or (not admin and entry["user_id"] != g.user["id"])
                or (filters["user_ids"] and entry["user_id"] not in filters["user_ids"])
                or (filters["project_ids"] and entry["project_id"] not in filters["project_ids"])
                or (wanted and entry["id"] not in wanted)
                or (filters["client_ids"] and (not project or project["client_id"] not in filters["client_ids"]))
                or (billable is not None and entry["billable"] != billable)):
            continue
        entries.append(entry)
    order = {"user": lambda e: (e["user_id"], e["start"], e["id"]),
             "duration": lambda e: (e["duration"], e["start"], e["id"]),
             "description": lambda e: (e["description"] or "", e["start"], e["id"]),
             "last_update": lambda e: (e["at"], e["id"])}
    entries.sort(key=order.get(body.get("order_by", "date"), lambda e: (e["start"], e["id"])),
                 reverse=(body.get("order_dir") or "ASC").upper() == "DESC")
    state.report_cache[key] = (state.entries_version, entries)
    return entries


def _report_row(state: TogglState, wid: int, entry: dict[str, Any], number: int, enrich: bool,
                rates: dict[tuple[int, int], float]) -> dict[str, Any]:
    user = state.users[entry["user_id"]]
    rate = _rate(state, wid, entry, rates)
    cents = int(round((rate or 0) * 100))
    row = {"user_id": entry["user_id"], "username": user["fullname"], "project_id": entry["project_id"],
           "task_id": None, "description": entry["description"], "billable": entry["billable"], "tag_ids": [],
           "hourly_rate_in_cents": cents if rate is not None else None,
           "billable_amount_in_cents": cents * entry["duration"] // 3600 if entry["billable"] else 0,
           "currency": "USD", "row_number": number,
           "time_entries": [{"id": entry["id"], "seconds": entry["duration"],
                             "start": entry["start"].replace("Z", "+00:00"),
                             "stop": entry["stop"].replace("Z", "+00:00"), "at": entry["at"],
                             "at_tz": entry["at"]}]}
    if enrich:
        project = state.projects.get(entry["project_id"]) if entry["project_id"] else None
        client = state.clients.get(project["client_id"]) if project and project["client_id"] else None
        row.update(email=user["email"], project_name=project["name"] if project else None,
                   client_name=client["name"] if client else None, task_name=None, tag_names=[])
    return row


def _project_rates(state: TogglState) -> dict[tuple[int, int], float]:
    """(project, user) -> the project user's rate, read once per page (not once per row of the page)."""
    return {(pu["project_id"], pu["user_id"]): float(pu["rate"]) for pu in state.project_users.values()
            if pu["rate"] is not None}


def _rate(state: TogglState, wid: int, entry: dict[str, Any], rates: dict[tuple[int, int], float]) -> float | None:
    """The project user's rate, else the workspace member's."""
    rate = rates.get((entry["project_id"], entry["user_id"]))
    return rate if rate is not None else state.members.get((wid, entry["user_id"]), {}).get("rate")


# Webhooks v1 ------------------------------------------------------------------------------------

def webhooks_blueprint(state: TogglState) -> Blueprint:
    bp = Blueprint("toggl_webhooks", __name__, url_prefix="/webhooks/api/v1")

    def subscription(wid: int, sid: int) -> dict[str, Any]:
        state.workspace_for(g.user, wid)
        found = state.subscriptions.get(sid)
        if found is None or found["workspace_id"] != wid:
            raise ApiError(404, f"subscription {sid} was not found")
        return found

    def check(wid: int, body: dict[str, Any], sid: int | None) -> None:
        description = (body.get("description") or "").strip()
        if not description:
            raise ApiError(400, "description must not be empty")
        if any(s["workspace_id"] == wid and s["subscription_id"] != sid and s["description"] == description
               for s in state.subscriptions.values()):
            raise ApiError(400, "description is already in use")
        filters = body.get("event_filters") or []
        max_hooks, max_events = _limits(state, wid)
        if not filters:
            raise ApiError(400, "event filter list must not be empty")
        if len(filters) > max_events:
            raise ApiError(400, f"event filter list exceeds the limit of {max_events}")
        seen = set()
        for item in filters:
            entity, action = item.get("entity", ""), item.get("action", "")
            if entity not in ENTITIES + ["*"] or action not in ACTIONS + ["*"]:
                raise ApiError(400, f"invalid event filter {entity}/{action}")
            if (entity, action) in seen:
                raise ApiError(400, "duplicate event filter")
            seen.add((entity, action))
        enabled = [s for s in state.subscriptions.values()
                   if s["workspace_id"] == wid and s["enabled"] and s["subscription_id"] != sid]
        if body.get("enabled", True) and len(enabled) >= max_hooks:
            raise ApiError(400, f"user has reached the limit of {max_hooks} enabled subscriptions")
        if not str(body.get("url_callback") or "").startswith(("http://", "https://")):
            raise ApiError(400, "url_callback must be an http(s) URL")

    @bp.get("/subscriptions/<int:wid>")
    def list_subscriptions(wid: int):
        state.workspace_for(g.user, wid)
        return _answer([s for s in state.subscriptions.values() if s["workspace_id"] == wid])

    @bp.post("/subscriptions/<int:wid>")
    def create_subscription(wid: int):
        state.workspace_for(g.user, wid)
        body = _body()
        check(wid, body, None)
        sid = state.next_id("subscription")
        now = stamp(state.now())
        found = {"subscription_id": sid, "workspace_id": wid, "user_id": g.user["id"],
                 "enabled": bool(body.get("enabled", True)), "description": body["description"].strip(),
                 "event_filters": body["event_filters"], "url_callback": body["url_callback"],
                 "secret": body.get("secret") or secrets.token_hex(16), "validated_at": None,
                 "has_pending_events": False, "created_at": now, "updated_at": now, "deleted_at": None,
                 "validation_code": secrets.token_hex(16)}
        state.subscriptions[sid] = found
        # Creating a subscription calls its URL (a PING carrying the validation code); a failing URL refuses it.
        status, error = _ping_unlocked(state, found)
        if error or not 200 <= status < 300:
            del state.subscriptions[sid]
            reason = f"request to URL failed: {error}" if error else f"URL endpoint responded with status {status} " \
                                                                      "instead of 200"
            raise ApiError(400, reason)
        return _answer(_public(found))

    @bp.put("/subscriptions/<int:wid>/<int:sid>")
    def update_subscription(wid: int, sid: int):
        found = subscription(wid, sid)
        body = _body()
        check(wid, body, sid)
        if "secret" in body and not body["secret"]:
            raise ApiError(400, "secret must not be empty")
        found.update(description=body["description"].strip(), event_filters=body["event_filters"],
                     url_callback=body["url_callback"], enabled=bool(body.get("enabled", found["enabled"])),
                     secret=body.get("secret") or found["secret"], updated_at=stamp(state.now()))
        return _answer(_public(found))

    @bp.patch("/subscriptions/<int:wid>/<int:sid>")
    def toggle_subscription(wid: int, sid: int):
        found = subscription(wid, sid)
        body = _body()
        if set(body) != {"enabled"}:
            raise ApiError(400, "only 'enabled' can be patched")
        found.update(enabled=bool(body["enabled"]), updated_at=stamp(state.now()))
        return _answer(_public(found))

    @bp.delete("/subscriptions/<int:wid>/<int:sid>")
    def delete_subscription(wid: int, sid: int):
        found = subscription(wid, sid)
        del state.subscriptions[sid]
        return _answer(_public({**found, "deleted_at": stamp(state.now())}))

    @bp.post("/ping/<int:wid>/<int:sid>")
    def ping(wid: int, sid: int):
        found = subscription(wid, sid)
        status, error = _ping_unlocked(state, found)
        return _answer({"status": "ok" if not error and 200 <= status < 300 else f"failed: {error or status}"})

    @bp.get("/validate/<int:wid>/<int:sid>/<code>")
    def validate(wid: int, sid: int, code: str):
        found = subscription(wid, sid)
        if found["validated_at"]:
            raise ApiError(400, f"subscription {sid} has already been validated")
        if code != found["validation_code"]:
            raise ApiError(400, f"subscription {sid} was not found")
        found["validated_at"] = stamp(state.now())
        return _answer("OK")

    @bp.get("/event_filters")
    def event_filters():
        return _answer({entity: ACTIONS for entity in ENTITIES})

    @bp.get("/limits/<int:wid>")
    def limits(wid: int):
        state.workspace_for(g.user, wid)
        max_hooks, max_events = _limits(state, wid)
        return _answer({"max_webhooks": max_hooks, "max_events_per_webhook": max_events})

    @bp.get("/status")
    def status():
        return _answer({"status": "OK"})

    return bp


def _limits(state: TogglState, wid: int) -> tuple[int, int]:
    plan = state.organizations[state.workspaces[wid]["organization_id"]]["plan"]
    return WEBHOOK_LIMITS.get(plan, WEBHOOK_LIMITS["free"])


def _public(subscription: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in subscription.items() if k != "validation_code"}


def _sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(state: TogglState, subscription: dict[str, Any], event: dict[str, Any]) -> tuple[int, str, str]:
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/json", "X-Webhook-Signature-256": _sign(subscription["secret"], body)}
    try:
        response = httpx.post(subscription["url_callback"], content=body, headers=headers, timeout=DELIVERY_TIMEOUT)
    except httpx.HTTPError as exc:
        outcome = (0, "", f"{type(exc).__name__}: {exc}")
    else:
        outcome = (response.status_code, response.text[:500], "")
    with state.lock:
        state.deliveries.append({"subscription_id": subscription["subscription_id"], "event_id": event["event_id"],
                                 "payload": event["payload"] if isinstance(event["payload"], str) else "event",
                                 "status": outcome[0], "error": outcome[2], "at": stamp(state.now())})
    return outcome


def _ping_unlocked(state: TogglState, subscription: dict[str, Any]) -> tuple[int, str]:
    """PING the subscription's URL without holding the sandbox lock (the receiver may call us back)."""
    now = stamp(state.now())
    event = {"event_id": 0, "created_at": now, "creator_id": subscription["user_id"],
             "metadata": {"request_type": "POST", "event_user_id": subscription["user_id"]}, "payload": "ping",
             "subscription_id": subscription["subscription_id"], "timestamp": now,
             "url_callback": subscription["url_callback"]}
    if not subscription["validated_at"]:
        code = subscription["validation_code"]
        event["validation_code"] = code
        event["validation_code_url"] = (f"{request.host_url.rstrip('/')}/webhooks/api/v1/validate/"
                                        f"{subscription['workspace_id']}/{subscription['subscription_id']}/{code}")
    state.lock.release()
    try:
        status, text, error = _post(state, subscription, event)
    finally:
        state.lock.acquire()
    if not error and 200 <= status < 300 and not subscription["validated_at"]:
        try:
            echoed = json.loads(text or "{}").get("validation_code")
        except (ValueError, AttributeError):
            echoed = None
        if echoed == subscription["validation_code"]:  # synchronous validation: the endpoint echoed the code
            subscription["validated_at"] = stamp(state.now())
    return status, error


def emit(state: TogglState, wid: int, entity: str, action: str, payload: dict[str, Any], user_id: int,
         path: str | None = None, request_body: str | None = None) -> None:
    """Deliver an event to every enabled, validated subscription whose filters match (in the background).

    `path` and `request_body` describe the API call that caused it (the current request's by default)."""
    targets = [s for s in state.subscriptions.values()
               if s["workspace_id"] == wid and s["enabled"] and s["validated_at"]
               and any(f["entity"] in (entity, "*") and f["action"] in (action, "*") for f in s["event_filters"])]
    for subscription in targets:
        event = {"event_id": state.next_id("event"), "created_at": stamp(state.now()), "creator_id": user_id,
                 "metadata": {"action": action, "event_user_id": str(user_id), "model": entity,
                              "model_owner_id": str(payload.get("user_id", user_id)),
                              "path": path or request.path,
                              "request_body": request.get_data(as_text=True) if request_body is None else request_body,
                              "request_type": request.method, f"{entity}_id": str(payload["id"]),
                              "workspace_id": str(wid)},
                 "payload": dict(payload), "subscription_id": subscription["subscription_id"],
                 "timestamp": stamp(state.now()), "url_callback": subscription["url_callback"]}
        if payload.get("project_id"):
            event["metadata"]["project_id"] = str(payload["project_id"])
        threading.Thread(target=_post, args=(state, dict(subscription), event), daemon=True).start()
