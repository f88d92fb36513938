"""request log: the API surface a request came in on (chat_completions, messages, responses)

Revision ID: pipeline_01_request_surface
Revises: alerts_01_alerts
Create Date: 2026-12-06 04:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'pipeline_01_request_surface'
down_revision = 'alerts_01_alerts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('surface', sa.String(length=24), nullable=True))


def downgrade():
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.drop_column('surface')
