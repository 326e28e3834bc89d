"""toggl time sync: entries waiting for their person, conflicts held on approved timesheets, runs paused
for a quota (resume_at), and an index for reconciling a connection's entries by date

Revision ID: 0006_toggl_sync
Revises: 0005_procore
Create Date: 2026-11-25 17:44:22.832634

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_toggl_sync'
down_revision = '0005_procore'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('timesheet_conflicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('timesheet_id', sa.Integer(), nullable=False),
    sa.Column('time_entry_id', sa.Integer(), nullable=True),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('proposed', sa.JSON(), nullable=True),
    sa.Column('current', sa.JSON(), nullable=True),
    sa.Column('external_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_timesheet_conflicts_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_timesheet_conflicts_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['time_entry_id'], ['time_entries.id'], name=op.f('fk_timesheet_conflicts_time_entry_id_time_entries'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['timesheet_id'], ['timesheets.id'], name=op.f('fk_timesheet_conflicts_timesheet_id_timesheets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timesheet_conflicts'))
    )
    with op.batch_alter_table('timesheet_conflicts', schema=None) as batch_op:
        batch_op.create_index('ix_timesheet_conflicts_entry', ['connection_id', 'external_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_timesheet_conflicts_time_entry_id'), ['time_entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_timesheet_conflicts_timesheet_id'), ['timesheet_id'], unique=False)
        batch_op.create_index('uq_timesheet_conflicts_open_entry', ['connection_id', 'external_id'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    op.create_table('waiting_time_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('person_link_id', sa.Integer(), nullable=False),
    sa.Column('project_link_id', sa.Integer(), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('external_project_id', sa.String(length=64), nullable=False),
    sa.Column('work_date', sa.Date(), nullable=False),
    sa.Column('seconds', sa.Integer(), nullable=False),
    sa.Column('billable', sa.Boolean(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('external_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_waiting_time_entries_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_link_id'], ['person_links.id'], name=op.f('fk_waiting_time_entries_person_link_id_person_links'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_link_id'], ['project_links.id'], name=op.f('fk_waiting_time_entries_project_link_id_project_links'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waiting_time_entries')),
    sa.UniqueConstraint('connection_id', 'external_id', name=op.f('uq_waiting_time_entries_connection_id_external_id'))
    )
    with op.batch_alter_table('waiting_time_entries', schema=None) as batch_op:
        batch_op.create_index('ix_waiting_time_entries_connection_date', ['connection_id', 'work_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_waiting_time_entries_person_link_id'), ['person_link_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_waiting_time_entries_project_link_id'), ['project_link_id'], unique=False)

    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resume_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.create_index('ix_time_entries_connection_date', ['connection_id', 'work_date'], unique=False)



def downgrade():
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_time_entries_connection_date')

    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.drop_column('resume_at')

    with op.batch_alter_table('waiting_time_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_waiting_time_entries_project_link_id'))
        batch_op.drop_index(batch_op.f('ix_waiting_time_entries_person_link_id'))
        batch_op.drop_index('ix_waiting_time_entries_connection_date')

    op.drop_table('waiting_time_entries')
    with op.batch_alter_table('timesheet_conflicts', schema=None) as batch_op:
        batch_op.drop_index('uq_timesheet_conflicts_open_entry', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.drop_index(batch_op.f('ix_timesheet_conflicts_timesheet_id'))
        batch_op.drop_index(batch_op.f('ix_timesheet_conflicts_time_entry_id'))
        batch_op.drop_index('ix_timesheet_conflicts_entry')

    op.drop_table('timesheet_conflicts')
