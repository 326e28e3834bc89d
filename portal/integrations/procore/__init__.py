"""Procore: time cards replicated both ways (webhook deliveries and an hourly catch-up poll in, the portal's
own time entries out), sub-job projects, its settings page with the activity log, and batched alerts."""

from portal import queue
from portal.integrations.registry import Tool
from portal.queue import Scheduled

TOOL = Tool(
    kind="procore",
    connector="portal.integrations.procore.connector:ProcoreConnector",
    blueprints=("portal.integrations.procore.views:bp",),
    webhooks="portal.integrations.procore.receiving:receive_delivery",
    # SubJobProject's table; the receiver that sends the portal's time entry changes to Procore.
    imports=("portal.integrations.procore.models", "portal.integrations.procore.sending"),
    schedule=(
        Scheduled("portal.integrations.procore.jobs.pump", "*/5 * * * *", queue.SYNC,
                  "retry due Procore messages, send batched sync alerts"),
        Scheduled("portal.integrations.procore.jobs.catch_up_all", "17 * * * *", queue.SYNC,
                  "Procore catch-up poll: repair time cards a webhook delivery missed"),
    ),
    jobs="portal.integrations.procore.jobs",
    demo="portal.integrations.procore.demo",
)
