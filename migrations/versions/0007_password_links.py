"""password links: when a user was last emailed a link to set their password

Revision ID: 0007_password_links
Revises: 0006_toggl_sync
Create Date: 2026-11-25 20:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_password_links'
down_revision = '0006_toggl_sync'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_link_sent_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('password_link_sent_at')
