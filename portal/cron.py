"""The schedule read by `python worker.py cron` (RQ's CronScheduler).

Cron strings, not intervals, so a restart does not fire everything at once. rq 2.x evaluates them in
UTC; worker.py also pins TZ=UTC so an rq 3 upgrade (host local time) would not move them. Every
scheduled job is a fan-out that is also reachable from `flask --app portal sync ...`, so the
scheduler (a beta feature) is a convenience, not the only trigger.
"""

from __future__ import annotations

from rq.cron import CronScheduler
from rq.utils import import_attribute

from portal import queue
from portal.integrations.registry import tools
from portal.queue import Scheduled

SCHEDULE: list[Scheduled] = [
    Scheduled("portal.jobs.sweep", "*/5 * * * *", queue.SYNC, "re-enqueue interrupted sync runs and unsent email"),
    Scheduled("portal.jobs.sweep_budget_alerts", "40 * * * *", queue.MAIL,
              "send budget alerts whose check job was lost"),
    Scheduled("portal.jobs.requeue_finance_postings", "*/10 * * * *", queue.POSTINGS,
              "re-enqueue timesheet postings whose job was lost"),
]


def schedule() -> list[Scheduled]:
    """The portal's schedule and every timesheet tool's."""
    return SCHEDULE + [entry for tool in tools() for entry in tool.schedule]


def register_schedule(scheduler: CronScheduler) -> None:
    for entry in schedule():
        scheduler.register(import_attribute(entry.func), queue_name=entry.queue, cron=entry.cron, args=entry.args,
                           job_timeout=queue.JOB_TIMEOUTS[entry.queue], result_ttl=queue.RESULT_TTL)
