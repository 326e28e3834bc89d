"""Domain events: what happened to projects, so other domains can react without projects knowing them.

Services send these inside the transaction, after flushing the change. Receivers (timesheet-tool
pushes, notifications, forecasts) run in the same transaction and must only record work: add rows and
`enqueue_after_commit`, never call out over the network. Each receiver gets the session, the actor and
keyword arguments named below.
"""

from __future__ import annotations

from blinker import Namespace

_events = Namespace()

# sender: the Project / Offering / Assignment / Booking / Deal. kwargs: session, actor, changes (dict of
# field -> [before, after] in the audit log's plain form: Decimals and dates as strings; empty on create).
# Receivers read typed values from the sender itself.
project_created = _events.signal("project-created")
project_updated = _events.signal("project-updated")
# kwargs: session, actor, from_stage, to_stage, options (dict chosen in the move dialog)
project_stage_changed = _events.signal("project-stage-changed")
offering_created = _events.signal("offering-created")
offering_updated = _events.signal("offering-updated")
assignment_created = _events.signal("assignment-created")
assignment_updated = _events.signal("assignment-updated")
# sender: the Assignment about to be deleted (still loaded)
assignment_removed = _events.signal("assignment-removed")
booking_changed = _events.signal("booking-changed")
resource_rates_changed = _events.signal("resource-rates-changed")
# sender: the Resource. kwargs: session, actor, changes (only the fields that changed)
resource_updated = _events.signal("resource-updated")
deal_updated = _events.signal("deal-updated")
# sender: OrgSettings. kwargs: session, actor, changes
org_settings_changed = _events.signal("org-settings-changed")
# sender: the TimeEntry (native or synced). kwargs: session, actor, changes ({"deleted": [False, True]} on delete)
time_entry_changed = _events.signal("time-entry-changed")

# Timesheets and finance (issue 6) -------------------------------------------------------------------
# sender: the Timesheet. kwargs: session, actor, from_status, to_status, reason ("" when none was given)
timesheet_status_changed = _events.signal("timesheet-status-changed")

# Sync runs (issue 14) -----------------------------------------------------------------------------------
# sender: the SyncRun a PortalError failed (runs.execute), before it is finished. kwargs: session, error. A tool
# whose refusal means "the stored credentials no longer work" marks its connection (toggl/credentials.py),
# whatever run met it: a sync, a push, a provisioning.
sync_run_failed = _events.signal("sync-run-failed")
