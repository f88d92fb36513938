"""hot path indexes

Every /v1 request writes a hold, a ledger entry and a request-log row, so each index on those tables costs
a page write per request. Indexes no query reads go, and two become narrower:
* holds: `status` and `expires_at` give way to one partial index on the expiry of pending holds (the sweep's
  query; a resolved hold leaves it);
* ledger_entries: `workspace_id` and `created_at` become one (workspace_id, created_at) index, the way a
  workspace's ledger is read;
* request_logs: `created_at` alone is read by no query (every one filters by workspace, key, model or ID).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:27:32.921644

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_holds_expires_at'))
        batch_op.drop_index(batch_op.f('ix_holds_status'))
        batch_op.create_index('ix_holds_pending_expiry', ['expires_at'], unique=False, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_created_at'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_workspace_id'))
        batch_op.create_index('ix_ledger_entries_workspace_created', ['workspace_id', 'created_at'], unique=False)

    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_logs_created_at'))



def downgrade():
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_logs_created_at'), ['created_at'], unique=False)

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_workspace_created')
        batch_op.create_index(batch_op.f('ix_ledger_entries_workspace_id'), ['workspace_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_created_at'), ['created_at'], unique=False)

    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.drop_index('ix_holds_pending_expiry', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.create_index(batch_op.f('ix_holds_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_holds_expires_at'), ['expires_at'], unique=False)

