"""period close: fiscal periods open, on hold or closed (was: locked), late postings naming the period they
belong to, and the finance setting for actuals that would land in a period on hold

Revision ID: 0012_period_close
Revises: 0011_tool_job_paths
Create Date: 2026-12-04 18:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_period_close'
down_revision = '0011_tool_job_paths'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('fiscal_periods', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=10), server_default='open', nullable=False))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_fiscal_periods_closed_by_id_users'), 'users', ['closed_by_id'],
                                    ['id'], ondelete='SET NULL')
    # Today's lock is the reopenable hold.
    op.execute("UPDATE fiscal_periods SET state = 'on_hold' WHERE locked")
    with op.batch_alter_table('fiscal_periods', schema=None) as batch_op:
        batch_op.drop_column('locked')
        batch_op.create_check_constraint(batch_op.f('ck_fiscal_periods_state_known'),
                                         "state IN ('open', 'on_hold', 'closed')")

    with op.batch_alter_table('financial_transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('belongs_to_period_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_financial_transactions_belongs_to_period_id'), ['belongs_to_period_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_financial_transactions_belongs_to_period_id_fiscal_periods'),
                                    'fiscal_periods', ['belongs_to_period_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('org_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_period_actuals', sa.String(length=10), server_default='hold',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('org_settings', schema=None) as batch_op:
        batch_op.drop_column('locked_period_actuals')

    with op.batch_alter_table('financial_transactions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_financial_transactions_belongs_to_period_id_fiscal_periods'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_financial_transactions_belongs_to_period_id'))
        batch_op.drop_column('belongs_to_period_id')

    with op.batch_alter_table('fiscal_periods', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute("UPDATE fiscal_periods SET locked = (state <> 'open')")
    with op.batch_alter_table('fiscal_periods', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_fiscal_periods_state_known'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_fiscal_periods_closed_by_id_users'), type_='foreignkey')
        batch_op.drop_column('closed_by_id')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('state')
