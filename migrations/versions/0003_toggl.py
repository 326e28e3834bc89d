"""toggl provisioning: the project users the portal manages on linked projects

Revision ID: 0003_toggl
Revises: 0002_stages
Create Date: 2026-11-25 16:53:04.778607

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_toggl'
down_revision = '0002_stages'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('project_user_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_link_id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('external_user_id', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_link_id'], ['project_links.id'], name=op.f('fk_project_user_links_project_link_id_project_links'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_project_user_links_resource_id_resources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_user_links')),
    sa.UniqueConstraint('project_link_id', 'resource_id', name=op.f('uq_project_user_links_project_link_id_resource_id'))
    )
    with op.batch_alter_table('project_user_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_user_links_resource_id'), ['resource_id'], unique=False)


def downgrade():
    with op.batch_alter_table('project_user_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_user_links_resource_id'))

    op.drop_table('project_user_links')
