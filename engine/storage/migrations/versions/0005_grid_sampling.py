"""monthly grid sampling and inspections

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 04:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    
    op.create_table('sampling_draw',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('seed', sa.String(length=20), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('population', sa.JSON(), nullable=False),
    sa.Column('grids', sa.JSON(), nullable=False),
    sa.Column('drawn_by', sa.String(length=64), nullable=False),
    sa.Column('drawn_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('month', name='uq_sampling_draw_month')
    )
    op.create_table('grid_inspection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draw_id', sa.Integer(), nullable=False),
    sa.Column('grid_code', sa.String(length=16), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('problems', sa.Integer(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('inspected_by', sa.String(length=64), nullable=False),
    sa.Column('inspected_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['draw_id'], ['sampling_draw.id'], ),
    sa.ForeignKeyConstraint(['grid_code'], ['grid.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('draw_id', 'grid_code', name='uq_grid_inspection_draw_grid')
    )
    op.create_table('grid_inspection_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['grid_inspection.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('grid_inspection_photo', schema=None) as batch_op:
        batch_op.create_index('ix_grid_inspection_photo_inspection', ['inspection_id'], unique=False)

    


def downgrade() -> None:
    """Downgrade schema."""
    
    with op.batch_alter_table('grid_inspection_photo', schema=None) as batch_op:
        batch_op.drop_index('ix_grid_inspection_photo_inspection')

    op.drop_table('grid_inspection_photo')
    op.drop_table('grid_inspection')
    op.drop_table('sampling_draw')
    
