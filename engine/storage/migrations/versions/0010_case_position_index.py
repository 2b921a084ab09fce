"""an index on a case's position, for the open cases in a map's bounding box (一张图)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 21:45:00

"""
from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """An index only: no table is rebuilt."""
    op.create_index('ix_case_position', 'case', ['lat', 'lon'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_position', table_name='case')
