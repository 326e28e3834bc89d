"""The shared steps of services: an audited update records only what changed, a row loaded by id is there or
the service says so, a name is cleaned one way (portal/audit.py `update`, portal/errors.py `get_or_raise`,
portal/inputs.py `clean_name`)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import audit
from portal.audit import AuditEvent
from portal.errors import InvalidInput, NotFound, get_or_raise
from portal.finance.models import CostCategory
from portal.inputs import clean_name
from tests.factories import CostCategoryFactory, UserFactory


def _events(session, action):
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_an_audited_update_records_only_the_fields_that_changed(session):
    actor = UserFactory(role="admin")
    category = CostCategoryFactory(name="Labour", code="L", active=True)
    session.flush()
    old, new = audit.update(session, actor, category, {"name": "Labour", "code": "LAB", "active": True},
                            "cost_category.updated", "Changed cost category Labour")
    assert (old, new) == ({"code": "L"}, {"code": "LAB"})
    assert category.code == "LAB"
    [event] = _events(session, "cost_category.updated")
    assert (event.before, event.after) == ({"code": "L"}, {"code": "LAB"})
    assert event.summary == "Changed cost category Labour"
    assert event.actor_id == actor.id and event.subject_id == category.id


def test_an_audited_update_that_changes_nothing_records_nothing(session):
    category = CostCategoryFactory(name="Travel", code="T")
    session.flush()
    assert audit.update(session, "demo data", category, {"name": "Travel"}, "cost_category.updated", "-") == ({}, {})
    assert _events(session, "cost_category.updated") == []


def test_an_audited_update_compares_the_fields_it_is_given(session):
    category = CostCategoryFactory(name="Materials", code="M")
    session.flush()
    old, new = audit.update(session, None, category, {"name": "Materials", "code": "MAT"}, "cost_category.updated",
                            "-", fields=["name"])
    assert (old, new) == ({}, {}) and category.code == "MAT"  # set, but only `name` is compared and recorded


def test_a_missing_row_is_not_found_in_words(session):
    category = CostCategoryFactory()
    session.flush()
    assert get_or_raise(session, CostCategory, category.id, "cost category") is category
    with pytest.raises(NotFound, match="^That cost category does not exist.$"):
        get_or_raise(session, CostCategory, category.id + 1000, "cost category")


def test_a_name_is_stripped_required_and_bounded():
    assert clean_name("  Design  ", "stage", 10) == "Design"
    with pytest.raises(InvalidInput, match="^Enter the task type's name.$") as refused:
        clean_name("   ", "task type", 10)
    assert refused.value.fields == {"name": "Enter a name."}
    with pytest.raises(InvalidInput, match="^A stage name has at most 5 characters.$"):
        clean_name("Closing", "stage", 5)


def test_the_audit_log_is_searched_by_a_service_a_page_at_a_time(session):
    """What the audit log page shows (org.audit_log only renders it): newest first, filtered by action prefix,
    subject and actor (also when the actor acted on someone's behalf), paged by the last id."""
    approver, deputy = UserFactory(role="approver", email="avery@example.test"), UserFactory(email="sam@example.test")
    first, second = CostCategoryFactory(), CostCategoryFactory()
    session.flush()
    for number in range(3):
        audit.record(session, "demo data", "cost_category.updated", first, summary=f"first {number}")
    audit.record(session, deputy, "timesheet.approved", second, on_behalf_of=approver, summary="by the stand-in")
    session.flush()

    events, more = audit.search(session, action="cost_category.", subject=f"cost_categories:{first.id}", limit=2)
    assert [e.summary for e in events] == ["first 2", "first 1"] and more == events[-1].id
    events, more = audit.search(session, action="cost_category.", subject=f"cost_categories:{first.id}",
                                before_id=more, limit=2)
    assert [e.summary for e in events] == ["first 0"] and more is None
    assert [e.summary for e in audit.search(session, actor="avery")[0]] == ["by the stand-in"]
    assert audit.search(session, subject="cost_categories:99999999999")[0] == []  # beyond any id: nothing
