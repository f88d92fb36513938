"""price windows on weekdays, minus a holiday calendar's holidays, plus its make-up working days

Revision ID: receipts_02_price_window_days
Revises: receipts_01_request_hash
Create Date: 2026-12-06 03:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'receipts_02_price_window_days'
down_revision = 'receipts_01_request_hash'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('holiday_calendars',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('covers', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holiday_calendars'))
    )
    op.create_table('calendar_days',
    sa.Column('calendar_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['calendar_id'], ['holiday_calendars.id'], name=op.f('fk_calendar_days_calendar_id_holiday_calendars'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('calendar_id', 'day', name=op.f('pk_calendar_days'))
    )
    with op.batch_alter_table('prices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('window_days', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('window_calendar', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('prices', schema=None) as batch_op:
        batch_op.drop_column('window_calendar')
        batch_op.drop_column('window_days')
    op.drop_table('calendar_days')
    op.drop_table('holiday_calendars')
