"""a case of any process: category, grid, zone and address optional

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 04:15:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.alter_column('category_code', existing_type=sa.String(length=16), nullable=True)
        batch_op.alter_column('grid_code', existing_type=sa.String(length=16), nullable=True)
        batch_op.alter_column('zone_code', existing_type=sa.String(length=8), nullable=True)
        batch_op.alter_column('address', existing_type=sa.String(length=256), nullable=True)


def downgrade() -> None:
    """Downgrade schema: only possible while every case has a category, grid, zone and address."""
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.alter_column('address', existing_type=sa.String(length=256), nullable=False)
        batch_op.alter_column('zone_code', existing_type=sa.String(length=8), nullable=False)
        batch_op.alter_column('grid_code', existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column('category_code', existing_type=sa.String(length=16), nullable=False)
