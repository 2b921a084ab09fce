"""a credential version per user (logout and a new password end old sessions), failed logins counted

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 10:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema: existing users start at version 0."""
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credential_version', sa.Integer(), nullable=False, server_default='0'))
    op.create_table(
        'login_failure',
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('window_start', sa.DateTime(), nullable=False),
        sa.Column('locked_until', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('login_failure')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('credential_version')
