"""Flask commands: `setup` (migrate + defaults), `demo`, `users create`, `jobs sweep`, `sandbox`; and each
timesheet tool's own (`sync time`)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from flask_migrate import upgrade

from portal.extensions import db
from portal.integrations.registry import load, tools

users_cli = AppGroup("users", help="Manage logins.")
jobs_cli = AppGroup("jobs", help="Run scheduled work by hand (the cron process does this on its own).")


@click.command("setup")
def setup_command() -> None:
    """Upgrade the database schema and create the defaults (settings row, default stages)."""
    from portal.org.services import ensure_defaults

    upgrade()
    ensure_defaults(db.session)
    db.session.commit()
    click.echo("Database is up to date.")


@click.command("demo")
def demo_command() -> None:
    """Load the demo data (safe to run again) and print the logins."""
    from portal import demo

    logins = demo.load(db.session)
    db.session.commit()
    click.echo(f"Demo logins (password for all: {demo.DEMO_PASSWORD}):")
    for email, role in logins.items():
        click.echo(f"  {email:<24} {role}")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["staff", "approver", "pm", "admin", "super_admin", "client"]))
@click.option("--name", default=None, help="Defaults to the part of the email before @.")
@click.option("--permission", "permissions", multiple=True, help="A cost-centre permission; repeat for several.")
@click.option("--client-id", type=int, default=None, help="For client users: the client they belong to.")
@click.password_option()
def create_user_command(email, role, name, permissions, client_id, password) -> None:
    """Create a login (prompts for the password)."""
    from portal.auth import services
    from portal.errors import PortalError

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
    from portal import jobs

    result = jobs.sweep()
    click.echo(f"Re-enqueued {len(result['runs'])} runs and {len(result['emails'])} emails.")


def register_commands(app: Flask) -> None:
    from portal.sandbox import sandbox_command

    for command in (setup_command, demo_command, users_cli, jobs_cli, sandbox_command):
        app.cli.add_command(command)
    for tool in tools():
        for command in tool.commands:
            app.cli.add_command(load(command))
