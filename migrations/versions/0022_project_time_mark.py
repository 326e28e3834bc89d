"""project links: how far a project's own time syncs have read the tool's changes, so a project's Sync time
reads only what changed since its last one, not its whole look-back (Toggl's hourly quota)

Revision ID: 0022_project_time_mark
Revises: 0021_approvals_count
Create Date: 2026-12-06 08:25:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_project_time_mark'
down_revision = '0021_approvals_count'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('project_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_read_up_to', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('project_links', schema=None) as batch_op:
        batch_op.drop_column('time_read_up_to')
