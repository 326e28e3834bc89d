"""The timesheet tools the portal knows, and what each one brings.

A tool is a package under portal/integrations/ (toggl/, procore/) whose `__init__` declares `TOOL = Tool(...)`:
its connector class, its pages (blueprints), its webhook receiver, the modules to import when the app starts
(models, signal receivers), its scheduled jobs, its flask commands and its part of the demo. The app factory, the cron
schedule, the worker, the command line and the demo loop over `tools()`; nothing outside a tool's package
names the tool. Adding a tool is adding a package (CONTRIBUTING.md, "Adding a timesheet tool").

References are "module:attribute" strings, imported on first use: declaring a tool costs nothing, and a tool's
modules may import the shared integration modules without import cycles through the registry.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import portal.integrations
from portal.integrations.connectors import NotSupported
from portal.queue import Scheduled

if TYPE_CHECKING:
    from portal.integrations.connectors import TimesheetConnector
    from portal.integrations.models import Connection


@dataclass(frozen=True)
class Tool:
    kind: str  # Connection.kind, TimeEntry.source
    connector: str  # "module:Class" of its TimesheetConnector
    blueprints: tuple[str, ...] = ()  # "module:bp", registered by create_app
    imports: tuple[str, ...] = ()  # modules imported when the app starts: models, signal receivers
    schedule: tuple[Scheduled, ...] = ()  # read by `python worker.py cron`
    commands: tuple[str, ...] = ()  # "module:command", added to `flask --app portal ...`
    jobs: str = ""  # the module of its RQ jobs, imported by the worker before it forks
    # "module:function" receiving its webhook deliveries at /webhooks/<kind>/<connection id>
    # (portal/integrations/webhooks.py): `receive(session, connection, delivery) -> Reply`.
    webhooks: str = ""
    # The demo's part (portal/demo.py): a module with `world(people)`, `seeded(held)`, `load(session)` and
    # SANDBOX_URL, the config key of the loopback sandbox `make run` starts for the tool.
    demo: str = ""


def load(reference: str) -> Any:
    """The object a "module:attribute" reference names (the module itself without ":attribute")."""
    module, _, attribute = reference.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


@functools.cache
def _tools() -> dict[str, Tool]:
    found = {}
    for info in pkgutil.iter_modules(portal.integrations.__path__, "portal.integrations."):
        declared = getattr(importlib.import_module(info.name), "TOOL", None) if info.ispkg else None
        if isinstance(declared, Tool):
            found[declared.kind] = declared
    return dict(sorted(found.items()))


def tools() -> list[Tool]:
    """Every tool package, by kind."""
    return list(_tools().values())


def tool_of(kind: str) -> Tool | None:
    """The tool package of `kind`, or None when no package declares it."""
    return _tools().get(kind)


def connector_class(kind: str) -> type[TimesheetConnector]:
    tool = _tools().get(kind)
    if tool is None:
        raise NotSupported(f"No connector for the timesheet tool {kind!r}.")
    return load(tool.connector)


def connector_for(connection: Connection, *, interactive: bool = False) -> TimesheetConnector:
    """The connection's connector; `interactive` (a person waits on the page) bounds retries more tightly."""
    cls = connector_class(connection.kind)
    return cls(connection, interactive=True) if interactive else cls(connection)


def available_kinds() -> list[type[TimesheetConnector]]:
    """The connector classes of every tool package."""
    return [connector_class(tool.kind) for tool in tools()]
