"""stage editor: entry settings, tasks, expenses, baselines, requests, budget alerts

Revision ID: 0002_stages
Revises: 0001_foundation

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0002_stages'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('baselines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('taken_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_baselines_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['taken_by_id'], ['users.id'], name=op.f('fk_baselines_taken_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_baselines')),
    sa.UniqueConstraint('project_id', 'name', name=op.f('uq_baselines_project_id_name'))
    )
    with op.batch_alter_table('baselines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_baselines_project_id'), ['project_id'], unique=False)

    op.create_table('project_cost_categories',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('cost_category_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['cost_category_id'], ['cost_categories.id'], name=op.f('fk_project_cost_categories_cost_category_id_cost_categories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_cost_categories_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'cost_category_id', name=op.f('pk_project_cost_categories'))
    )
    op.create_table('task_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_task_types_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_types')),
    sa.UniqueConstraint('project_id', 'name', name=op.f('uq_task_types_project_id_name'))
    )
    with op.batch_alter_table('task_types', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_types_project_id'), ['project_id'], unique=False)

    op.create_table('project_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('task_type_id', sa.Integer(), nullable=True),
    sa.Column('planned_hours', sa.Numeric(precision=10, scale=4), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('end_date IS NULL OR start_date IS NULL OR end_date >= start_date', name=op.f('ck_project_tasks_dates_ordered')),
    sa.CheckConstraint('planned_hours >= 0', name=op.f('ck_project_tasks_planned_not_negative')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_tasks_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_type_id'], ['task_types.id'], name=op.f('fk_project_tasks_task_type_id_task_types'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_tasks')),
    sa.UniqueConstraint('project_id', 'name', name=op.f('uq_project_tasks_project_id_name'))
    )
    with op.batch_alter_table('project_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_tasks_project_id'), ['project_id'], unique=False)

    op.create_table('baseline_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('baseline_id', sa.Integer(), nullable=False),
    sa.Column('offering_id', sa.Integer(), nullable=True),
    sa.Column('offering_name', sa.String(length=200), nullable=False),
    sa.Column('sold_hours', sa.Numeric(precision=10, scale=4), nullable=False),
    sa.Column('planned_hours', sa.Numeric(precision=10, scale=4), nullable=False),
    sa.Column('fixed_fee', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('budget_amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.CheckConstraint('budget_amount IS NULL OR budget_amount >= 0', name=op.f('ck_baseline_lines_budget_not_negative')),
    sa.CheckConstraint('sold_hours >= 0 AND planned_hours >= 0', name=op.f('ck_baseline_lines_hours_not_negative')),
    sa.ForeignKeyConstraint(['baseline_id'], ['baselines.id'], name=op.f('fk_baseline_lines_baseline_id_baselines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['offering_id'], ['offerings.id'], name=op.f('fk_baseline_lines_offering_id_offerings'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_baseline_lines'))
    )
    with op.batch_alter_table('baseline_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_baseline_lines_baseline_id'), ['baseline_id'], unique=False)

    op.create_table('budget_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offering_id', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('budget_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('used_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['offering_id'], ['offerings.id'], name=op.f('fk_budget_alerts_offering_id_offerings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_budget_alerts')),
    sa.UniqueConstraint('offering_id', 'threshold', 'budget_amount', name=op.f('uq_budget_alerts_offering_id_threshold_budget_amount'))
    )
    op.create_table('expenses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('cost_category_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('spent_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('billable', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_expenses_amount_positive')),
    sa.ForeignKeyConstraint(['cost_category_id'], ['cost_categories.id'], name=op.f('fk_expenses_cost_category_id_cost_categories')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_expenses_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_expenses_project_id_projects')),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_expenses_resource_id_resources')),
    sa.ForeignKeyConstraint(['task_id'], ['project_tasks.id'], name=op.f('fk_expenses_task_id_project_tasks'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expenses'))
    )
    with op.batch_alter_table('expenses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_expenses_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_expenses_resource_spent_on', ['resource_id', 'spent_on'], unique=False)

    op.create_table('resource_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('offering_id', sa.Integer(), nullable=True),
    sa.Column('resource_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=120), nullable=False),
    sa.Column('hours', sa.Numeric(precision=10, scale=4), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('end_date >= start_date', name=op.f('ck_resource_requests_dates_ordered')),
    sa.CheckConstraint('hours > 0', name=op.f('ck_resource_requests_hours_positive')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_resource_requests_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['offering_id'], ['offerings.id'], name=op.f('fk_resource_requests_offering_id_offerings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_resource_requests_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_resource_requests_requested_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_resource_requests_resource_id_resources'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resource_requests'))
    )
    with op.batch_alter_table('resource_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resource_requests_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_requests_status'), ['status'], unique=False)

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('open_for_time', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('open_for_time_transfer', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('open_for_cost', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('open_for_cost_transfer', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('time_entry_by', sa.String(length=10), server_default='anyone', nullable=False))
        batch_op.add_column(sa.Column('time_descriptions_required', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('cost_entry_by', sa.String(length=10), server_default='anyone', nullable=False))
        batch_op.add_column(sa.Column('estimate_amount', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column('estimate_start', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('estimate_end', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('workspace_sections', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('workspace_client_sections', sa.JSON(), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_projects_entry_by_values'),
            "time_entry_by IN ('anyone', 'assigned') AND cost_entry_by IN ('anyone', 'assigned')")

    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('task_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('bill_rate', sa.Numeric(precision=12, scale=2), nullable=True))
        batch_op.create_index(batch_op.f('ix_time_entries_task_id'), ['task_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_time_entries_task_id_project_tasks'), 'project_tasks', ['task_id'], ['id'], ondelete='SET NULL')
        batch_op.create_check_constraint(op.f('ck_time_entries_bill_rate_not_negative'),
                                         'bill_rate IS NULL OR bill_rate >= 0')



def downgrade():
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_time_entries_bill_rate_not_negative'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_time_entries_task_id_project_tasks'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_time_entries_task_id'))
        batch_op.drop_column('bill_rate')
        batch_op.drop_column('task_id')

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_projects_entry_by_values'), type_='check')
        batch_op.drop_column('workspace_client_sections')
        batch_op.drop_column('workspace_sections')
        batch_op.drop_column('estimate_end')
        batch_op.drop_column('estimate_start')
        batch_op.drop_column('estimate_amount')
        batch_op.drop_column('cost_entry_by')
        batch_op.drop_column('time_descriptions_required')
        batch_op.drop_column('time_entry_by')
        batch_op.drop_column('open_for_cost_transfer')
        batch_op.drop_column('open_for_cost')
        batch_op.drop_column('open_for_time_transfer')
        batch_op.drop_column('open_for_time')

    with op.batch_alter_table('resource_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resource_requests_status'))
        batch_op.drop_index(batch_op.f('ix_resource_requests_project_id'))

    op.drop_table('resource_requests')
    with op.batch_alter_table('expenses', schema=None) as batch_op:
        batch_op.drop_index('ix_expenses_resource_spent_on')
        batch_op.drop_index(batch_op.f('ix_expenses_project_id'))

    op.drop_table('expenses')
    op.drop_table('budget_alerts')
    with op.batch_alter_table('baseline_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_baseline_lines_baseline_id'))

    op.drop_table('baseline_lines')
    with op.batch_alter_table('project_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_tasks_project_id'))

    op.drop_table('project_tasks')
    with op.batch_alter_table('task_types', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_types_project_id'))

    op.drop_table('task_types')
    op.drop_table('project_cost_categories')
    with op.batch_alter_table('baselines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_baselines_project_id'))

    op.drop_table('baselines')
