"""judge samples, score spread and overrides

Revision ID: 0003
Revises: 0002

Additive: every new column is nullable or has a server default, so existing rows stay valid.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.add_column(sa.Column('score_spread', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('judge_samples', sa.JSON(), nullable=True))
    with op.batch_alter_table('judge_score', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spread', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('decided_by', sa.String(length=20), server_default='judge', nullable=False))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('judge_score', schema=None) as batch_op:
        batch_op.drop_column('decided_by')
        batch_op.drop_column('spread')
    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.drop_column('judge_samples')
        batch_op.drop_column('score_spread')
