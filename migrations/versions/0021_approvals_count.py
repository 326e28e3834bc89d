"""timesheets: the approvals queue's index carries the person on PostgreSQL, so the queue's capped count,
which leaves out the viewer's own timesheets, is an index-only scan (issue 14)

Revision ID: 0021_approvals_count
Revises: 0020_time_entry_lookup
Create Date: 2026-12-05 23:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021_approvals_count'
down_revision = '0020_time_entry_lookup'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('timesheets', schema=None) as batch_op:
        batch_op.drop_index('ix_timesheets_status_week')
        batch_op.create_index('ix_timesheets_status_week', ['status', 'period_start', 'id'], unique=False,
                              postgresql_include=['resource_id'])


def downgrade():
    with op.batch_alter_table('timesheets', schema=None) as batch_op:
        batch_op.drop_index('ix_timesheets_status_week')
        batch_op.create_index('ix_timesheets_status_week', ['status', 'period_start', 'id'], unique=False)
