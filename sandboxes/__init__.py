"""Loopback servers that speak the Toggl Track and Procore APIs, for the demo and the tests.

Not part of the product: the `portal` package never imports them, and they import nothing of it. They are
real HTTP servers faithful to ../shared/reference/external-apis.md (auth, pagination, quotas and 429, error
bodies, webhooks), with a small admin API under /_sandbox for seeding data, injecting faults and counting
requests. The connectors talk to them exactly as to the real services: only the base URL differs. They
start empty; the demo seeds them through /_sandbox (`flask --app portal demo sandboxes`), tests through
their fixtures.

    python -m sandboxes toggl --port 5101
    python -m sandboxes procore --port 5102
"""

from __future__ import annotations

import importlib

from flask import Flask

# kind -> "module:factory"; each factory returns a WSGI (Flask) app holding its own in-memory state.
SANDBOXES = {"toggl": "sandboxes.toggl:create_sandbox", "procore": "sandboxes.procore:create_sandbox"}


def create(kind: str, **options) -> Flask:
    module, _, factory = SANDBOXES[kind].partition(":")
    return getattr(importlib.import_module(module), factory)(**options)
