"""Organization settings and the defaults every installation starts with."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit, events
from portal.auth import policy
from portal.auth.models import User
from portal.errors import InvalidInput
from portal.finance.models import CostCategory
from portal.org.models import SINGLETON_ID, HoursSource, OrgSettings
from portal.stages import registry
from portal.stages.models import EngagementType, Stage

EDITABLE = ["name", "assignment_level_budgeting", "timesheet_hours_source", "finance_sync_enabled",
            "finance_rate_type", "default_cost_category_id", "week_start",
            # Issue 16: timesheet reminders.
            "reminders_enabled", "reminder_weekday", "reminder_hour", "expected_hours_per_week",
            "reminder_escalate_days"]
# Changing these changes what is pushed to timesheet tools (seed 002 section 7): offer a re-sync.
PUSH_SETTINGS = {"assignment_level_budgeting", "timesheet_hours_source"}


def get_settings(session: Session) -> OrgSettings:
    settings = session.get(OrgSettings, SINGLETON_ID)
    if settings is None:
        settings = OrgSettings(id=SINGLETON_ID)
        session.add(settings)
        session.flush()
    return settings


def update_settings(session: Session, actor: User, **values: Any) -> dict[str, list[Any]]:
    """Change organization settings (super-admin only). Returns {field: [before, after]} of what changed."""
    policy.require(policy.can_edit_org_settings(actor), "Only a super-admin can change organization settings.")
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"Unknown settings: {', '.join(sorted(unknown))}.")
    if "timesheet_hours_source" in values and values["timesheet_hours_source"] not in set(HoursSource):
        raise InvalidInput("Choose sold or current hours.", fields={"timesheet_hours_source": "Choose one."})
    if "finance_rate_type" in values and values["finance_rate_type"] not in ("cost", "sell"):
        raise InvalidInput("Choose the cost or the sell rate.", fields={"finance_rate_type": "Choose one."})
    if "week_start" in values and values["week_start"] not in range(7):
        raise InvalidInput("Choose the first day of the week.", fields={"week_start": "Choose a day."})
    if "reminder_weekday" in values and values["reminder_weekday"] not in range(7):
        raise InvalidInput("Choose the reminder day.", fields={"reminder_weekday": "Choose a day."})
    if "reminder_hour" in values and values["reminder_hour"] not in range(24):
        raise InvalidInput("Choose the reminder hour.", fields={"reminder_hour": "Choose an hour."})
    expected = values.get("expected_hours_per_week")
    if "expected_hours_per_week" in values and (expected is None or not 0 <= expected <= 168):
        raise InvalidInput("Hours expected a week are between 0 and 168.",
                           fields={"expected_hours_per_week": "Between 0 and 168."})
    if "reminder_escalate_days" in values and values["reminder_escalate_days"] not in range(1, 29):
        raise InvalidInput("Approvers are told after 1 to 28 days.", fields={"reminder_escalate_days": "1 to 28."})
    category_id = values.get("default_cost_category_id")
    if category_id is not None and session.get(CostCategory, category_id) is None:
        raise InvalidInput("Choose an existing cost category.", fields={"default_cost_category_id": "Choose one."})
    if "name" in values and not (values["name"] or "").strip():
        raise InvalidInput("Enter the organization's name.", fields={"name": "Enter a name."})
    settings = get_settings(session)
    before = audit.snapshot(settings, EDITABLE)
    for key, value in values.items():
        setattr(settings, key, value)
    session.flush()
    old, new = audit.changes(before, audit.snapshot(settings, EDITABLE))
    changed = {k: [old.get(k), v] for k, v in new.items()}
    if changed:
        audit.record(session, actor, "org_settings.updated", settings, before=old, after=new,
                     summary="Organization settings changed: " + ", ".join(sorted(changed)))
        events.org_settings_changed.send(settings, session=session, actor=actor, changes=changed)
    return changed


def ensure_defaults(session: Session) -> None:
    """The settings row and a default engagement type with the default stages. Safe to run again."""
    get_settings(session)
    if session.scalar(select(EngagementType.id).where(EngagementType.is_default.is_(True))) is None:
        engagement_type = EngagementType(name="Standard", is_default=True)
        session.add(engagement_type)
        for position, (name, values) in enumerate(registry.DEFAULT_STAGES):
            session.add(Stage(engagement_type=engagement_type, name=name, position=position,
                              settings={**registry.defaults(), **values}))
        audit.record(session, "setup", "stages.defaults_created", subject_type="engagement_types",
                     summary="Default engagement type and stages created")
    session.flush()
