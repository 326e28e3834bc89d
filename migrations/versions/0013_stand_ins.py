"""stand-in approvers, and who a stand-in decided for (on the timesheet and in the audit log)

Revision ID: 0013_stand_ins
Revises: 0012_period_close
Create Date: 2026-12-04 18:31:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_stand_ins'
down_revision = '0012_period_close'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stand_ins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('approver_id', sa.Integer(), nullable=False),
    sa.Column('stand_in_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('approver_id <> stand_in_id', name=op.f('ck_stand_ins_not_self')),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_stand_ins_dates_ordered')),
    sa.ForeignKeyConstraint(['approver_id'], ['users.id'], name=op.f('fk_stand_ins_approver_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_stand_ins_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ended_by_id'], ['users.id'], name=op.f('fk_stand_ins_ended_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['stand_in_id'], ['users.id'], name=op.f('fk_stand_ins_stand_in_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stand_ins'))
    )
    with op.batch_alter_table('stand_ins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stand_ins_approver_id'), ['approver_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stand_ins_stand_in_id'), ['stand_in_id'], unique=False)

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('on_behalf_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('on_behalf_of_label', sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_audit_events_on_behalf_of_id_users'), 'users', ['on_behalf_of_id'],
                                    ['id'], ondelete='SET NULL')

    with op.batch_alter_table('timesheets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decided_for_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_timesheets_decided_for_id_users'), 'users', ['decided_for_id'],
                                    ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('timesheets', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_timesheets_decided_for_id_users'), type_='foreignkey')
        batch_op.drop_column('decided_for_id')

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audit_events_on_behalf_of_id_users'), type_='foreignkey')
        batch_op.drop_column('on_behalf_of_label')
        batch_op.drop_column('on_behalf_of_id')

    with op.batch_alter_table('stand_ins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stand_ins_stand_in_id'))
        batch_op.drop_index(batch_op.f('ix_stand_ins_approver_id'))
    op.drop_table('stand_ins')
