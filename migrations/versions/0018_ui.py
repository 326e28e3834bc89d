"""ui: a run that failed on input says so (no Retry); each person's choice of emails about decisions on their
timesheets (issue 15 items 5 and 22)

Revision ID: 0018_ui
Revises: 0017_toggl_zones_requests
Create Date: 2026-12-04 22:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_ui'
down_revision = '0017_toggl_zones_requests'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retryable', sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timesheet_decision_emails', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('timesheet_decision_emails')
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.drop_column('retryable')
