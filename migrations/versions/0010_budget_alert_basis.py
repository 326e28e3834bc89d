"""budget alerts record the basis their figure was measured on (revenue, cost or hours)

Revision ID: 0010_budget_alert_basis
Revises: 0009_transaction_rate_type
Create Date: 2026-12-04 19:10:00

Alerts sent so far measured money budgets: revenue for billable offerings, cost for the others. A budget in
hours (an offering without a money budget) arms its thresholds apart from a money budget of the same size.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_budget_alert_basis'
down_revision = '0009_transaction_rate_type'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('budget_alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('basis', sa.String(length=10), nullable=True))
    op.execute("UPDATE budget_alerts SET basis = CASE WHEN (SELECT billing_model FROM offerings "
               "WHERE offerings.id = budget_alerts.offering_id) IN ('time_and_materials', 'fixed_bid', 'retainer') "
               "THEN 'revenue' ELSE 'cost' END")
    with op.batch_alter_table('budget_alerts', schema=None) as batch_op:
        batch_op.alter_column('basis', existing_type=sa.String(length=10), nullable=False)
        batch_op.drop_constraint('uq_budget_alerts_offering_id_threshold_budget_amount', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_budget_alerts_offering_id_threshold_basis_budget_amount'),
                                          ['offering_id', 'threshold', 'basis', 'budget_amount'])


def downgrade():
    with op.batch_alter_table('budget_alerts', schema=None) as batch_op:
        batch_op.drop_constraint('uq_budget_alerts_offering_id_threshold_basis_budget_amount', type_='unique')
        batch_op.create_unique_constraint('uq_budget_alerts_offering_id_threshold_budget_amount',
                                          ['offering_id', 'threshold', 'budget_amount'])
        batch_op.drop_column('basis')
