"""A loopback Toggl Track server: API v9 here, Reports v3 and Webhooks v1 in toggl_hooks.py, all under
one host as on api.track.toggl.com, plus the admin API (/_sandbox) and two tiny web pages for the
"View in Toggl" links.

The admin API also seeds many time entries at once, changes and deletes entries as a person would in
Toggl (with or without their webhook), replays an entry's event, slows every answer down (`latency`), and
fails a share of requests at random (`/_sandbox/chaos`: 5xx, 429, timeouts, malformed JSON).

Every API request goes through the same gate as the real service: injected faults, Basic auth with
`<token>:api_token`, the per-token leaky bucket (429), then the sliding hourly quota per user and
organization (402 with X-Toggl-Quota-Remaining / X-Toggl-Quota-Resets-In; `/me` has its own 30/h).
Decisions on what the reference leaves open are listed in toggl_state.py.

    python -m sandboxes toggl --port 5101     (starts empty; `flask --app portal demo sandboxes` seeds the demo)
"""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
import time
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request
from markupsafe import escape

from sandboxes import toggl_hooks
from sandboxes.kit import Clock, Faults, RequestLog, admin_blueprint, fault_response, keep_state, lost_answer
from sandboxes.kit import json_answer as answer
from sandboxes.toggl_state import ApiError, TogglState, body_json, parse_day, stamp

API_PREFIXES = ("/api/v9", "/reports/api/v3", "/webhooks/api/v1")
_WORKSPACE_IN_PATH = re.compile(r"/(?:workspaces?|subscriptions|ping|validate|limits)/(\d+)")
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 151


def create_sandbox(state_file: str | None = None) -> Flask:
    """The sandbox app with its own in-memory state, empty until seeded through POST /_sandbox/seed.

    With `state_file` (the demo's `make run`) the records survive restarts: they are loaded from the file
    when it exists, and written back after every change.
    """
    app = Flask("toggl_sandbox")
    app.json.sort_keys = False  # answers in the records' own order, and big report pages stay quick
    app.json.compact = True
    clock, faults, log = Clock(), Faults(), RequestLog()
    state = TogglState(clock)
    app.extensions["toggl_sandbox"] = state
    app.register_blueprint(admin_blueprint(clock, faults, log))
    app.register_blueprint(_admin(state, faults, log))
    app.register_blueprint(_api(state))
    app.register_blueprint(toggl_hooks.reports_blueprint(state))
    app.register_blueprint(toggl_hooks.webhooks_blueprint(state))
    app.register_blueprint(_web(state))
    _gate(app, state, faults, log)
    keep_state(app, state, state_file)
    return app


def _gate(app: Flask, state: TogglState, faults: Faults, log: RequestLog) -> None:
    @app.before_request
    def gate():
        if not request.path.startswith(API_PREFIXES):
            return None
        g.log_generation = log.generation
        if state.latency:
            time.sleep(state.latency)
        fault = faults.take(request.method, request.path)
        if fault is not None and fault.lose_answer:
            g.lose_answer = fault  # carried out below; the answer is replaced in stamp_response
        elif fault is not None:
            return fault_response(fault)
        header = request.headers.get("Authorization", "")
        if not header:
            response = Response("", 401)
            response.headers["X-Authorization-Missing"] = "true"
            return response
        user, token = _authenticate(state, header)
        if user is None:  # Toggl's documented answer to bad credentials, with words on the real service
            return _refused(state.behaviours["auth_error_body"])
        with state.lock:
            wait = state.drip(token)
            if wait is not None:
                response = answer("Too Many Requests", 429)
                if state.behaviours["retry_after_on_429"]:
                    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return response
            allowed, remaining, resets_in = state.charge(user["id"], _organization_of(state, request.path))
        g.quota = (remaining, resets_in)
        if not allowed:
            return answer("Quota exceeded: the hourly API request limit has been reached. "
                          f"Try again in {resets_in} seconds.", 402)
        g.user = user
        state.lock.acquire()
        g.locked = True
        return None

    @app.teardown_request
    def unlock(_exc):
        if g.pop("locked", False):
            state.lock.release()

    @app.after_request
    def stamp_response(response: Response):
        if g.get("lose_answer") is not None:
            response = lost_answer(g.lose_answer, response)
        if request.path.startswith(API_PREFIXES):
            if "quota" in g:
                remaining, resets_in = g.quota
                response.headers["X-Toggl-Quota-Remaining"] = str(remaining)
                response.headers["X-Toggl-Quota-Resets-In"] = str(resets_in)
            request_id = secrets.token_hex(12)
            response.headers["X-Toggl-Request-Id"] = request_id
            response.headers["X-Request-Id"] = request_id
            log.add(request.method, request.path, request.query_string.decode(), response.status_code,
                    g.get("log_generation", log.generation))
        return response

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        response = answer(error.message, error.status)
        response.headers.update(error.headers)
        return response

    @app.errorhandler(404)
    def not_found(_error):
        return answer("Not Found", 404)

    @app.errorhandler(405)
    def not_allowed(_error):
        return answer("Method Not Allowed", 405)


AUTH_REFUSED = "Incorrect username and/or password"


def _refused(body: str) -> Response:
    if body == "json":
        return answer(AUTH_REFUSED, 403)
    if body == "text":
        return Response(AUTH_REFUSED, 403, content_type="text/plain; charset=utf-8")
    return Response("", 403)


def _authenticate(state: TogglState, header: str) -> tuple[dict[str, Any] | None, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, ""
    try:
        username, _, password = base64.b64decode(value).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, ""
    if password == "api_token":
        return state.user_for_token(username), username
    for user in state.users.values():  # email:password also works on the real API
        if user["email"].lower() == username.lower() and user.get("password") and user["password"] == password:
            return user, user["api_token"]
    return None, ""


def _organization_of(state: TogglState, path: str) -> int | None:
    """The quota bucket: requests about the user itself (/me) have their own; the rest count per org."""
    if path.startswith("/api/v9/me"):
        return None
    match = _WORKSPACE_IN_PATH.search(path)
    workspace = state.workspaces.get(int(match.group(1))) if match else None
    return workspace["organization_id"] if workspace else None


def _ids(value: str | None) -> set[int]:
    try:
        return {int(v) for v in (value or "").split(",") if v.strip()}
    except ValueError:
        raise ApiError(400, "Invalid id list") from None


def _bool_arg(name: str) -> bool | None:
    value = request.args.get(name)
    return None if value is None else value.lower() == "true"


def _api(state: TogglState) -> Blueprint:
    bp = Blueprint("toggl_api", __name__, url_prefix="/api/v9")

    def workspace(wid: int) -> dict[str, Any]:
        return state.workspace_for(g.user, wid)

    def require_admin(wid: int, message: str) -> None:
        if not state.is_admin(wid, g.user["id"]):
            raise ApiError(403, message)

    # The user ---------------------------------------------------------------------------------
    @bp.get("/me")
    def me():
        user = {k: v for k, v in g.user.items() if k != "password"}
        if request.args.get("with_related_data") == "true":
            wids = [w for (w, u) in state.members if u == g.user["id"]]
            user["workspaces"] = [state.workspace_view(state.workspaces[w], g.user["id"]) for w in wids]
            user["clients"] = [c for c in state.clients.values() if c["wid"] in wids]
            user["projects"] = [state.project_view(p) for p in state.projects.values() if p["workspace_id"] in wids]
        return answer(user)

    @bp.get("/me/workspaces")
    def my_workspaces():
        return answer([state.workspace_view(state.workspaces[w], g.user["id"])
                       for (w, u) in sorted(state.members) if u == g.user["id"]])

    @bp.get("/me/quota")
    def my_quota():
        return answer(state.quota_rows(g.user["id"]))

    # Workspaces and members -------------------------------------------------------------------
    @bp.get("/workspaces/<int:wid>")
    def get_workspace(wid: int):
        return answer(state.workspace_view(workspace(wid), g.user["id"]))

    @bp.get("/workspaces/<int:wid>/users")
    def workspace_users(wid: int):
        workspace(wid)
        rows = []
        for (w, uid), member in sorted(state.members.items()):
            if w == wid:
                user = state.users[uid]
                rows.append({"id": uid, "email": user["email"], "fullname": user["fullname"],
                             "inactive": not member["active"], "is_active": member["active"],
                             "is_admin": member["admin"], "role": "admin" if member["admin"] else "user"})
        return answer(rows)

    @bp.get("/workspaces/<int:wid>/workspace_users")
    def workspace_user_rows(wid: int):
        workspace(wid)
        return answer([{"id": m["id"], "uid": uid, "user_id": uid, "wid": wid, "email": state.users[uid]["email"],
                        "name": state.users[uid]["fullname"], "active": m["active"], "inactive": not m["active"],
                        "admin": m["admin"], "workspace_admin": m["admin"], "organization_admin": False,
                        "role": "admin" if m["admin"] else "user", "rate": m["rate"], "labor_cost": None,
                        "group_ids": [], "timezone": state.users[uid].get("timezone") or "UTC"}
                       for (w, uid), m in sorted(state.members.items()) if w == wid])

    # Clients ----------------------------------------------------------------------------------
    @bp.get("/workspaces/<int:wid>/clients")
    def list_clients(wid: int):
        workspace(wid)
        status = request.args.get("status", "active")
        name = (request.args.get("name") or "").lower()
        rows = [c for c in state.clients.values() if c["wid"] == wid
                and (status == "both" or c["archived"] == (status == "archived")) and name in c["name"].lower()]
        return answer(sorted(rows, key=lambda c: (c["name"].lower(), c["id"])))

    @bp.post("/workspaces/<int:wid>/clients")
    def create_client(wid: int):
        workspace(wid)
        return answer(state.new_client(wid, g.user["id"], body_json()))

    @bp.get("/workspaces/<int:wid>/clients/<int:cid>")
    def get_client(wid: int, cid: int):
        workspace(wid)
        return answer(state.client_in(wid, cid))

    @bp.put("/workspaces/<int:wid>/clients/<int:cid>")
    def update_client(wid: int, cid: int):
        workspace(wid)
        client = state.client_in(wid, cid)
        body = body_json()
        name = (body.get("name") or client["name"]).strip()
        if any(c["wid"] == wid and c["id"] != cid and c["name"].lower() == name.lower()
               for c in state.clients.values()):
            raise ApiError(400, "Name has already been taken")
        client.update(name=name, notes=body.get("notes", client["notes"]), at=stamp(state.now()),
                      external_reference=body.get("external_reference", client["external_reference"]))
        return answer(client)

    @bp.post("/workspaces/<int:wid>/clients/<int:cid>/archive")
    def archive_client(wid: int, cid: int):
        ws = workspace(wid)
        client = state.client_in(wid, cid)
        if not ws["premium"]:
            raise ApiError(402, "Archiving clients needs a paid plan on this workspace.")
        client["archived"] = True
        archived = []
        for project in state.projects.values():
            if project["client_id"] == cid and project["active"]:
                project["active"] = False
                archived.append(project["id"])
        return answer(archived)

    @bp.post("/workspaces/<int:wid>/clients/<int:cid>/restore")
    def restore_client(wid: int, cid: int):
        workspace(wid)
        client = state.client_in(wid, cid)
        body = body_json()
        client["archived"] = False
        for project in state.projects.values():
            if project["client_id"] == cid and (body.get("restore_all_projects")
                                                or project["id"] in (body.get("projects") or [])):
                project["active"] = True
        return answer(client)

    @bp.delete("/workspaces/<int:wid>/clients/<int:cid>")
    def delete_client(wid: int, cid: int):
        workspace(wid)
        state.client_in(wid, cid)
        del state.clients[cid]
        for project in state.projects.values():
            if project["client_id"] == cid:
                project["client_id"] = None
        return answer(None)

    # Projects ---------------------------------------------------------------------------------
    @bp.get("/workspaces/<int:wid>/projects")
    def list_projects(wid: int):
        workspace(wid)
        args = request.args
        active = args.get("active", "true").lower()
        name = (args.get("name") or "").lower()
        search = (args.get("search") or "").lower()
        client_ids, project_ids = _ids(args.get("client_ids")), _ids(args.get("project_ids"))
        billable = _bool_arg("billable")
        rows = [state.project_view(p) for p in state.projects.values()
                if p["workspace_id"] == wid and not p["server_deleted_at"]
                and (active == "both" or p["active"] == (active == "true"))
                and (not name or p["name"].lower() == name) and search in p["name"].lower()
                and (not client_ids or p["client_id"] in client_ids)
                and (not project_ids or p["id"] in project_ids)
                and (billable is None or bool(p["billable"]) == billable)]
        reverse = args.get("sort_order", "ASC").upper() == "DESC"
        rows.sort(key=lambda p: (p["name"].lower(), p["id"]), reverse=reverse)
        page = max(1, args.get("page", 1, type=int) or 1)
        per_page = min(MAX_PER_PAGE, max(1, args.get("per_page", DEFAULT_PER_PAGE, type=int) or DEFAULT_PER_PAGE))
        chunk = rows[(page - 1) * per_page: page * per_page]
        return answer([{**p, "total_count": len(rows)} for p in chunk])

    @bp.post("/workspaces/<int:wid>/projects")
    def create_project(wid: int):
        ws = workspace(wid)
        body = body_json()
        if ws["only_admins_may_create_projects"]:
            require_admin(wid, "Only admins may create projects in this workspace")
        state.require_premium(ws, body)
        project = state.new_project(wid, g.user["id"], body)
        state.lag(project["id"])
        toggl_hooks.emit(state, wid, "project", "created", state.project_view(project), g.user["id"])
        return answer(state.project_view(project))

    @bp.get("/workspaces/<int:wid>/projects/<pid>")
    def get_project(wid: int, pid: str):
        workspace(wid)
        return answer(state.project_view(state.project_in(wid, pid)))

    @bp.put("/workspaces/<int:wid>/projects/<pid>")
    def update_project(wid: int, pid: str):
        ws = workspace(wid)
        project = state.project_in(wid, pid)
        body = body_json()
        state.require_premium(ws, body)
        if "cid" in body and "client_id" not in body:
            body["client_id"] = body["cid"]
        editable = ["name", "client_id", "active", "is_private", "billable", "start_date", "end_date",
                    "estimated_hours", "auto_estimates", "fixed_fee", "rate", "currency", "color",
                    "external_reference"]
        values = {**project, **{k: body[k] for k in editable if k in body}}
        values["name"] = (values["name"] or "").strip()
        for field in ("start_date", "end_date"):
            values[field] = parse_day(values[field], field)
        state.check_project(wid, project["id"], values)
        project.update({k: values[k] for k in editable})
        project["at"] = stamp(state.now())
        toggl_hooks.emit(state, wid, "project", "updated", state.project_view(project), g.user["id"])
        return answer(state.project_view(project))

    @bp.delete("/workspaces/<int:wid>/projects/<pid>")
    def delete_project(wid: int, pid: str):
        workspace(wid)
        project = state.project_in(wid, pid)
        mode = request.args.get("teDeletionMode", "unassign")
        for entry in state.time_entries.values():
            if entry["project_id"] == project["id"]:
                if mode == "delete":
                    entry["server_deleted_at"] = stamp(state.now())
                else:
                    entry["project_id"] = entry["pid"] = None
        state.entries_changed()
        for pu_id in [i for i, pu in state.project_users.items() if pu["project_id"] == project["id"]]:
            del state.project_users[pu_id]
        project["server_deleted_at"] = stamp(state.now())
        return answer(None)

    # Project users ----------------------------------------------------------------------------
    def require_project_admin(wid: int, project_id: int) -> None:
        managers = {pu["user_id"] for pu in state.project_users.values()
                    if pu["project_id"] == project_id and pu["manager"]}
        if not state.is_admin(wid, g.user["id"]) and g.user["id"] not in managers:
            raise ApiError(403, "Only admins and project managers may change project users")

    @bp.get("/workspaces/<int:wid>/project_users")
    def list_project_users(wid: int):
        workspace(wid)
        project_ids = _ids(request.args.get("project_ids"))
        if len(project_ids) > 200:
            raise ApiError(400, "project_ids: at most 200 ids")
        user_id = request.args.get("user_id", type=int)
        return answer(sorted((pu for pu in state.project_users.values() if pu["workspace_id"] == wid
                              and (not project_ids or pu["project_id"] in project_ids)
                              and (user_id is None or pu["user_id"] == user_id)), key=lambda pu: pu["id"]))

    @bp.post("/workspaces/<int:wid>/project_users")
    def create_project_user(wid: int):
        ws = workspace(wid)
        body = body_json()
        state.require_premium(ws, {k: body.get(k) for k in ("rate", "rate_change_mode", "labor_cost")})
        project = state.project_in(wid, body.get("project_id"))
        state.check_visible(project)
        require_project_admin(wid, project["id"])
        project_user = state.new_project_user(wid, body)
        toggl_hooks.emit(state, wid, "project_user", "created", project_user, g.user["id"])
        return answer(project_user)

    @bp.put("/workspaces/<int:wid>/project_users/<int:puid>")
    def update_project_user(wid: int, puid: int):
        ws = workspace(wid)
        project_user = state.project_users.get(puid)
        if project_user is None or project_user["workspace_id"] != wid:
            raise ApiError(400, "Project user not found/accessible")
        body = body_json()
        changes = {k: body[k] for k in ("manager", "rate", "rate_change_mode", "labor_cost", "labor_cost_change_mode")
                   if k in body}
        if not changes:
            raise ApiError(400, "Missing data")
        state.require_premium(ws, {k: changes.get(k) for k in ("rate", "rate_change_mode", "labor_cost")})
        require_project_admin(wid, project_user["project_id"])
        if "rate" in changes and changes["rate"] != project_user["rate"]:
            project_user["rate_last_updated"] = stamp(state.now())
        project_user.update({k: v for k, v in changes.items() if k != "labor_cost_change_mode"})
        project_user["at"] = stamp(state.now())
        toggl_hooks.emit(state, wid, "project_user", "updated", project_user, g.user["id"])
        return answer(project_user)

    @bp.delete("/workspaces/<int:wid>/project_users/<int:puid>")
    def delete_project_user(wid: int, puid: int):
        workspace(wid)
        project_user = state.project_users.get(puid)
        if project_user is None or project_user["workspace_id"] != wid:
            raise ApiError(400, "Project user not found/accessible")
        require_project_admin(wid, project_user["project_id"])
        del state.project_users[puid]  # their time entries stay: removing a member keeps history
        toggl_hooks.emit(state, wid, "project_user", "deleted", project_user, g.user["id"])
        return answer(None)

    toggl_hooks.time_entry_routes(bp, state, workspace)
    return bp


def _admin(state: TogglState, faults: Faults, log: RequestLog) -> Blueprint:
    """Seed data, reset, dial limits and read the state: for tests and the demo."""
    bp = Blueprint("toggl_admin", __name__, url_prefix="/_sandbox")

    @bp.post("/reset")
    def reset():
        with state.lock:
            state.reset()
            state.clock.offset = 0.0
        faults.clear()
        log.clear()
        return jsonify({"reset": True})

    @bp.post("/seed")
    def seed():
        try:
            with state.lock:
                return jsonify(state.seed(request.get_json(silent=True) or {}))
        except ApiError as error:
            return jsonify({"error": error.message}), 400

    @bp.get("/state")
    def dump():
        with state.lock:
            return jsonify(state.dump())

    @bp.post("/limits")
    def limits():
        body = request.get_json(silent=True) or {}
        with state.lock:
            state.latency = float(body.get("latency", state.latency))
            state.bucket_capacity = float(body.get("rate_capacity", state.bucket_capacity))
            state.bucket_rate = float(body.get("rate_per_second", state.bucket_rate))
            state.buckets.clear()
            for org_id, values in (body.get("organizations") or {}).items():
                state.organizations[int(org_id)].update(values)
        return jsonify({"rate_capacity": state.bucket_capacity, "rate_per_second": state.bucket_rate,
                        "latency": state.latency})

    @bp.post("/behaviours")
    def behaviours():
        """Switch the real service's behaviours the sandbox imitates (toggl_state.BEHAVIOURS)."""
        body = request.get_json(silent=True) or {}
        unknown = set(body) - set(state.behaviours)
        if unknown:
            return jsonify({"error": f"unknown behaviours: {sorted(unknown)}"}), 400
        with state.lock:
            state.behaviours.update(body)
            return jsonify(state.behaviours)

    @bp.post("/workspaces/<int:wid>")
    def update_workspace(wid: int):
        with state.lock:
            state.workspaces[wid].update(request.get_json(silent=True) or {})
            return jsonify(state.workspaces[wid])

    # Time entries: seed many, change or delete them as a person would in Toggl, replay their webhooks.
    def entry(entry_id: int) -> dict[str, Any]:
        found = state.time_entries.get(entry_id)
        if found is None:
            raise ApiError(404, "Time entry not found")
        return found

    def announce(found: dict[str, Any], action: str, changes: dict[str, Any]) -> None:
        wid = found["workspace_id"]
        toggl_hooks.emit(state, wid, "time_entry", action, dict(found), found["user_id"],
                         path=f"/api/v9/workspaces/{wid}/time_entries/{found['id']}", request_body=json.dumps(changes))

    @bp.post("/time_entries/generate")
    def generate_entries():
        with state.lock:
            created = state.generate_time_entries(request.get_json(silent=True) or {})
        return jsonify({"created": created["created"], "first_id": created["ids"][0] if created["ids"] else None,
                        "last_id": created["ids"][-1] if created["ids"] else None})

    @bp.get("/time_entries/<int:entry_id>")
    def get_entry(entry_id: int):
        with state.lock:
            return jsonify(entry(entry_id))

    @bp.post("/time_entries/<int:entry_id>")
    def edit_entry(entry_id: int):
        """Change an entry (PUT semantics); its webhook goes out unless `emit` is false (a missed delivery)."""
        body = request.get_json(silent=True) or {}
        changes = {k: v for k, v in body.items() if k != "emit"}
        with state.lock:
            found = entry(entry_id)
            state.update_time_entry(found["workspace_id"], found, changes)
            if body.get("emit", True):
                announce(found, "updated", changes)
            return jsonify(found)

    @bp.delete("/time_entries/<int:entry_id>")
    def delete_entry(entry_id: int):
        with state.lock:
            found = state.delete_time_entry(entry(entry_id))
            if request.args.get("emit", "true") != "false":
                announce(found, "deleted", {})
            return jsonify(found)

    @bp.post("/webhooks/emit")
    def emit_entry_event():
        """Send the event of an entry's current state again (a retried or duplicated delivery)."""
        body = request.get_json(silent=True) or {}
        with state.lock:
            found = entry(int(body["time_entry_id"]))
            announce(found, body.get("action", "updated"), {})
        return jsonify({"emitted": True})

    @bp.post("/members")
    def update_member():
        body = request.get_json(silent=True) or {}
        with state.lock:
            try:
                user = state.user_by_email(body["email"])
            except ApiError:
                user = state.new_user(body["email"], body.get("fullname", ""))
            key = (body["workspace_id"], user["id"])
            if body.get("remove"):
                state.members.pop(key, None)
            else:
                if key not in state.members:
                    state.add_member(key[0], user["id"])
                state.members[key].update({k: body[k] for k in ("admin", "active", "rate") if k in body})
            if body.get("timezone"):
                user["timezone"] = body["timezone"]
        return jsonify({"ok": True})

    return bp


def _web(state: TogglState) -> Blueprint:
    """The pages "View in Toggl" opens, so the demo's links lead somewhere offline."""
    bp = Blueprint("toggl_web", __name__)

    def page(title: str, body: str) -> str:
        return (f"<!doctype html><title>{escape(title)} · Toggl Track sandbox</title>"
                f"<h1>{escape(title)}</h1>{body}<p><small>Toggl Track sandbox</small></p>")

    @bp.get("/<int:wid>/projects/<int:pid>/<tab>")
    def project_page(wid: int, pid: int, tab: str):
        with state.lock:
            project = state.projects.get(pid)
            if project is None or project["workspace_id"] != wid:
                return page("No such project", ""), 404
            view = state.project_view(project)
            team = "".join(f"<li>{escape(state.users[pu['user_id']]['fullname'])}"
                           f"{' (manager)' if pu['manager'] else ''}"
                           f"{' · rate ' + str(pu['rate']) if pu['rate'] is not None else ''}</li>"
                           for pu in state.project_users.values() if pu["project_id"] == pid)
        facts = "".join(f"<dt>{k}</dt><dd>{escape(str(view[k]))}</dd>" for k in
                        ("client_name", "status", "billable", "start_date", "end_date", "estimated_hours",
                         "fixed_fee"))
        return page(view["name"], f"<dl>{facts}</dl><h2>Team</h2><ul>{team}</ul>")

    @bp.get("/reports/detailed/<int:wid>/from/<day>/to/<until>/users/<int:uid>")
    def detailed_report_page(wid: int, day: str, until: str, uid: int):
        """Where "From Toggl" links lead: a person's entries of a day."""
        with state.lock:
            user = state.users.get(uid)
            rows = "".join(
                f"<li id='entry-{e['id']}'>{escape(e['start'])} · {max(0, e['duration']) / 3600:.2f} h · "
                f"{escape(e['description'] or '')} (entry {e['id']})</li>"
                for e in sorted(state.time_entries.values(), key=lambda e: e["start"])
                if e["workspace_id"] == wid and e["user_id"] == uid and day <= e["start"][:10] <= until
                and not e["server_deleted_at"])
        name = user["fullname"] if user else f"user {uid}"
        return page(f"Detailed report · {name} · {day}", f"<ul>{rows}</ul>")

    @bp.get("/<int:wid>/clients")
    def clients_page(wid: int):
        with state.lock:
            rows = "".join(f"<li>{escape(c['name'])} (id {c['id']})</li>" for c in state.clients.values()
                           if c["wid"] == wid)
        return page("Clients", f"<ul>{rows}</ul>")

    return bp
