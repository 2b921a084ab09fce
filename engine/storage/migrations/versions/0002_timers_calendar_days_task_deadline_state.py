"""timers, calendar days, task deadline state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 01:07:58.991329

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    
    op.create_table('calendar_day',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )
    op.create_table('timer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('spiff_task_id', sa.String(length=36), nullable=False),
    sa.Column('event', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('attached_task', sa.String(length=128), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('fired_count', sa.Integer(), nullable=False),
    sa.Column('fired_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.create_index('ix_timer_case', ['case_id'], unique=False)
        batch_op.create_index('ix_timer_waiting_due', ['state', 'due_at'], unique=False)

    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deadline_state', sa.String(length=16), nullable=False, server_default='normal'))

    


def downgrade() -> None:
    """Downgrade schema."""
    
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_column('deadline_state')

    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.drop_index('ix_timer_waiting_due')
        batch_op.drop_index('ix_timer_case')

    op.drop_table('timer')
    op.drop_table('calendar_day')
    
