"""procore: a sub job maps to one portal project for good, across reconnects (issue 13 item 14): the mapping
is keyed by Procore's company and sub job instead of the connection, and a disconnect keeps it

Revision ID: 0016_procore_sub_job_mapping
Revises: 0015_scale
Create Date: 2026-12-04 22:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_procore_sub_job_mapping'
down_revision = '0015_scale'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('procore_sub_job_projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('company_id', sa.String(length=64), nullable=True))
    op.execute("UPDATE procore_sub_job_projects SET company_id = COALESCE("
               "(SELECT account_id FROM connections WHERE connections.id = procore_sub_job_projects.connection_id), '')")
    with op.batch_alter_table('procore_sub_job_projects', schema=None) as batch_op:
        batch_op.alter_column('company_id', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint('uq_procore_sub_job_projects_connection_id_sub_job_id', type_='unique')
        batch_op.drop_constraint('fk_procore_sub_job_projects_connection_id_connections', type_='foreignkey')
        batch_op.drop_column('connection_id')
        batch_op.create_unique_constraint(batch_op.f('uq_procore_sub_job_projects_company_id_sub_job_id'),
                                          ['company_id', 'sub_job_id'])


def downgrade():
    with op.batch_alter_table('procore_sub_job_projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connection_id', sa.Integer(), nullable=True))
    op.execute("UPDATE procore_sub_job_projects SET connection_id = "
               "(SELECT id FROM connections WHERE connections.kind = 'procore')")
    op.execute("DELETE FROM procore_sub_job_projects WHERE connection_id IS NULL")
    with op.batch_alter_table('procore_sub_job_projects', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_procore_sub_job_projects_company_id_sub_job_id'), type_='unique')
        batch_op.alter_column('connection_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_procore_sub_job_projects_connection_id_connections'),
                                    'connections', ['connection_id'], ['id'], ondelete='CASCADE')
        batch_op.create_unique_constraint(batch_op.f('uq_procore_sub_job_projects_connection_id_sub_job_id'),
                                          ['connection_id', 'sub_job_id'])
        batch_op.drop_column('company_id')
