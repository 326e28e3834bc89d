"""A sync gathers report pages into batches of TIME_SYNC_BATCH entries, one transaction each (issue 14: a
transaction per 50-entry page cost more than the writing); when reading stops, what was read is applied first."""

from __future__ import annotations

from datetime import date

import pytest

from portal.errors import ExternalServiceError
from portal.integrations.connectors import ExternalTimeEntry, TimeEntryPage
from portal.integrations.toggl.sync import batches


def _pages(count: int, size: int = 50, fail_after: int | None = None):
    for number in range(count):
        if fail_after is not None and number == fail_after:
            raise ExternalServiceError("Toggl is down")
        yield TimeEntryPage([ExternalTimeEntry(id=f"{number}-{n}", user_id="1", project_id="1",
                                               work_date=date(2026, 3, 2), seconds=3600, billable=True,
                                               description="", updated_at=None) for n in range(size)], number + 1)


def test_pages_are_applied_in_batches_of_the_configured_size():
    sizes = [len(batch) for batch in batches(_pages(45), 1000)]
    assert sizes == [1000, 1000, 250]


def test_what_was_read_before_the_tool_failed_is_handed_over_then_the_failure():
    read = []
    with pytest.raises(ExternalServiceError):
        for batch in batches(_pages(30, fail_after=23), 1000):
            read.append(len(batch))
    assert read == [1000, 150]
