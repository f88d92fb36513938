"""redemption codes: a customer-visible description, apart from the staff note

A code's `note` is for staff (why it was made, for whom); `description` is what the redeeming
workspace sees on its ledger entry and in its CSV. Existing codes get no description, so their staff
notes stay with staff.

Revision ID: console_01_code_description
Revises: account_01_security
Create Date: 2026-12-06 03:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'console_01_code_description'
down_revision = 'account_01_security'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('redemption_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('redemption_codes', schema=None) as batch_op:
        batch_op.drop_column('description')
