"""`flask --app portal sync time`: start the hourly or nightly time sync by hand (the cron starts them)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.extensions import db
from portal.integrations.toggl import time_runs

sync_cli = AppGroup("sync", help="Start syncs by hand (the cron process starts the hourly and nightly ones).")


@sync_cli.command("time")
@click.option("--kind", type=click.Choice(["hourly", "nightly"]), default="hourly", show_default=True)
def sync_time_command(kind: str) -> None:
    """Start (or join) a time sync of every connected timesheet tool; a worker runs it."""
    started = time_runs.start_scheduled(db.session, kind)
    db.session.commit()
    click.echo(f"{kind.capitalize()} time sync: runs {', '.join(map(str, started)) or 'none (no tool connected)'}.")
