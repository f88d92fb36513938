"""api_keys.purpose: marks the workspace's Playground key

Revision ID: daily_02_key_purpose
Revises: daily_01_incidents
Create Date: 2026-12-06 04:15:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'daily_02_key_purpose'
down_revision = 'daily_01_incidents'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purpose', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('purpose')
