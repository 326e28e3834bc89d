"""toggl: each resource's own time zone (synced time is dated in it; waiting entries keep their start) and
the requests each sync run spent (issue 13)

Revision ID: 0017_toggl_zones_requests
Revises: 0016_procore_sub_job_mapping
Create Date: 2026-12-04 22:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_toggl_zones_requests'
down_revision = '0016_procore_sub_job_mapping'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requests', sa.Integer(), nullable=True))
    with op.batch_alter_table('waiting_time_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('waiting_time_entries', schema=None) as batch_op:
        batch_op.drop_column('started_at')
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.drop_column('requests')
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
