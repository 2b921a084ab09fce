"""grid outlines with bounding boxes, the component census, a case's position and component

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 21:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Columns added, none copied: the case table keeps its rows and the keys that point at it."""
    with op.batch_alter_table('grid', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outline', sa.Text(), nullable=True))
        for name in ('min_lon', 'min_lat', 'max_lon', 'max_lat'):
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch_op.create_index('ix_grid_bbox', ['min_lon', 'min_lat'], unique=False)
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('lon', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('component_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_case_component_id', ['component_id'], unique=False)
    op.create_table(
        'component',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('category_code', sa.String(length=16), nullable=False),
        sa.Column('owner_department_code', sa.String(length=16), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('lon', sa.Float(), nullable=False),
        sa.Column('lat', sa.Float(), nullable=False),
        sa.Column('note', sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(['category_code'], ['category.code']),
        sa.ForeignKeyConstraint(['owner_department_code'], ['department.code']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    op.create_index('ix_component_position', 'component', ['lat', 'lon'], unique=False)
    op.create_table(
        'reference_version',
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('kind'),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('reference_version')
    op.drop_index('ix_component_position', table_name='component')
    op.drop_table('component')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_component_id')
        batch_op.drop_column('component_id')
        batch_op.drop_column('lon')
        batch_op.drop_column('lat')
    with op.batch_alter_table('grid', schema=None) as batch_op:
        batch_op.drop_index('ix_grid_bbox')
        for name in ('max_lat', 'max_lon', 'min_lat', 'min_lon', 'outline'):
            batch_op.drop_column(name)
