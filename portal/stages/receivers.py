"""How stage settings follow other domains' changes (connected when the app is created).

Receivers run inside the change's transaction and only add rows and queue work (see portal/events.py).
"""

from __future__ import annotations

from typing import Any

from portal import events
from portal.stages import crm_updates, notifications


@events.project_created.connect
def _project_created(project, *, session, actor, **_: Any) -> None:
    notifications.notify_project_created(session, actor, project)


@events.deal_updated.connect
def _deal_updated(deal, *, session, actor, changes, **_: Any) -> None:
    crm_updates.apply_deal_change(session, actor, deal, changes)


@events.time_entry_changed.connect
def _time_entry_changed(entry, *, session, changes, **_: Any) -> None:
    # A transfer changes two offerings' actuals; both are checked.
    previous = changes.get("offering_id", [None])[0]
    for offering_id in {entry.offering_id, previous} - {None}:
        notifications.request_budget_check(session, offering_id)
