"""session epoch: a password change or reset ends the user's sessions and remember-me cookies

Revision ID: 0008_session_epoch
Revises: 0007_password_links
Create Date: 2026-12-14 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_session_epoch'
down_revision = '0007_password_links'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')
