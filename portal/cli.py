"""Flask commands: `setup` (migrate + defaults), `demo`, `users create`, `jobs sweep`; and each timesheet
tool's own (`sync time`)."""

from __future__ import annotations

import click
import httpx
from flask import Flask
from flask.cli import AppGroup
from flask_migrate import upgrade

from portal import demo, jobs
from portal.auth import services
from portal.errors import PortalError
from portal.extensions import db
from portal.integrations.registry import load, tools
from portal.org.services import ensure_defaults

users_cli = AppGroup("users", help="Manage logins.")
jobs_cli = AppGroup("jobs", help="Run scheduled work by hand (the cron process does this on its own).")


@click.command("setup")
def setup_command() -> None:
    """Upgrade the database schema and create the defaults (settings row, default stages)."""
    upgrade()
    ensure_defaults(db.session)
    db.session.commit()
    click.echo("Database is up to date.")


@click.group("demo", invoke_without_command=True)
@click.pass_context
def demo_command(context: click.Context) -> None:
    """Load the demo data (safe to run again) and print the logins."""
    if context.invoked_subcommand is not None:
        return
    logins = demo.load(db.session)
    db.session.commit()
    click.echo(f"Demo logins (password for all: {demo.DEMO_PASSWORD}):")
    for email, role in logins.items():
        click.echo(f"  {email:<24} {role}")


@demo_command.command("sandboxes")
@click.option("--wait", type=float, default=60, show_default=True, help="Seconds to wait for a sandbox to answer.")
def seed_sandboxes_command(wait: float) -> None:
    """Seed the timesheet tools' loopback sandboxes with the demo's world (make run's worker does this first)."""
    try:
        said = demo.seed_sandboxes(wait)
    except httpx.HTTPError as error:  # the demo runs on without them: the tools' pages say what failed
        said = [f"Could not seed the sandboxes: {error}"]
    for line in said:
        click.echo(line)


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["staff", "approver", "pm", "admin", "super_admin", "client"]))
@click.option("--name", default=None, help="Defaults to the part of the email before @.")
@click.option("--permission", "permissions", multiple=True, help="A cost-centre permission; repeat for several.")
@click.option("--client-id", type=int, default=None, help="For client users: the client they belong to.")
@click.password_option()
def create_user_command(email, role, name, permissions, client_id, password) -> None:
    """Create a login (prompts for the password)."""
    try:
        user = services.create_user(db.session, "command line", email=email, name=name or email.split("@")[0],
                                    role=role, password=password, permissions=list(permissions),
                                    client_id=client_id)
        db.session.commit()
    except PortalError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    click.echo(f"Created {user.email} ({user.role}).")


@jobs_cli.command("sweep")
def sweep_command() -> None:
    """Re-enqueue interrupted sync runs and unsent email now."""
    result = jobs.sweep()
    click.echo(f"Re-enqueued {len(result['runs'])} runs and {len(result['emails'])} emails.")


def register_commands(app: Flask) -> None:
    for command in (setup_command, demo_command, users_cli, jobs_cli):
        app.cli.add_command(command)
    for tool in tools():
        for command in tool.commands:
            app.cli.add_command(load(command))
