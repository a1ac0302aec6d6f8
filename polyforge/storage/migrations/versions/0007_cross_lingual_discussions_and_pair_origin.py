"""cross-lingual discussions and pair origin

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 19:52:50.334746

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('discussion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('proposer_language', sa.String(length=40), nullable=False),
    sa.Column('peer_languages', sa.JSON(), nullable=False),
    sa.Column('rounds', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('discussion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_discussion_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('discussion_turn',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('discussion_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('template_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['discussion_id'], ['discussion.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('discussion_id', 'position')
    )
    with op.batch_alter_table('discussion_turn', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_discussion_turn_discussion_id'), ['discussion_id'], unique=False)

    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=16), server_default='single', nullable=False))
        batch_op.add_column(sa.Column('discussion_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_pair_discussion_id'), ['discussion_id'], unique=False)
        batch_op.create_foreign_key('fk_pair_discussion_id', 'discussion', ['discussion_id'], ['id'])



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.drop_constraint('fk_pair_discussion_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_pair_discussion_id'))
        batch_op.drop_column('discussion_id')
        batch_op.drop_column('origin')

    with op.batch_alter_table('discussion_turn', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_discussion_turn_discussion_id'))

    op.drop_table('discussion_turn')
    with op.batch_alter_table('discussion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_discussion_campaign_id'))

    op.drop_table('discussion')
