"""`python -m sandboxes KIND --port N [--state FILE]`: serve a timesheet tool's sandbox on loopback (the
Procfile's toggl and procore lines). Run from the repository root, which puts this package on the path."""

from __future__ import annotations

import click

from sandboxes import SANDBOXES, create


@click.command("sandboxes")
@click.argument("kind", type=click.Choice(sorted(SANDBOXES)))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, required=True)
@click.option("--state", "state_file", default=None, help="A file that keeps the sandbox's records across restarts.")
def serve(kind: str, host: str, port: int, state_file: str | None) -> None:
    """Serve the sandbox of a timesheet tool's API on loopback.

    Served by waitress, which keeps a client's connection open between requests as the real services do
    (werkzeug's development server closes each one, so every report page of a sync paid a new connection on
    both sides); one process, so the sandbox's records stay in one memory, with a thread per request in flight."""
    import waitress

    click.echo(f"{kind} sandbox on http://{host}:{port}")
    options = {"state_file": state_file} if state_file else {}
    waitress.serve(create(kind, **options), host=host, port=port, threads=8, ident=kind, _quiet=True)


if __name__ == "__main__":
    serve()
