"""ledger entries keep the hash of their idempotent request

A reused idempotency key replays the first entry only when the request is the same (workspace, kind,
amount, note, reference); the hash is stored so the comparison happens inside the posting transaction.

Revision ID: receipts_01_request_hash
Revises: console_01_code_description
Create Date: 2026-12-06 03:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'receipts_01_request_hash'
down_revision = 'console_01_code_description'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_hash', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_column('request_hash')
