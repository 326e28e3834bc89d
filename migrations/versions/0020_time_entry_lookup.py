"""time entries: the unique (connection, external id) key indexed external id first, so a sync's lookups
by external id are served by it alone, whatever the statistics say about the connection (issue 14)

Revision ID: 0020_time_entry_lookup
Revises: 0019_scale_pages
Create Date: 2026-12-05 01:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0020_time_entry_lookup'
down_revision = '0019_scale_pages'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_constraint('uq_time_entries_connection_id_external_id', type_='unique')
        batch_op.create_unique_constraint('uq_time_entries_external_id_connection_id', ['external_id', 'connection_id'])


def downgrade():
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_constraint('uq_time_entries_external_id_connection_id', type_='unique')
        batch_op.create_unique_constraint('uq_time_entries_connection_id_external_id', ['connection_id', 'external_id'])
