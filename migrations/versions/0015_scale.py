"""scale: indexes for the list pages' orders and the approvals queue's shapes, the ledger's totals per kind
and fiscal period, and the last run of each cron entry (issue 14)

Revision ID: 0015_scale
Revises: 0014_reminders
Create Date: 2026-12-04 19:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_scale'
down_revision = '0014_reminders'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('timesheets', schema=None) as batch_op:
        batch_op.drop_index('ix_timesheets_status')
        batch_op.create_index('ix_timesheets_status_week', ['status', 'period_start', 'id'], unique=False)
        batch_op.create_index('ix_timesheets_week', ['period_start', 'id'], unique=False)
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_time_entries_project_id')
        batch_op.create_index('ix_time_entries_project_timesheet', ['project_id', 'timesheet_id'], unique=False)
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.create_index('ix_projects_pm_id', ['pm_id'], unique=False)
        batch_op.create_index('ix_projects_name', ['name', 'id'], unique=False)
    for table in ('clients', 'resources', 'users'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(f'ix_{table}_name', ['name', 'id'], unique=False)
    with op.batch_alter_table('financial_transactions', schema=None) as batch_op:
        batch_op.create_index('ix_financial_transactions_kind_date', ['kind', 'date', 'id'], unique=False)
    op.create_table(
        'ledger_totals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('period_key', sa.Integer(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('hours', sa.Numeric(precision=16, scale=4), nullable=False),
        sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_totals')),
        sa.UniqueConstraint('kind', 'period_key', name=op.f('uq_ledger_totals_kind_period_key')),
    )
    op.create_table(
        'cron_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entry', sa.String(length=200), nullable=False),
        sa.Column('job_id', sa.String(length=100), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('outcome', sa.String(length=12), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cron_runs')),
        sa.UniqueConstraint('entry', name=op.f('uq_cron_runs_entry')),
    )
    op.execute("INSERT INTO ledger_totals (kind, period_key, count, hours, amount) "
               "SELECT kind, COALESCE(fiscal_period_id, 0), count(*), sum(hours), sum(amount) "
               "FROM financial_transactions GROUP BY kind, COALESCE(fiscal_period_id, 0)")


def downgrade():
    op.drop_table('cron_runs')
    op.drop_table('ledger_totals')
    with op.batch_alter_table('financial_transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_financial_transactions_kind_date')
    for table in ('users', 'resources', 'clients'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f'ix_{table}_name')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_index('ix_projects_name')
        batch_op.drop_index('ix_projects_pm_id')
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_time_entries_project_timesheet')
        batch_op.create_index('ix_time_entries_project_id', ['project_id'], unique=False)
    with op.batch_alter_table('timesheets', schema=None) as batch_op:
        batch_op.drop_index('ix_timesheets_week')
        batch_op.drop_index('ix_timesheets_status_week')
        batch_op.create_index('ix_timesheets_status', ['status'], unique=False)
