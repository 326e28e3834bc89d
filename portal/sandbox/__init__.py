"""Loopback servers that speak the Toggl Track and Procore APIs, for the demo and the tests.

They are real HTTP servers faithful to ../shared/reference/external-apis.md (auth, pagination,
quotas and 429, error bodies, webhooks), with a small admin API under /_sandbox for seeding data,
injecting faults and counting requests. The connectors talk to them exactly as to the real services:
only the base URL differs.

    flask --app portal sandbox toggl --port 5101
    flask --app portal sandbox procore --port 5102
"""

from __future__ import annotations

import importlib

import click
from flask import Flask

# kind -> "module:factory"; each factory returns a WSGI (Flask) app holding its own in-memory state.
SANDBOXES = {"toggl": "portal.sandbox.toggl:create_sandbox", "procore": "portal.sandbox.procore:create_sandbox"}


def create(kind: str, **options) -> Flask:
    module, _, factory = SANDBOXES[kind].partition(":")
    return getattr(importlib.import_module(module), factory)(**options)


@click.command("sandbox")
@click.argument("kind", type=click.Choice(sorted(SANDBOXES)))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, required=True)
@click.option("--state", "state_file", default=None, help="A file that keeps the sandbox's records across restarts.")
def sandbox_command(kind: str, host: str, port: int, state_file: str | None) -> None:
    """Serve the sandbox of a timesheet tool's API on loopback."""
    from werkzeug.serving import run_simple

    click.echo(f"{kind} sandbox on http://{host}:{port}")
    options = {"state_file": state_file} if state_file else {}
    run_simple(host, port, create(kind, **options), threaded=True, use_reloader=False)
