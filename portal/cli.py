"""Flask commands: `setup` (migrate + defaults), `demo`, `users create`, `jobs sweep`, `reminders send`; and each
timesheet tool's own (`sync time`)."""

from __future__ import annotations

import click
import httpx
from flask import Flask
from flask.cli import AppGroup
from flask_migrate import upgrade

from portal import demo, jobs
from portal.auth import services
from portal.columns import utcnow
from portal.errors import PortalError
from portal.extensions import db
from portal.formatting import hours, plural
from portal.integrations.registry import load, tools
from portal.org.services import ensure_defaults, get_settings
from portal.timesheets import reminders

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
    click.echo(f"Re-enqueued {plural(len(result['runs']), 'run')} and {plural(len(result['emails']), 'email')}.")


reminders_cli = AppGroup("reminders", help="Timesheet reminders (the cron process sends them on its own).")


@reminders_cli.command("send")
@click.option("--dry-run", is_flag=True, help="Print who would get what; send nothing.")
@click.option("--week", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The week to remind about (any day of it); default: last week.")
def send_reminders_command(dry_run: bool, week) -> None:
    """Send the weekly reminders for a week, and the escalations that are due, as the cron does."""
    now = utcnow()
    settings = get_settings(db.session)
    day = week.date() if week else None
    if not settings.reminders_enabled:
        click.echo("Reminders are off (Admin → Organization settings → Timesheet reminders): the cron sends "
                   "nothing." + (" This is what it would send once they are on:" if dry_run else ""))
        if not dry_run:
            raise click.exceptions.Exit(1)
    if dry_run:
        planned = reminders.plan(db.session, now, day, by_hand=True)  # reads only
        click.echo(f"Week of {planned.week_start:%a %d %b %Y}: {len(planned.reminders)} to remind")
        for due in planned.reminders:
            email = due.user.email if due.emailed else f"{due.user.email} (turned reminders off: no email)"
            click.echo(f"  {email}: {due.state}, {hours(due.hours)} of {hours(due.expected)} h")
        click.echo(f"Escalations due: {len(planned.escalations)}, in {plural(len(planned.digests), 'digest')}")
        for digest in planned.digests:
            people = ", ".join(f"{p.resource.name} (week of {p.week_start:%d %b})" for p in digest.people)
            click.echo(f"  {digest.approver.email}: {people}")
        click.echo("Dry run: nothing was sent.")
        return
    sent = reminders.send(db.session, now, day, by_hand=True, actor="command line")
    db.session.commit()
    click.echo(f"Week of {sent.week_start:%a %d %b %Y}: reminded {plural(len(sent.reminded), 'person', 'people')} "
               f"({sum(1 for d in sent.reminded if d.emailed)} by email); escalated {len(sent.escalated)} to "
               f"{plural(len(sent.digests), 'approver')}.")


def register_commands(app: Flask) -> None:
    for command in (setup_command, demo_command, users_cli, jobs_cli, reminders_cli):
        app.cli.add_command(command)
    for tool in tools():
        for command in tool.commands:
            app.cli.add_command(load(command))
