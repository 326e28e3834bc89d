"""Procore time-card replication: project items, sub-job projects, time entry details, message ordering

Revision ID: 0005_procore
Revises: 0004_finance
Create Date: 2026-11-25 17:30:53.675534

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_procore'
down_revision = '0004_finance'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('project_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_items_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_items')),
    sa.UniqueConstraint('project_id', 'code', name=op.f('uq_project_items_project_id_code'))
    )
    with op.batch_alter_table('project_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_items_project_id'), ['project_id'], unique=False)

    op.create_table('procore_sub_job_projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('external_project_id', sa.String(length=64), nullable=False),
    sa.Column('sub_job_id', sa.String(length=64), nullable=False),
    sa.Column('sub_job_name', sa.String(length=200), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('offering_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_procore_sub_job_projects_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['offering_id'], ['offerings.id'], name=op.f('fk_procore_sub_job_projects_offering_id_offerings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_procore_sub_job_projects_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_procore_sub_job_projects')),
    sa.UniqueConstraint('connection_id', 'sub_job_id', name=op.f('uq_procore_sub_job_projects_connection_id_sub_job_id'))
    )
    with op.batch_alter_table('procore_sub_job_projects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_procore_sub_job_projects_offering_id'), ['offering_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_procore_sub_job_projects_project_id'), ['project_id'], unique=False)

    with op.batch_alter_table('sync_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('local_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_sync_messages_external', ['connection_id', 'direction', 'external_id'], unique=False)
        batch_op.create_index('ix_sync_messages_local', ['connection_id', 'direction', 'local_id'], unique=False)

    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('project_item_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('break_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('external_details', sa.JSON(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_time_entries_project_item_id_project_items'), 'project_items', ['project_item_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_time_entries_project_item_id_project_items'), type_='foreignkey')
        batch_op.drop_column('external_details')
        batch_op.drop_column('break_minutes')
        batch_op.drop_column('ended_at')
        batch_op.drop_column('started_at')
        batch_op.drop_column('project_item_id')

    with op.batch_alter_table('sync_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_messages_local')
        batch_op.drop_index('ix_sync_messages_external')
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('local_id')

    with op.batch_alter_table('procore_sub_job_projects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_procore_sub_job_projects_project_id'))
        batch_op.drop_index(batch_op.f('ix_procore_sub_job_projects_offering_id'))

    op.drop_table('procore_sub_job_projects')
    with op.batch_alter_table('project_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_items_project_id'))

    op.drop_table('project_items')
