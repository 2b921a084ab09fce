"""audit events carry what the assessment counts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 04:10:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('department_code', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('deadline_state', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('working_seconds', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('overdue_seconds', sa.Integer(), nullable=True))
        batch_op.create_index(
            'ix_audit_assessment',
            ['action', 'at', 'department_code', 'outcome', 'deadline_state', 'overdue_seconds', 'working_seconds',
             'case_id', 'actor'],
            unique=False,
        )
        batch_op.create_index('ix_audit_outcome_case', ['outcome', 'case_id', 'department_code', 'at'], unique=False)
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.create_index('ix_case_id_grid', ['id', 'grid_code'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_id_grid')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_outcome_case')
        batch_op.drop_index('ix_audit_assessment')
        batch_op.drop_column('overdue_seconds')
        batch_op.drop_column('working_seconds')
        batch_op.drop_column('deadline_state')
        batch_op.drop_column('outcome')
        batch_op.drop_column('department_code')
