"""A loopback Procore: REST v1.0 and OAuth as ../shared/reference/external-apis.md part B describes.

    python -m sandboxes procore --port 5102     (starts empty; `flask --app portal demo sandboxes` seeds the demo)

What it enforces, like Procore: a Bearer token from /oauth/token (client credentials, authorization code,
single-use refresh tokens; 5400 s lifetime), the Procore-Company-Id header on every /rest call (400 when
missing, 403 for a company the app is not installed in), page/per_page with Total, Per-Page and Link,
`filters[updated_at]` / `filters[deleted_at]` ranges written `start...end`, the {"timecard_entry": ...}
wrapper with string hours and nested references, 422 validation errors, X-Rate-Limit-* headers for the
hourly or the 10-second window, whichever is closer to exhaustion, with 429 (and no Retry-After) past
either. Only the published operations exist (no read-one for Company People: it answers 404). Webhook
hooks and triggers queue id-only v2 events that are POSTed with the hook's Authorization header and
retried with backoff (see procore_state). Procore's unkind behaviours (duplicate and out-of-order
deliveries, dropped deliveries, answers lost after the work was done) are procore_state.Behaviours.

Choices where the reference says UNCONFIRMED (the connector agrees with each): default per_page 100;
a company time card list without start_date/end_date covers today only, even with an updated or deleted
filter; a missing company header is a 400; a 422 body is {"errors": {field: [message]}}; company-level
hooks receive the "Timecard Entries" events of every project in the company.

Test hooks under /_sandbox: seed (a whole world, or one record), read which records it holds,
create/change/delete time cards as a Procore user would (their webhooks carry no application id),
inject faults (`lose_answer`: carried out, then answered 504), switch behaviours, revoke an app, move
the clock, run due deliveries, read the request log. `/` is a small page standing in for Procore's own
screens, for the demo.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, abort, g, jsonify, redirect, render_template, request

from sandboxes.kit import keep_state
from sandboxes.procore_state import LOST_ANSWER, Behaviours, SandboxError, State, iso, parse_range

API = "/rest/v1.0"
DEFAULT_PER_PAGE = 100
NAMESPACE = re.compile(r"^[a-z0-9-]+$")
SEEDED = ("companies", "users", "projects", "people", "time_types", "cost_codes", "sub_jobs")
WEB_USER = None  # who makes the time cards of the page standing in for Procore's screens: a person, no app

def _paged(items: list[dict]) -> Response:
    """One page of `items` with Procore's Total, Per-Page and Link headers."""
    page = max(1, request.args.get("page", 1, type=int))
    per_page = min(max(1, request.args.get("per_page", DEFAULT_PER_PAGE, type=int)), 2000)
    last = max(1, math.ceil(len(items) / per_page))

    def url(number: int) -> str:
        args = request.args.to_dict(flat=False)
        args.update(page=[str(number)], per_page=[str(per_page)])
        return f"{request.base_url}?{urlencode(args, doseq=True)}"

    links = []
    if page > 1:
        links += [f'<{url(1)}>; rel="first"', f'<{url(page - 1)}>; rel="prev"']
    if page < last:
        links.append(f'<{url(page + 1)}>; rel="next"')
    links.append(f'<{url(last)}>; rel="last"')
    response = jsonify(items[(page - 1) * per_page: page * per_page])
    response.headers.update({"Total": str(len(items)), "Per-Page": str(per_page), "Link": ", ".join(links)})
    return response


def _body(key: str) -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise SandboxError(400, {"errors": f"param is missing or the value is empty: {key}"})
    return body


def _mask(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("*" * max(0, len(v) - 5) + v[-5:]) if k.lower() == "authorization" else v for k, v in headers.items()}


def create_sandbox(*, deliver: str = "thread", time_scale: float = 1.0, hourly_limit: int = 600,
                   spike_limit: int = 25, state_file: str | None = None, behaviours: Behaviours | None = None) -> Flask:
    """An empty Procore until seeded (POST /_sandbox/seed). `deliver="thread"` POSTs webhooks on a background
    thread; `"manual"` only when /_sandbox/deliveries/run (or state.deliver_due) is called, which is what
    tests want. `state_file` keeps the records across restarts (the demo's `make run`). The limits are the
    documented examples of March 2026 (600 an hour, 25 per 10 seconds); `behaviours` are Procore's unkind
    ones (procore_state.Behaviours)."""
    state = State(time_scale=time_scale, hourly_limit=hourly_limit, spike_limit=spike_limit, behaviours=behaviours)
    app = Flask(__name__)
    keep_state(app, state, state_file)
    app.state = state  # tests reach the world directly as well as through /_sandbox

    @app.errorhandler(SandboxError)
    def sandbox_error(error: SandboxError):
        response = jsonify(error.body)
        response.status_code = error.status
        response.headers.update(error.headers)
        return response

    @app.before_request
    def gate():
        path = request.path
        if path == "/oauth/token":
            state.requests.append({"method": request.method, "path": path, "query": "", "company": None,
                                   "bearer": False, "grant": request.form.get("grant_type")})
            fault = state.take_fault(request.method, path)
            if isinstance(fault, SandboxError):
                raise fault
            g.lose_answer = fault == LOST_ANSWER
            return None
        if not path.startswith("/rest/"):
            return None
        state.requests.append({"method": request.method, "path": path, "query": request.query_string.decode(),
                               "company": request.headers.get("Procore-Company-Id"),
                               "bearer": request.headers.get("Authorization", "").startswith("Bearer ")})
        fault = state.take_fault(request.method, path)
        if isinstance(fault, SandboxError):
            raise fault
        g.lose_answer = fault == LOST_ANSWER or state.lose_this_answer(request.method, path)
        with state.lock:
            g.token = state.authenticate(request.headers.get("Authorization"))
            g.company = state.check_company(g.token, request.headers.get("Procore-Company-Id"))
            g.rate = state.count(f"{g.token['client_id']}:{g.company}")
        return None

    @app.after_request
    def rate_headers(response: Response):
        if g.get("lose_answer") and response.status_code < 400:  # the work is done; the answer never arrives
            response = Response(LOST_ANSWER, 504)
        if "rate" in g:
            response.headers.update(g.rate)
        return response

    def company(company_id: Any) -> int:
        if str(company_id) != str(g.company):
            raise SandboxError(403, {"errors": "Procore-Company-Id does not match the requested company"})
        return g.company

    def project(project_id: Any) -> dict:
        found = state.projects.get(int(project_id)) if str(project_id).isdigit() else None
        if found is None or found["company_id"] != g.company:
            raise SandboxError(404, {"errors": "Not Found"})
        return found

    def required(name: str) -> str:
        value = request.args.get(name) or (request.get_json(silent=True) or {}).get(name)
        if not value:
            raise SandboxError(400, {"errors": f"{name} is required"})
        return str(value)

    # OAuth -------------------------------------------------------------------------------------
    @app.post("/oauth/token")
    def token():
        form = request.form.to_dict() or (request.get_json(silent=True) or {})
        return jsonify(state.grant(form))

    @app.route("/oauth/authorize", methods=["GET", "POST"])
    def authorize():
        args = request.values
        client_id, redirect_uri = args.get("client_id", ""), args.get("redirect_uri", "")
        state_value = args.get("state", "")
        if args.get("response_type", "code") != "code" or client_id not in state.clients:
            return Response("Unknown application or response type.", 400)
        if request.method == "GET":
            companies = [state.companies[c]["name"] for c in sorted(state.clients[client_id]["company_ids"])
                         if c in state.companies]
            return render_template("procore/authorize.html", client_id=client_id, redirect_uri=redirect_uri,
                                   state=state_value, company=" and ".join(companies) or "your company")
        code = state.issue_code(client_id, redirect_uri)
        if redirect_uri == "urn:ietf:wg:oauth:2.0:oob":
            return Response(f"Your authorization code: {code}", 200)
        joiner = "&" if "?" in redirect_uri else "?"
        return redirect(f"{redirect_uri}{joiner}{urlencode({'code': code, 'state': state_value})}")

    @app.get("/oauth/token/info")
    def token_info():
        held = state.authenticate(request.headers.get("Authorization"))
        return jsonify({"resource_owner_id": held["user_id"], "scopes": [], "application": {"uid": held["client_id"]},
                        "expires_in_seconds": int(held["expires_at"] - state.now()), "created_at": held["created_at"]})

    @app.post("/oauth/revoke")
    def revoke():
        token_value = request.form.get("token", "")
        with state.lock:
            state.tokens.pop(token_value, None)
            state.refresh_tokens.pop(token_value, None)
        return jsonify({})

    # Account and reference data ----------------------------------------------------------------------
    @app.get(f"{API}/me")
    def me():
        user = state.users[g.token["user_id"]]
        return jsonify({"id": user["id"], "login": user["login"], "name": user["name"]})

    @app.get(f"{API}/companies")
    def companies():
        allowed = state.clients[g.token["client_id"]]["company_ids"]
        return _paged([{"id": c["id"], "name": c["name"], "is_active": c["is_active"], "logo_url": None,
                        "my_company": False} for c in state.companies.values() if c["id"] in allowed])

    def project_json(row: dict) -> dict:
        return {"id": row["id"], "name": row["name"], "display_name": f"{row['project_number']} - {row['name']}",
                "project_number": row["project_number"], "active": row["active"], "start_date": row["start_date"],
                "completion_date": row["completion_date"], "origin_id": None, "stage": "Course of Construction",
                "company": {"id": row["company_id"], "name": state.companies[row["company_id"]]["name"]}}

    @app.get(f"{API}/projects")
    def projects():
        company(required("company_id"))
        status = request.args.get("filters[by_status]", "Active")
        rows = [p for p in state.projects.values() if p["company_id"] == g.company
                and (status == "All" or p["active"] == (status == "Active"))]
        return _paged([project_json(p) for p in sorted(rows, key=lambda p: p["name"])])

    @app.get(f"{API}/projects/<int:project_id>")
    def project_detail(project_id: int):
        company(required("company_id"))
        return jsonify(project_json(project(project_id)))

    def person_json(row: dict) -> dict:
        return {"id": row["id"], "first_name": row["first_name"], "last_name": row["last_name"], "name": row["name"],
                "employee_id": None, "is_employee": row["is_employee"], "user_id": None,
                "work_classification_id": row.get("work_classification_id"), "origin_id": None,
                "contact": {"email": row["email"] or None, "is_active": True}}

    @app.get(f"{API}/companies/<int:company_id>/people")
    def people(company_id: int):
        company(company_id)
        search = request.args.get("filters[search]", "").lower()
        rows = [p for p in state.people.values() if p["company_id"] == g.company
                and (not search or search in p["name"].lower() or search in (p["email"] or "").lower())]
        return _paged([person_json(p) for p in rows])

    @app.get(f"{API}/companies/<int:company_id>/users")
    def company_users(company_id: int):
        """People with a login (an email), in the Company Users shape."""
        company(company_id)
        search = request.args.get("filters[search]", "").lower()
        return _paged([{"id": p["id"], "name": p["name"], "first_name": p["first_name"], "last_name": p["last_name"],
                        "email_address": p["email"], "is_employee": p["is_employee"], "is_active": True,
                        "job_title": None, "work_classification_id": p.get("work_classification_id"),
                        "vendor": None, "origin_id": None}
                       for p in state.people.values() if p["company_id"] == g.company and p["email"]
                       and (not search or search in p["name"].lower() or search in p["email"].lower())])

    @app.get(f"{API}/companies/<int:company_id>/timecard_time_types")
    def time_types(company_id: int):
        company(company_id)
        # The published operation defines no page/per_page: the whole list, unpaged.
        return jsonify([{**t, "global": None} for t in state.time_types.values() if t["company_id"] == g.company])

    @app.get(f"{API}/cost_codes")
    def cost_codes():
        found = project(required("project_id"))
        return _paged([{"id": c["id"], "name": c["name"], "code": c["code"], "full_code": c["full_code"],
                        "biller_id": found["id"], "biller_type": "Project", "deleted_at": None,
                        "line_item_types": [{"id": 1, "name": "Labor", "code": "LAB", "base_type": "labor"}]}
                       for c in state.cost_codes.values() if c["project_id"] == found["id"]])

    @app.get(f"{API}/sub_jobs")
    def sub_jobs():
        found = project(required("project_id"))
        return _paged([{**s, "origin_id": None} for s in state.sub_jobs.values() if s["project_id"] == found["id"]])

    # Timecard entries ---------------------------------------------------------------------------------
    def entries_between(rows: list[dict]) -> list[dict]:
        args = request.args
        if args.get("filters[deleted_at]"):
            start, end = parse_range(args["filters[deleted_at]"])
            rows = [r for r in rows if r["deleted_at"] and start <= r["deleted_at"] <= end]
        else:
            rows = [r for r in rows if r["deleted_at"] is None]
        if args.get("filters[updated_at]"):
            start, end = parse_range(args["filters[updated_at]"])
            rows = [r for r in rows if start <= r["updated_at"] <= end]
        first, last = args.get("start_date") or args.get("log_date"), args.get("end_date") or args.get("log_date")
        if first and last:
            rows = [r for r in rows if first <= r["date"].isoformat() <= last]
        else:  # no dates: today only, whatever other filter is given (Procore's default window is undocumented)
            today = state.utcnow().date()
            rows = [r for r in rows if r["date"] == today]
        for key in ("party_id", "id"):
            wanted = set(args.getlist(f"filters[{key}][]"))
            if wanted:
                rows = [r for r in rows if str(r.get(key)) in wanted]
        return [state.entry_json(r) for r in sorted(rows, key=lambda r: r["id"])]

    def writer() -> dict[str, Any]:
        return {"user_id": g.token["user_id"], "application": g.token["client_id"]}

    @app.get(f"{API}/companies/<int:company_id>/timecard_entries")
    def company_entries(company_id: int):
        company(company_id)
        return _paged(entries_between([e for e in state.entries.values() if e["company_id"] == g.company]))

    @app.post(f"{API}/companies/<int:company_id>/timecard_entries")
    def company_entry_create(company_id: int):
        company(company_id)
        body = _body("timecard_entry")
        row = state.write_entry(g.company, body.get("project_id"), body["timecard_entry"], **writer())
        return jsonify(state.entry_json(row)), 201

    @app.route(f"{API}/companies/<int:company_id>/timecard_entries/<int:entry_id>", methods=["GET", "PATCH", "DELETE"])
    def company_entry(company_id: int, entry_id: int):
        company(company_id)
        row = state.live_entry(entry_id, g.company)
        if request.method == "PATCH":
            body = _body("timecard_entry")
            row = state.write_entry(g.company, body.get("project_id", row["project_id"]), body["timecard_entry"],
                                    entry=row, **writer())
        elif request.method == "DELETE":
            row = state.delete_entry(entry_id, **writer())
        return jsonify(state.entry_json(row))

    @app.get(f"{API}/projects/<int:project_id>/timecard_entries")
    def project_entries(project_id: int):
        found = project(project_id)
        return _paged(entries_between([e for e in state.entries.values() if e["project_id"] == found["id"]]))

    @app.post(f"{API}/projects/<int:project_id>/timecard_entries")
    def project_entry_create(project_id: int):
        found = project(project_id)
        row = state.write_entry(g.company, found["id"], _body("timecard_entry")["timecard_entry"], **writer())
        return jsonify(state.entry_json(row)), 201

    @app.route(f"{API}/projects/<int:project_id>/timecard_entries/<int:entry_id>", methods=["GET", "PATCH", "DELETE"])
    def project_entry(project_id: int, entry_id: int):
        found = project(project_id)
        row = state.live_entry(entry_id, g.company)
        if row["project_id"] != found["id"]:
            raise SandboxError(404, {"errors": "Not Found"})
        if request.method == "PATCH":
            row = state.write_entry(g.company, found["id"], _body("timecard_entry")["timecard_entry"], entry=row,
                                    **writer())
        elif request.method == "DELETE":
            row = state.delete_entry(entry_id, **writer())
        return jsonify(state.entry_json(row))

    # Webhooks -------------------------------------------------------------------------------------
    def owner() -> tuple[int | None, int | None]:
        payload = request.get_json(silent=True) or {}
        company_id = request.args.get("company_id") or payload.get("company_id")
        project_id = request.args.get("project_id") or payload.get("project_id")
        if project_id:
            return None, project(project_id)["id"]
        if company_id:
            return company(company_id), None
        raise SandboxError(400, {"errors": "company_id or project_id is required"})

    def hook_json(hook: dict) -> dict:
        return {k: hook[k] for k in ("id", "api_version", "namespace", "destination_url", "owned_by_company_id",
                                     "owned_by_project_id", "owned_by_user_id")} | {
            "destination_headers": _mask(hook["destination_headers"])}

    def own_hook(hook_id: int) -> dict:
        hook = state.hooks.get(hook_id)
        if hook is None or (hook["owned_by_company_id"], hook["owned_by_project_id"]) != owner():
            raise SandboxError(404, {"errors": "Not Found"})
        return hook

    @app.route(f"{API}/webhooks/hooks", methods=["GET", "POST"])
    def hooks():
        company_id, project_id = owner()
        if request.method == "GET":
            namespace = request.args.get("namespace", "*")
            return jsonify([hook_json(h) for h in state.hooks.values()
                            if (h["owned_by_company_id"], h["owned_by_project_id"]) == (company_id, project_id)
                            and namespace in ("*", h["namespace"])])
        spec = _body("hook")["hook"]
        if not NAMESPACE.match(spec.get("namespace") or ""):
            raise SandboxError(422, {"errors": {"namespace": ["may contain only a-z, 0-9 and -"]}})
        if not str(spec.get("destination_url", "")).startswith(("http://", "https://")):
            raise SandboxError(422, {"errors": {"destination_url": ["is invalid"]}})
        with state.lock:
            hook = state.add("hooks", api_version=spec.get("api_version", "v2"), namespace=spec["namespace"],
                             destination_url=spec["destination_url"],
                             destination_headers=dict(spec.get("destination_headers") or {}),
                             owned_by_company_id=company_id, owned_by_project_id=project_id,
                             owned_by_user_id=g.token["user_id"], queue=[], failing_since=None)
        return jsonify(hook_json(hook)), 201

    @app.route(f"{API}/webhooks/hooks/<int:hook_id>", methods=["GET", "PATCH", "DELETE"])
    def hook_detail(hook_id: int):
        hook = own_hook(hook_id)
        if request.method == "PATCH":
            spec = _body("hook")["hook"]
            with state.lock:
                for key in ("destination_url", "destination_headers", "namespace"):
                    if key in spec:
                        hook[key] = spec[key]
        elif request.method == "DELETE":
            with state.lock:
                del state.hooks[hook_id]
                for trigger_id in [t for t, v in state.triggers.items() if v["webhook_hook_id"] == hook_id]:
                    del state.triggers[trigger_id]
            return Response(status=204)
        return jsonify(hook_json(hook))

    @app.route(f"{API}/webhooks/hooks/<int:hook_id>/triggers", methods=["GET", "POST"])
    def triggers(hook_id: int):
        hook = own_hook(hook_id)
        if request.method == "GET":
            return jsonify([t for t in state.triggers.values() if t["webhook_hook_id"] == hook["id"]])
        spec = _body("trigger")["trigger"]
        if spec.get("event_type", "").lower() not in ("create", "update", "delete") or not spec.get("resource_name"):
            raise SandboxError(422, {"errors": {"trigger": ["needs a resource_name and an event_type"]}})
        trigger = state.add("triggers", webhook_hook_id=hook["id"], resource_name=spec["resource_name"],
                            resource_id=None, event_type=spec["event_type"].upper(),
                            company_id=hook["owned_by_company_id"], project_id=hook["owned_by_project_id"],
                            user_id=g.token["user_id"])
        return jsonify(trigger), 201

    @app.delete(f"{API}/webhooks/hooks/<int:hook_id>/triggers/<int:trigger_id>")
    def trigger_delete(hook_id: int, trigger_id: int):
        own_hook(hook_id)
        if state.triggers.pop(trigger_id, None) is None:
            raise SandboxError(404, {"errors": "Not Found"})
        return Response(status=204)

    @app.get(f"{API}/webhooks/hooks/<int:hook_id>/deliveries")
    def deliveries(hook_id: int):
        own_hook(hook_id)
        wanted = {"successful": {"ok"}, "failing": {"retried", "failed"}, "discarded": {"discarded"}}.get(
            request.args.get("filters[status]", "any"))
        rows = sorted((d for d in state.deliveries.values() if d["hook_id"] == hook_id
                       and (wanted is None or d["outcome"] in wanted)), key=lambda d: d["id"])
        start = request.args.get("page_start", type=int)
        if start:
            rows = [d for d in rows if d["id"] > start]
        size = request.args.get("page_size", 100, type=int)
        return jsonify([{k: v for k, v in d.items() if k not in ("hook_id", "next_attempt_at")}
                        for d in rows[:size]])

    # Procore's web app (what project_url points at) and the sandbox's own screens ----------------------
    @app.get("/<int:project_id>/project/home")
    def project_home(project_id: int):
        found = state.projects.get(project_id) or abort(404)
        return f"<h1>{found['project_number']} - {found['name']}</h1><p>Procore sandbox project {project_id}</p>"

    @app.route("/", methods=["GET", "POST"])
    def home():
        message = ""
        if request.method == "POST":
            form = request.form
            try:
                fields = {k: form.get(k) for k in ("date", "hours", "party_id", "timecard_time_type_id",
                                                    "cost_code_id", "sub_job_id", "description") if form.get(k)}
                project = state.projects.get(int(form.get("project_id") or 0)) or {}
                row = state.write_entry(project.get("company_id"), form.get("project_id"), fields | {"billable": True},
                                        user_id=WEB_USER)
                message = f"Time card {row['id']} created."
            except SandboxError as error:
                message = f"Procore refused it: {error.body}"
        with state.lock:
            entries = [state.entry_json(e) for e in sorted(state.entries.values(), key=lambda e: -e["id"])
                       if e["deleted_at"] is None][:30]
        return render_template("procore/home.html", state=state, entries=entries, message=message,
                                      today=state.utcnow().date().isoformat())

    @app.post("/timecards/<int:entry_id>/delete")
    def home_delete(entry_id: int):
        state.delete_entry(entry_id, user_id=8000000000002)
        return redirect("/")

    _register_test_hooks(app, state)
    if deliver == "thread":
        state.start_delivery_thread()
    return app


def _register_test_hooks(app: Flask, state: State) -> None:
    """/_sandbox: what tests and the demo use to drive the world from outside the API."""

    @app.post("/_sandbox/reset")
    def reset():
        state.reset()
        return jsonify({"ok": True})

    @app.post("/_sandbox/seed")
    def seed_world():
        """A whole world: {table: [rows]} for the SEEDED tables, and "clients" (installed apps:
        {id, secret, company_ids, user_id})."""
        return jsonify(state.seed(request.get_json(silent=True) or {})), 201

    @app.post("/_sandbox/seed/<table>")
    def seed(table: str):
        if table not in SEEDED:
            abort(404)
        return jsonify(state.add(table, **request.get_json())), 201

    @app.get("/_sandbox/state")
    def held():
        """The ids of the records it holds, by table (what a seeder checks before seeding again)."""
        with state.lock:
            return jsonify({table: sorted(getattr(state, table)) for table in (*SEEDED, "clients")})

    @app.post("/_sandbox/timecards")
    def ui_create():
        body = request.get_json()
        row = state.write_entry(int(body.pop("company_id")), body.pop("project_id", None), body,
                                user_id=body.pop("user_id", None))
        return jsonify(state.entry_json(row)), 201

    @app.route("/_sandbox/timecards/<int:entry_id>", methods=["PATCH", "DELETE"])
    def ui_change(entry_id: int):
        row = state.live_entry(entry_id)
        if request.method == "DELETE":
            return jsonify(state.entry_json(state.delete_entry(entry_id)))
        body = request.get_json()
        return jsonify(state.entry_json(state.write_entry(row["company_id"], body.pop("project_id", row["project_id"]),
                                                          body, entry=row)))

    @app.route("/_sandbox/faults", methods=["POST", "DELETE"])
    def faults():
        with state.lock:
            if request.method == "DELETE":
                state.faults.clear()
            else:
                state.faults.append({"count": 1, **request.get_json()})
        return jsonify(state.faults)

    @app.route("/_sandbox/behaviours", methods=["GET", "POST"])
    def behaviours():
        with state.lock:
            if request.method == "POST":
                state.behaviours.update(request.get_json(silent=True) or {})
            return jsonify({**vars(state.behaviours), **state.counters})

    @app.post("/_sandbox/clients/<client_id>/revoke")
    def revoke_client(client_id: str):
        state.revoke_client(client_id)
        return jsonify({"ok": True})

    @app.post("/_sandbox/clock")
    def clock():
        state.advance(float((request.get_json() or {}).get("advance", 0)))
        return jsonify({"now": iso(state.utcnow())})

    @app.post("/_sandbox/deliveries/run")
    def run_deliveries():
        return jsonify(state.deliver_due())

    @app.get("/_sandbox/deliveries")
    def all_deliveries():
        return jsonify(sorted(state.deliveries.values(), key=lambda d: d["id"]))

    @app.get("/_sandbox/requests")
    def requests_log():
        return jsonify(state.requests)

