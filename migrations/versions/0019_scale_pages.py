"""scale: indexes for the pages paged since 0015 (a tool's people by email, Procore's linked projects by name)
for the Procore activity's last processed messages, and for the ledger's holdings at the other rate type (issue 14)

Revision ID: 0019_scale_pages
Revises: 0018_ui
Create Date: 2026-12-04 23:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019_scale_pages'
down_revision = '0018_ui'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('person_links', schema=None) as batch_op:
        batch_op.create_index('ix_person_links_email', ['connection_id', 'external_email', 'id'], unique=False)
    with op.batch_alter_table('project_links', schema=None) as batch_op:
        batch_op.create_index('ix_project_links_name', ['connection_id', 'external_name', 'id'], unique=False)
    with op.batch_alter_table('sync_messages', schema=None) as batch_op:
        batch_op.create_index('ix_sync_messages_processed', ['connection_id', 'status', 'processed_at', 'id'],
                              unique=False)
    with op.batch_alter_table('financial_transactions', schema=None) as batch_op:
        batch_op.create_index('ix_financial_transactions_rate_type', ['rate_type'], unique=False)


def downgrade():
    with op.batch_alter_table('financial_transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_financial_transactions_rate_type')
    with op.batch_alter_table('sync_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_messages_processed')
    with op.batch_alter_table('project_links', schema=None) as batch_op:
        batch_op.drop_index('ix_project_links_name')
    with op.batch_alter_table('person_links', schema=None) as batch_op:
        batch_op.drop_index('ix_person_links_email')
