"""executions: sandbox verdicts of candidate answers under generated tests

Revision ID: 0004
Revises: 0003

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'execution',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pair_id', sa.Integer(), nullable=False),
        sa.Column('candidate', sa.Integer(), nullable=False),
        sa.Column('chosen', sa.Boolean(), nullable=False),
        sa.Column('language', sa.String(length=40), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('exit_code', sa.Integer(), nullable=True),
        sa.Column('stdout', sa.Text(), nullable=False),
        sa.Column('stderr', sa.Text(), nullable=False),
        sa.Column('seconds', sa.Double(), nullable=False),
        sa.Column('flaky', sa.Boolean(), nullable=False),
        sa.Column('tests', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['pair_id'], ['pair.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('execution', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_execution_pair_id'), ['pair_id'], unique=False)
    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.add_column(sa.Column('execution_status', sa.String(length=20), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.drop_column('execution_status')
    with op.batch_alter_table('execution', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_execution_pair_id'))
    op.drop_table('execution')
