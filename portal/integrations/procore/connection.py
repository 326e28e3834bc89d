"""The organization's Procore connection: connect, settings, project links, disconnect.

Connecting stores the company and the OAuth credentials (encrypted), then a sync run checks them with
Procore, reads the time types and projects, and sets up one company-level webhook hook with triggers
for time card create/update/delete, whose deliveries carry a random secret in their Authorization
header. Disconnecting removes the hook in Procore and every piece of Procore data in the portal
(credentials, hook ids, cursors, links, the message log); replicated time entries stay, and so do the
projects made for sub jobs with their mapping (models.SubJobProject), which a reconnect to the company uses.

`Connection.settings` holds the sync preferences (PREFERENCES, kept across a reconnect) and the
connection's state (hook ids, the catch-up cursor, cached lists), changed only through `save_state`
so concurrent writers never lose each other's keys.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal import audit
from portal.auth import policy
from portal.auth.models import User
from portal.auth.services import EMAIL_RE, normalize_email
from portal.columns import utcnow
from portal.errors import Conflict, ExternalServiceError, InvalidInput, NotFound
from portal.integrations.models import Connection, ConnectionStatus, LinkMethod, PersonLink, ProjectLink
from portal.integrations.procore.connector import (
    EVENT_TYPES,
    TIMECARD_RESOURCE,
    GrantType,
    ProcoreConnector,
    authorize_url,
    project_web_url,
)
from portal.integrations.registry import connector_for
from portal.integrations.services import ADMINS_RETRY, may_manage_connections
from portal.integrations.webhooks import callback_url, url_outdated
from portal.projects.models import Offering
from portal.runs import services as runs
from portal.runs.models import SyncMessage, SyncRun

KIND = "procore"
CATCH_UP_SCOPE = "procore:catch-up"
CATCH_UP_JOB = "portal.integrations.procore.jobs.run_catch_up"
runs.retry_right(("procore_connect", "procore_disconnect", "procore_catch_up"), may_manage_connections, ADMINS_RETRY)
SYNC_ACTOR = "Procore sync"  # the audit log names each tool's sync alike (integrations.services.sync_actor)
PREFERENCES: dict[str, Any] = {
    "receive": True,  # Procore → portal
    "send": False,  # portal → Procore (both on = two-way)
    "only_linked": True,  # time cards on unlinked Procore projects are skipped (off: they wait for a link)
    "sub_job_projects": False,  # a portal project per Procore sub job used in a time card
    "task_time_types": [],  # the import matching template: time types that become portal tasks
    "alert_emails": [],
}


def get_connection(session: Session) -> Connection | None:
    return session.scalar(select(Connection).where(Connection.kind == KIND))


def connected(session: Session) -> Connection | None:
    found = get_connection(session)
    return found if found is not None and found.is_connected else None


def prefs(connection: Connection) -> dict[str, Any]:
    return {key: (connection.settings or {}).get(key, default) for key, default in PREFERENCES.items()}


def credentials(connection: Connection) -> dict[str, Any]:
    return json.loads(connection.credentials) if connection.credentials else {}


def save_state(session: Session, connection_id: int, **values: Any) -> Connection:
    """Merge `values` into the connection's settings under a row lock (PostgreSQL), flushed, not committed."""
    connection = session.scalar(select(Connection).where(Connection.id == connection_id)
                                .with_for_update().execution_options(populate_existing=True))
    settings = dict(connection.settings or {})
    for key, value in values.items():
        if value is None:
            settings.pop(key, None)
        else:
            settings[key] = value
    connection.settings = settings
    session.flush()
    return connection


def namespace() -> str:
    """Our webhook namespace in Procore: one per portal installation, so two portals never share hooks."""
    digest = hashlib.sha1(current_app.config["PORTAL_PUBLIC_URL"].encode()).hexdigest()[:10]
    return f"portal-timesheets-{digest}"


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


# Connecting ---------------------------------------------------------------------------------------

def _require(actor: User | str | None) -> None:
    if isinstance(actor, User):
        policy.require(policy.can_manage_connections(actor), "Only admins can manage timesheet-tool connections.")


def _check_company(company_id: str, company_name: str) -> tuple[str, str]:
    company_id, company_name = (company_id or "").strip(), " ".join((company_name or "").split())
    errors = {}
    if not company_id.isdigit():
        errors["company_id"] = "A Procore company id is a number; copy it from Procore's address bar."
    if not company_name:
        errors["company_name"] = "Enter the company's name as Procore shows it."
    if errors:
        raise InvalidInput(" ".join(errors.values()), fields=errors)
    return company_id, company_name


def _check_app(client_id: str, client_secret: str) -> dict[str, str]:
    client_id, client_secret = (client_id or "").strip(), (client_secret or "").strip()
    if not client_id or not client_secret:
        raise InvalidInput("Enter the app's client id and client secret from the Procore Developer Portal.",
                           fields={"client_id": "Required.", "client_secret": "Required."})
    return {"client_id": client_id, "client_secret": client_secret}


def _prepare(session: Session, actor: User | str | None, company_id: str, company_name: str,
             secrets_: dict[str, Any]) -> Connection:
    _require(actor)
    connection = get_connection(session)
    if connection is not None and connection.is_connected:
        raise Conflict("Procore is already connected; disconnect first to connect another company.")
    if runs.active_run(session, "procore:connection") is not None:
        raise Conflict("A connection to Procore is already being set up; wait for it to finish.")
    if _reconnecting(connection) and connection.account_id != company_id:
        raise Conflict(f"This portal is linked to Procore company {connection.account_id}; disconnect first to "
                       "connect another company.", fields={"company_id": "Another company is linked."})
    if connection is None:
        connection = Connection(kind=KIND, settings={})
        session.add(connection)
    connection.account_id, connection.account_name = company_id, company_name
    connection.credentials = json.dumps({**secrets_, "webhook_secret": secrets.token_urlsafe(32)})
    connection.last_error = ""
    connection.created_by_id = connection.created_by_id or (actor.id if isinstance(actor, User) else None)
    session.flush()
    audit.record(session, actor, "procore.connect_requested", connection,
                 after={"company_id": company_id, "company_name": company_name, "grant": secrets_["grant"]},
                 summary=f"Connecting to Procore company {company_name} ({company_id})")
    return connection


def _reconnecting(connection: Connection | None) -> bool:
    """Connected once and since refused by Procore: new credentials resume where the sync stopped (links,
    waiting messages and the catch-up cursor stay), so nothing that happened meanwhile is lost."""
    return connection is not None and connection.status == ConnectionStatus.ERROR and \
        bool((connection.settings or {}).get("cursor"))


def _start(session: Session, actor: User | str | None, connection: Connection, kind: str, job: str) -> SyncRun:
    run, _ = runs.start_run(session, kind=kind, scope="procore:connection", job=job, connection_id=connection.id,
                            initiated_by_id=actor.id if isinstance(actor, User) else None)
    return run


def start_connect(session: Session, actor: User | str | None, *, company_id: str, company_name: str,
                  client_id: str, client_secret: str) -> SyncRun:
    """Connect with a service account's client credentials (Procore's recommendation for data sync)."""
    company_id, company_name = _check_company(company_id, company_name)
    connection = _prepare(session, actor, company_id, company_name, {
        "grant": GrantType.CLIENT_CREDENTIALS, **_check_app(client_id, client_secret)})
    return _start(session, actor, connection, "procore_connect", "portal.integrations.procore.jobs.connect")


def start_authorization(session: Session, actor: User | str | None, *, company_id: str, company_name: str,
                        client_id: str, client_secret: str, redirect_uri: str, state: str) -> str:
    """Connect as a Procore user: returns the Procore sign-in address to send the browser to."""
    company_id, company_name = _check_company(company_id, company_name)
    app = _check_app(client_id, client_secret)
    _prepare(session, actor, company_id, company_name, {
        "grant": GrantType.AUTHORIZATION_CODE, **app, "redirect_uri": redirect_uri})
    return authorize_url(current_app.config["PROCORE_API_BASE_URL"], app["client_id"], redirect_uri, state)


def finish_authorization(session: Session, actor: User | str | None, code: str) -> SyncRun:
    """Procore sent the browser back with a code: the connect run exchanges it for tokens."""
    _require(actor)
    connection = get_connection(session)
    held = credentials(connection) if connection is not None else {}
    if held.get("grant") != GrantType.AUTHORIZATION_CODE or connection.is_connected:
        raise Conflict("No Procore sign-in is in progress; start again from Admin → Integrations → Procore.")
    if not (code or "").strip():
        raise InvalidInput("Procore did not send an authorization code; the sign-in was cancelled.")
    connection.credentials = json.dumps({**held, "code": code.strip()})
    return _start(session, actor, connection, "procore_connect", "portal.integrations.procore.jobs.connect")


def ensure_hook(session: Session, connection: Connection, connector: ProcoreConnector, *, fresh: bool) -> bool:
    """Our hook and its three triggers exist in Procore (`fresh`: replace whatever is there), delivering to the
    URL the portal registers now: a hook left at another URL (an upgrade changed the URL scheme) is replaced,
    audited. Returns True when something had to be (re)created. Makes HTTP calls: call it without a transaction
    open."""
    state = connection.settings or {}
    url = callback_url(connection)
    hooks = connector.list_hooks(namespace())
    ours = next((h for h in hooks if str(h["id"]) == str(state.get("hook_id"))), None)
    keep = None if fresh or ours is None or ours.get("destination_url") != url else ours
    for hook in hooks:  # strays in our namespace would deliver every event twice
        if keep is None or hook["id"] != keep["id"]:
            connector.delete_hook(str(hook["id"]))
    repaired = keep is None
    if keep is None:
        keep = connector.create_hook(namespace(), url, f"Bearer {credentials(connection)['webhook_secret']}")
    have = {str(t.get("event_type", "")).lower() for t in connector.list_triggers(str(keep["id"]))
            if t.get("resource_name") == TIMECARD_RESOURCE}
    for event_type in EVENT_TYPES:
        if event_type not in have:
            connector.create_trigger(str(keep["id"]), event_type)
            repaired = True
    session.commit()  # end the read begun before the HTTP calls: on SQLite an older snapshot cannot write
    if str(state.get("hook_id")) != str(keep["id"]) or state.get("webhook_url") != url:
        save_state(session, connection.id, hook_id=str(keep["id"]), namespace=namespace(), webhook_url=url)
    if url_outdated(ours.get("destination_url") if ours else None, connection) and not fresh:
        audit.record(session, SYNC_ACTOR, "connection.webhook_url_changed", connection,
                     before={"url": ours["destination_url"]}, after={"url": url},
                     summary=f"Procore delivered to {ours['destination_url']}; the hook now delivers to {url}")
    return repaired


def refresh_lists(session: Session, connection: Connection, connector: ProcoreConnector) -> None:
    """Cache the company's time types and projects for the settings page (pages never call Procore)."""
    time_types = connector.time_types()
    projects = [{"id": p.id, "name": p.name, "active": p.active}
                for p in connector.list_projects(include_archived=True)]
    session.commit()  # as in ensure_hook: write in a transaction begun after the HTTP calls
    save_state(session, connection.id, time_types=time_types, projects=projects, lists_at=utcnow().isoformat())


def run_connect(session: Session, run_id: int) -> None:
    run = runs.claim(session, run_id)
    if run is None:
        return
    connection = session.get(Connection, run.connection_id)
    connector = connector_for(connection)
    try:
        runs.report(session, run, done=0, total=3, text="Checking the credentials with Procore")
        account = connector.validate()
        if not _same_name(account.account_name, connection.account_name):
            raise ExternalServiceError(
                f"Procore calls company {connection.account_id} “{account.account_name}”, not "
                f"“{connection.account_name}”. Check the company id, or enter the name as Procore shows it.")
        runs.report(session, run, done=1, text="Reading time types and projects")
        refresh_lists(session, connection, connector)
        session.commit()
        runs.report(session, run, done=2, text="Setting up the links for time cards (webhooks)")
        ensure_hook(session, connection, connector, fresh=True)
        now = utcnow()
        if _reconnecting(connection):  # the catch-up poll repairs what happened while Procore refused us
            connection.status = ConnectionStatus.CONNECTED
            start_catch_up(session)
        else:
            save_state(session, connection.id, cursor=now.isoformat(), connected_at=now.isoformat(),
                       last_alert_at=now.isoformat())
        connection.status, connection.validated_at, connection.last_error = ConnectionStatus.CONNECTED, now, ""
        connection.external_user_id = account.external_user_id
        audit.record(session, _initiator(session, run), "procore.connected", connection,
                     after={"company_id": connection.account_id, "company_name": connection.account_name,
                            "hook_id": connection.settings.get("hook_id")},
                     summary=f"Connected to Procore company {connection.account_name}")
        runs.finish(session, run, text=f"Connected to Procore: {connection.account_name} ({connection.account_id})")
    except ExternalServiceError as error:
        session.rollback()
        connection = session.get(Connection, run.connection_id)
        connection.last_error = error.message  # a reconnect that fails leaves the connection in error
        audit.record(session, SYNC_ACTOR, "procore.connect_failed", connection, after={"error": error.message},
                     summary="Connecting to Procore failed")
        runs.finish(session, run, error=error.message)
    finally:
        connector.close()


def _initiator(session: Session, run: SyncRun) -> User | str:
    return session.get(User, run.initiated_by_id) if run.initiated_by_id else SYNC_ACTOR


def start_catch_up(session: Session, initiated_by_id: int | None = None) -> tuple[SyncRun, bool] | None:
    """Start the catch-up poll (portal.integrations.procore.catch_up), or join the one going; None when
    Procore is not connected."""
    connection = connected(session)
    if connection is None:
        return None
    return runs.start_run(session, kind="procore_catch_up", scope=CATCH_UP_SCOPE, job=CATCH_UP_JOB,
                          connection_id=connection.id, initiated_by_id=initiated_by_id,
                          queue_name="interactive" if initiated_by_id else "sync")


# Settings and links ------------------------------------------------------------------------------

def _clean_preferences(values: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key == "task_time_types":
            clean[key] = sorted({" ".join(str(v).split()) for v in value or [] if str(v).strip()})
        elif key == "alert_emails":
            wrong = [e for e in value or [] if not EMAIL_RE.match(normalize_email(e))]
            if wrong:
                raise InvalidInput(f"Not an email address: {', '.join(wrong)}.",
                                   fields={"alert_emails": f"Not an email address: {', '.join(wrong)}."})
            clean[key] = sorted({normalize_email(e) for e in value or []})
        else:
            clean[key] = bool(value)
    return clean


def update_preferences(session: Session, actor: User | str | None, **values: Any) -> dict[str, list[Any]]:
    """Change the sync settings; returns {key: [before, after]} of what changed (audited)."""
    connection = get_connection(session)
    if connection is None:
        raise NotFound("Connect to Procore first.")
    _require(actor)
    unknown = set(values) - set(PREFERENCES)
    if unknown:
        raise InvalidInput(f"Unknown settings: {', '.join(sorted(unknown))}.")
    before = prefs(connection)
    save_state(session, connection.id, **_clean_preferences(values))
    after = prefs(connection)
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changed:
        audit.record(session, actor, "procore.settings_changed", connection,
                     before={k: v[0] for k, v in changed.items()}, after={k: v[1] for k, v in changed.items()},
                     summary="Procore sync settings changed: " + ", ".join(sorted(changed)))
    return changed


def link_project(session: Session, actor: User | str | None, external_project_id: str, offering_id: int) -> ProjectLink:
    """Time cards of this Procore project go to this offering (and the offering's entries to it)."""
    _require(actor)
    connection = connected(session)
    if connection is None:
        raise Conflict("Connect to Procore first.")
    known = {p["id"]: p for p in connection.settings.get("projects", [])}
    project = known.get(str(external_project_id))
    if project is None:
        raise InvalidInput("Choose a Procore project.", fields={"external_project_id": "Choose a project."})
    offering = session.get(Offering, offering_id)
    if offering is None:
        raise InvalidInput("Choose an offering.", fields={"offering_id": "Choose an offering."})
    return add_link(session, actor, connection, project["id"], project["name"], offering)


def add_link(session: Session, actor: User | str | None, connection: Connection, external_project_id: str,
             external_name: str, offering: Offering) -> ProjectLink:
    taken = session.scalar(select(ProjectLink).where(
        ProjectLink.connection_id == connection.id,
        (ProjectLink.external_id == external_project_id) | (ProjectLink.offering_id == offering.id)))
    if taken is not None:
        raise Conflict("That Procore project or that offering is already linked; unlink it first.")
    link = ProjectLink(connection_id=connection.id, offering_id=offering.id, external_id=external_project_id,
                       external_name=external_name,
                       external_url=project_web_url(current_app.config["PROCORE_API_BASE_URL"], external_project_id),
                       method=LinkMethod.CONNECTED, created_by_id=actor.id if isinstance(actor, User) else None)
    session.add(link)
    session.flush()
    audit.record(session, actor, "procore.project_linked", link,
                 after={"procore_project": external_name, "offering": offering.name},
                 summary=f"Procore project {external_name} linked to {offering.project.name} / {offering.name}")
    return link


def unlink_project(session: Session, actor: User | str | None, link_id: int) -> None:
    _require(actor)
    connection = get_connection(session)
    link = session.get(ProjectLink, link_id)
    if link is None or connection is None or link.connection_id != connection.id:
        raise NotFound("That link no longer exists.")
    audit.record(session, actor, "procore.project_unlinked", link,
                 before={"procore_project": link.external_name, "offering_id": link.offering_id},
                 summary=f"Procore project {link.external_name} unlinked")
    session.delete(link)
    session.flush()


# Disconnecting -----------------------------------------------------------------------------------

def start_disconnect(session: Session, actor: User | str | None) -> SyncRun:
    _require(actor)
    connection = get_connection(session)
    if connection is None or (not connection.is_connected and not connection.credentials):
        raise Conflict("Procore is not connected.")
    return _start(session, actor, connection, "procore_disconnect", "portal.integrations.procore.jobs.disconnect")


def run_disconnect(session: Session, run_id: int) -> None:
    run = runs.claim(session, run_id)
    if run is None:
        return
    connection = session.get(Connection, run.connection_id)
    note = ""
    if connection.credentials and connection.account_id:
        connector = connector_for(connection)
        try:
            runs.report(session, run, done=0, total=2, text="Removing the webhooks from Procore")
            for hook in connector.list_hooks(namespace()):
                connector.delete_hook(str(hook["id"]))
        except ExternalServiceError as error:
            note = (f" The webhook could not be removed from Procore ({error.message}); delete the hooks of "
                    f"namespace {namespace()} in Procore's Webhooks settings.")
        finally:
            connector.close()
    runs.report(session, run, done=1, text="Removing the Procore data from the portal")
    before = {"company_id": connection.account_id, "company_name": connection.account_name,
              "hook_id": (connection.settings or {}).get("hook_id")}
    removed = {}
    for model in (ProjectLink, PersonLink, SyncMessage):
        removed[model.__tablename__] = session.execute(
            delete(model).where(model.connection_id == connection.id)).rowcount
    connection.credentials = None
    connection.account_id, connection.account_name, connection.external_user_id = None, "", None
    connection.status, connection.validated_at, connection.last_error = ConnectionStatus.DISCONNECTED, None, ""
    connection.settings = prefs(connection)
    audit.record(session, _initiator(session, run), "procore.disconnected", connection, before=before,
                 after={"removed": removed},
                 summary="Disconnected from Procore" + (" (hook left in Procore)" if note else ""))
    runs.finish(session, run, text="Disconnected from Procore; the replicated time entries stay." + note)
