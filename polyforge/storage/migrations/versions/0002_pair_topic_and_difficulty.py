"""pair topic and difficulty

Revision ID: 0002
Revises: 0001

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.add_column(sa.Column('topic', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('difficulty', sa.String(length=20), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.drop_column('difficulty')
        batch_op.drop_column('topic')
