"""Fixtures for the Toggl Track sandbox: one loopback server per test session, reset per test through
its admin API, and the app pointed at it (restored afterwards).

    def test_x(toggl, toggl_connection):  # a standard workspace and a connected Connection row
        toggl.fault(r"/api/v9/workspaces/\\d+/projects", status=503)
        ...
        assert toggl.writes() == []
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from portal.columns import utcnow
from portal.integrations.models import Connection, ConnectionStatus
from sandboxes.toggl import create_sandbox
from tests.servers import serve

TOKEN = "test-toggl-token-0001"
WORKSPACE_ID = 7435584
ADMIN_EMAIL = "integration@example.test"
CONFIG_KEYS = ("TOGGL_API_BASE_URL", "TOGGL_REPORTS_BASE_URL", "TOGGL_WEBHOOKS_BASE_URL", "TOGGL_APP_URL",
               "CONNECTOR_MAX_WAIT", "CONNECTOR_INTERACTIVE_MAX_WAIT", "CONNECTOR_BACKOFF_BASE", "CONNECTOR_TIMEOUT",
               "TOGGL_CONSISTENCY_WAIT")


@dataclass
class World:
    """What `TogglSandbox.standard()` created: ids and emails tests refer to."""

    workspace_id: int
    admin_id: int
    members: dict[str, int] = field(default_factory=dict)  # email -> Toggl user id


class TogglSandbox:
    def __init__(self, url: str):
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10)
        self.world: World | None = None

    def _post(self, path: str, body: Any = None) -> Any:
        response = self.http.post(path, json=body if body is not None else {})
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._post("/_sandbox/reset")
        self.world = None

    def seed(self, **spec: Any) -> dict[str, Any]:
        response = self.http.post("/_sandbox/seed", json=spec)
        assert response.status_code == 200, response.text
        return response.json()

    def state(self) -> dict[str, Any]:
        return self.http.get("/_sandbox/state").json()

    def fault(self, path: str, **spec: Any) -> None:
        self._post("/_sandbox/faults", {"path": path, **spec})

    def clear_faults(self) -> None:
        self.http.delete("/_sandbox/faults").raise_for_status()

    def advance(self, seconds: float) -> None:
        self._post("/_sandbox/clock", {"advance": seconds})

    def limits(self, **values: Any) -> None:
        self._post("/_sandbox/limits", values)

    def behave(self, **values: Any) -> None:
        """Switch the real service's behaviours the sandbox imitates (sandboxes/toggl_state.BEHAVIOURS)."""
        self._post("/_sandbox/behaviours", values)

    def set_workspace(self, workspace_id: int, **values: Any) -> None:
        self._post(f"/_sandbox/workspaces/{workspace_id}", values)

    def set_member(self, email: str, **values: Any) -> None:
        self._post("/_sandbox/members", {"workspace_id": self.world.workspace_id, "email": email, **values})

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return self.http.get("/_sandbox/requests", params={"since": since}).json()

    def mark(self) -> int:
        """The number of the last request so far: pass it to `requests`/`writes` to see what came after."""
        entries = self.requests()
        return entries[-1]["n"] if entries else 0

    def writes(self, since: int = 0) -> list[dict[str, Any]]:
        """Requests that changed something (a refused write changes nothing)."""
        return [e for e in self.requests(since) if e["method"] != "GET" and e["status"] < 400]

    # Records ----------------------------------------------------------------------------------
    def projects(self) -> list[dict[str, Any]]:
        return self.state()["projects"]

    def project(self, project_id: int | str) -> dict[str, Any]:
        return next(p for p in self.projects() if p["id"] == int(project_id))

    def project_users(self, project_id: int | str) -> list[dict[str, Any]]:
        return [pu for pu in self.state()["project_users"] if pu["project_id"] == int(project_id)]

    def team(self, project_id: int | str) -> dict[str, dict[str, Any]]:
        """email -> project user row, for a project."""
        users = {u["id"]: u["email"] for u in self.state()["users"]}
        return {users[pu["user_id"]]: pu for pu in self.project_users(project_id)}

    # Time entries (issue 5) -------------------------------------------------------------------------
    def entries(self, **spec: Any) -> list[int]:
        """Generate entries (see TogglState.generate_time_entries): workspace_id defaults to the world's."""
        spec.setdefault("workspace_id", self.world.workspace_id)
        created = self._post("/_sandbox/time_entries/generate", spec)
        return list(range(created["first_id"], created["last_id"] + 1)) if created["created"] else []

    def entry(self, entry_id: int) -> dict[str, Any]:
        return self.http.get(f"/_sandbox/time_entries/{entry_id}").json()

    def edit(self, entry_id: int, emit: bool = True, **changes: Any) -> dict[str, Any]:
        """Change an entry as a person would in Toggl (its webhook goes out unless `emit` is false)."""
        return self._post(f"/_sandbox/time_entries/{entry_id}", {**changes, "emit": emit})

    def delete(self, entry_id: int, emit: bool = True) -> None:
        self.http.delete(f"/_sandbox/time_entries/{entry_id}", params={"emit": str(emit).lower()}).raise_for_status()

    def emit(self, entry_id: int, action: str = "updated") -> None:
        self._post("/_sandbox/webhooks/emit", {"time_entry_id": entry_id, "action": action})

    def chaos(self, rate: float, seed: int = 0, **spec: Any) -> None:
        self._post("/_sandbox/chaos", {"rate": rate, "seed": seed, **spec})

    def injected(self) -> dict[str, int]:
        return self.http.get("/_sandbox/chaos").json()["injected"]

    def calm(self) -> None:
        self.http.delete("/_sandbox/chaos").raise_for_status()

    def standard(self, members: list[str] = (), premium: bool = True, plan: str = "premium",
                 private: bool = True) -> World:
        """A workspace whose admin is the integration's user, with `members` (emails) in it."""
        created = self.seed(
            users=[{"email": ADMIN_EMAIL, "fullname": "Integration Admin", "api_token": TOKEN}],
            workspaces=[{"id": WORKSPACE_ID, "name": "Test Consulting", "premium": premium, "plan": plan,
                         "projects_private_by_default": private,
                         "members": [{"email": ADMIN_EMAIL, "admin": True}] + [{"email": m} for m in members]}],
        )
        users = {u["email"]: u["id"] for u in self.state()["users"]}
        self.world = World(workspace_id=created["workspaces"][0]["id"], admin_id=users[ADMIN_EMAIL],
                           members={m: users[m] for m in members})
        return self.world


@pytest.fixture(scope="session")
def toggl_server() -> Iterator[str]:
    with serve(create_sandbox()) as url:
        yield url


@contextmanager
def pointed_at(app, url: str) -> Iterator[None]:
    """The app's Toggl URLs pointed at a sandbox, retry waits made tiny; restored afterwards."""
    saved = {key: app.config.get(key) for key in CONFIG_KEYS}
    app.config.update(
        TOGGL_API_BASE_URL=f"{url}/api/v9", TOGGL_REPORTS_BASE_URL=f"{url}/reports/api/v3",
        TOGGL_WEBHOOKS_BASE_URL=f"{url}/webhooks/api/v1", TOGGL_APP_URL=url,
        CONNECTOR_MAX_WAIT=0.5, CONNECTOR_INTERACTIVE_MAX_WAIT=0.5, CONNECTOR_BACKOFF_BASE=0.01,
        CONNECTOR_TIMEOUT=5.0, TOGGL_CONSISTENCY_WAIT=0.01,
    )
    try:
        yield
    finally:
        app.config.update(saved)


@pytest.fixture
def toggl(app, toggl_server) -> Iterator[TogglSandbox]:
    """The sandbox, emptied, with the app pointed at it."""
    sandbox = TogglSandbox(toggl_server)
    sandbox.reset()
    try:
        with pointed_at(app, toggl_server):
            yield sandbox
    finally:
        sandbox.http.close()


def make_connection(session, world: World, *, premium: bool = True, token: str = TOKEN) -> Connection:
    connection = Connection(kind="toggl", status=ConnectionStatus.CONNECTED,
                            credentials=json.dumps({"api_token": token}), account_id=str(world.workspace_id),
                            account_name="Test Consulting", external_user_id=str(world.admin_id),
                            settings={"premium": premium}, validated_at=utcnow())
    session.add(connection)
    session.flush()
    return connection


@pytest.fixture
def toggl_connection(session, toggl) -> Connection:
    """A connected Connection to the standard workspace (members are added by the test as needed)."""
    world = toggl.world or toggl.standard()
    return make_connection(session, world)
