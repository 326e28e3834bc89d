"""Toggl Track: provisioning projects, their teams and rates (the shared integration layer does that through
this package's connector), and the time sync: hourly and nightly polls of everyone's time, webhook events,
unmatched people and changes held on approved time."""

from portal import queue
from portal.integrations.registry import Tool
from portal.queue import Scheduled

TOOL = Tool(
    kind="toggl",
    connector="portal.integrations.toggl.connector:TogglConnector",
    imports=("portal.integrations.toggl.credentials",),  # marks a connection whose token a run found refused
    blueprints=("portal.integrations.toggl.views:bp", "portal.integrations.toggl.sync_views:bp"),
    webhooks="portal.integrations.toggl.webhooks:receive_delivery",
    schedule=(
        Scheduled("portal.integrations.toggl.jobs.start_time_syncs", "5 * * * *", queue.SYNC,
                  "hourly time sync: recent changes", ("hourly",)),
        Scheduled("portal.integrations.toggl.jobs.start_time_syncs", "30 2 * * *", queue.SYNC,
                  "nightly time sync: the look-back and deletions", ("nightly",)),
    ),
    commands=("portal.integrations.toggl.cli:sync_cli",),
    jobs="portal.integrations.toggl.jobs",
    demo="portal.integrations.toggl.demo",
)
