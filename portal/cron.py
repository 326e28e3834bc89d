"""The schedule read by `python worker.py cron` (RQ's CronScheduler).

Cron strings, not intervals, so a restart does not fire everything at once. rq 2.x evaluates them in
UTC; worker.py also pins TZ=UTC so an rq 3 upgrade (host local time) would not move them. Every
scheduled job is a fan-out that is also reachable from `flask --app portal sync ...`, so the
scheduler (a beta feature) is a convenience, not the only trigger.
"""

from __future__ import annotations

from dataclasses import dataclass

from rq.cron import CronScheduler

from portal import jobs, queue


@dataclass(frozen=True)
class Scheduled:
    func: str  # attribute of portal.jobs
    cron: str
    queue: str
    why: str
    args: tuple = ()


SCHEDULE: list[Scheduled] = [
    Scheduled("sweep", "*/5 * * * *", queue.SYNC, "re-enqueue interrupted sync runs and unsent email"),
    Scheduled("sweep_budget_alerts", "40 * * * *", queue.MAIL, "send budget alerts whose check job was lost"),
    # Timesheets and finance (issue 6)
    Scheduled("requeue_finance_postings", "*/10 * * * *", queue.POSTINGS,
              "re-enqueue timesheet postings whose job was lost"),
    # Procore (issue 7)
    Scheduled("procore_pump", "*/5 * * * *", queue.SYNC, "retry due Procore messages, send batched sync alerts"),
    Scheduled("procore_catch_up_all", "17 * * * *", queue.SYNC,
              "Procore catch-up poll: repair time cards a webhook delivery missed"),
    # Time sync from timesheet tools (issue 5): the hourly incremental and the nightly comprehensive sync.
    Scheduled("start_time_syncs", "5 * * * *", queue.SYNC, "hourly time sync: recent changes", ("hourly",)),
    Scheduled("start_time_syncs", "30 2 * * *", queue.SYNC, "nightly time sync: the look-back and deletions",
              ("nightly",)),
    # Timesheet reminders (issue 16): hourly, because the reminder's weekday and hour are the organization's
    # (PORTAL_TIMEZONE) and cron strings are UTC; the job decides whether it is the time.
    Scheduled("send_timesheet_reminders", "7 * * * *", queue.MAIL,
              "timesheet reminders on the organization's day and hour, and escalations to approvers"),
]


def register_schedule(scheduler: CronScheduler) -> None:
    for entry in SCHEDULE:
        scheduler.register(getattr(jobs, entry.func), queue_name=entry.queue, cron=entry.cron, args=entry.args,
                           job_timeout=queue.JOB_TIMEOUTS[entry.queue], result_ttl=queue.RESULT_TTL)
