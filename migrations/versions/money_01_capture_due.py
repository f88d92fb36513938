"""captures owed by holds, and usage entries larger than their hold

* holds: `capture_due_at`, `capture_cost_micro`, `capture_usage`, `capture_pricing` record a capture that
  could not be written when the request ended; the sweep posts it exactly once. A partial index serves
  the sweep's query for them (only holds that ever owed one are in it).
* ledger_entries: `over_hold` flags a usage entry that cost more than its hold.

Revision ID: money_01_capture_due
Revises: 0002
Create Date: 2026-12-06 03:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'money_01_capture_due'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('capture_due_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('capture_cost_micro', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('capture_usage', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('capture_pricing', sa.JSON(), nullable=True))
        batch_op.create_index('ix_holds_capture_due', ['capture_due_at'], unique=False,
                              sqlite_where=sa.text('capture_due_at IS NOT NULL'),
                              postgresql_where=sa.text('capture_due_at IS NOT NULL'))

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('over_hold', sa.Boolean(), server_default=sa.text('false'), nullable=False))


def downgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_column('over_hold')

    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.drop_index('ix_holds_capture_due', sqlite_where=sa.text('capture_due_at IS NOT NULL'),
                            postgresql_where=sa.text('capture_due_at IS NOT NULL'))
        batch_op.drop_column('capture_pricing')
        batch_op.drop_column('capture_usage')
        batch_op.drop_column('capture_cost_micro')
        batch_op.drop_column('capture_due_at')
