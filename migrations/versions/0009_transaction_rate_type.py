"""financial transactions record the rate type (cost or sell) they were posted at

Revision ID: 0009_transaction_rate_type
Revises: 0008_session_epoch
Create Date: 2026-12-04 19:00:00

Existing transactions were posted at the organization's rate type of the time; the one in force now is the
best record there is.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_transaction_rate_type'
down_revision = '0008_session_epoch'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('financial_transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rate_type', sa.String(length=10), nullable=True))
    op.execute("UPDATE financial_transactions SET rate_type = COALESCE("
               "(SELECT finance_rate_type FROM org_settings ORDER BY id LIMIT 1), 'cost')")
    with op.batch_alter_table('financial_transactions', schema=None) as batch_op:
        batch_op.alter_column('rate_type', existing_type=sa.String(length=10), nullable=False)


def downgrade():
    with op.batch_alter_table('financial_transactions', schema=None) as batch_op:
        batch_op.drop_column('rate_type')
