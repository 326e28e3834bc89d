"""tool job paths: each timesheet tool's jobs moved into its package (portal/integrations/<tool>/jobs.py)

Sync runs keep the dotted path of the job that executes them, for the sweeper and Retry; this moves the
stored paths of runs made before the move. (Jobs still waiting in Redis under an old path fail on import;
the sweeper puts their runs back in the queue, and the Procore pump its messages.)

Revision ID: 0011_tool_job_paths
Revises: 0010_budget_alert_basis
Create Date: 2026-12-04 18:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_tool_job_paths'
down_revision = '0010_budget_alert_basis'
branch_labels = None
depends_on = None

MOVED = {
    "portal.jobs.validate_connection": "portal.integrations.toggl.jobs.validate_connection",
    "portal.jobs.sync_time": "portal.integrations.toggl.jobs.sync_time",
    "portal.jobs.subscribe_webhooks": "portal.integrations.toggl.jobs.subscribe_webhooks",
    "portal.jobs.procore_connect": "portal.integrations.procore.jobs.connect",
    "portal.jobs.procore_disconnect": "portal.integrations.procore.jobs.disconnect",
    "portal.jobs.procore_catch_up": "portal.integrations.procore.jobs.run_catch_up",
}
sync_runs = sa.table("sync_runs", sa.column("job", sa.String))


def _move(paths):
    for old, new in paths.items():
        op.execute(sync_runs.update().where(sync_runs.c.job == old).values(job=new))


def upgrade():
    _move(MOVED)


def downgrade():
    _move({new: old for old, new in MOVED.items()})
