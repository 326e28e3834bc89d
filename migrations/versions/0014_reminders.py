"""reminders for missing and unsubmitted time: organization settings, expected hours per resource, each
person's choice, and the reminders sent (unique per person, week and kind)

Revision ID: 0014_reminders
Revises: 0013_stand_ins
Create Date: 2026-12-04 18:32:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_reminders'
down_revision = '0013_stand_ins'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('timesheet_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hours', sa.Numeric(precision=10, scale=4), nullable=False),
    sa.Column('expected', sa.Numeric(precision=10, scale=4), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_timesheet_reminders_resource_id_resources'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sent_by_id'], ['users.id'], name=op.f('fk_timesheet_reminders_sent_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timesheet_reminders'))
    )
    with op.batch_alter_table('timesheet_reminders', schema=None) as batch_op:
        batch_op.create_index('ix_timesheet_reminders_kind_week', ['kind', 'week_start'], unique=False)
        # The cron's reminders: once per person, week and kind, whatever runs them (two cron processes, a retry).
        batch_op.create_index('uq_timesheet_reminders_week', ['resource_id', 'week_start', 'kind'], unique=True,
                              sqlite_where=sa.text("kind <> 'manual'"), postgresql_where=sa.text("kind <> 'manual'"))
        # An approver's Remind: once per person and day.
        batch_op.create_index('uq_timesheet_reminders_manual_day', ['resource_id', 'sent_on'], unique=True,
                              sqlite_where=sa.text("kind = 'manual'"), postgresql_where=sa.text("kind = 'manual'"))

    with op.batch_alter_table('org_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminders_enabled', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('reminder_weekday', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('reminder_hour', sa.Integer(), server_default='9', nullable=False))
        batch_op.add_column(sa.Column('expected_hours_per_week', sa.Numeric(precision=10, scale=4), server_default='40',
                                      nullable=False))
        batch_op.add_column(sa.Column('reminder_escalate_days', sa.Integer(), server_default='2', nullable=False))
        batch_op.create_check_constraint(batch_op.f('ck_org_settings_reminder_weekday_range'),
                                         'reminder_weekday BETWEEN 0 AND 6')
        batch_op.create_check_constraint(batch_op.f('ck_org_settings_reminder_hour_range'), 'reminder_hour BETWEEN 0 AND 23')
        batch_op.create_check_constraint(batch_op.f('ck_org_settings_expected_hours_range'),
                                         'expected_hours_per_week >= 0 AND expected_hours_per_week <= 168')
        batch_op.create_check_constraint(batch_op.f('ck_org_settings_escalate_days_range'),
                                         'reminder_escalate_days BETWEEN 1 AND 28')

    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expected_hours_per_week', sa.Numeric(precision=10, scale=4), nullable=True))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timesheet_reminders', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('timesheet_reminders')

    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_column('expected_hours_per_week')

    with op.batch_alter_table('org_settings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_org_settings_escalate_days_range'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_org_settings_expected_hours_range'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_org_settings_reminder_hour_range'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_org_settings_reminder_weekday_range'), type_='check')
        batch_op.drop_column('reminder_escalate_days')
        batch_op.drop_column('expected_hours_per_week')
        batch_op.drop_column('reminder_hour')
        batch_op.drop_column('reminder_weekday')
        batch_op.drop_column('reminders_enabled')

    with op.batch_alter_table('timesheet_reminders', schema=None) as batch_op:
        batch_op.drop_index('uq_timesheet_reminders_manual_day', sqlite_where=sa.text("kind = 'manual'"),
                            postgresql_where=sa.text("kind = 'manual'"))
        batch_op.drop_index('uq_timesheet_reminders_week', sqlite_where=sa.text("kind <> 'manual'"),
                            postgresql_where=sa.text("kind <> 'manual'"))
        batch_op.drop_index('ix_timesheet_reminders_kind_week')
    op.drop_table('timesheet_reminders')
