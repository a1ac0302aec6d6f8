"""initial schema

Revision ID: 0001
Revises: 

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('snippet',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=40), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('start_line', sa.Integer(), nullable=False),
    sa.Column('end_line', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('tokens', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign_id', 'content_hash')
    )
    with op.batch_alter_table('snippet', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_snippet_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_snippet_language'), ['language'], unique=False)

    op.create_table('pair',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('snippet_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=40), nullable=False),
    sa.Column('instruction', sa.Text(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('final_score', sa.Double(), nullable=True),
    sa.Column('flag_reason', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('judge_model', sa.String(length=200), nullable=True),
    sa.Column('sampling', sa.JSON(), nullable=False),
    sa.Column('templates', sa.JSON(), nullable=False),
    sa.Column('checklist_hash', sa.String(length=64), nullable=True),
    sa.Column('tokens', sa.JSON(), nullable=False),
    sa.Column('total_tokens', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Double(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ),
    sa.ForeignKeyConstraint(['snippet_id'], ['snippet.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign_id', 'snippet_id', 'language', name='uq_pair_item')
    )
    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.create_index('ix_pair_campaign_status', ['campaign_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_pair_snippet_id'), ['snippet_id'], unique=False)

    op.create_table('judge_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pair_id', sa.Integer(), nullable=False),
    sa.Column('criterion', sa.String(length=64), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('weight', sa.Double(), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['pair_id'], ['pair.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pair_id', 'criterion')
    )
    with op.batch_alter_table('judge_score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_judge_score_pair_id'), ['pair_id'], unique=False)

    op.create_table('preference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pair_id', sa.Integer(), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('chosen', sa.Text(), nullable=False),
    sa.Column('rejected', sa.Text(), nullable=False),
    sa.Column('chosen_score', sa.Double(), nullable=True),
    sa.Column('rejected_score', sa.Double(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['pair_id'], ['pair.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('preference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_preference_pair_id'), ['pair_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('preference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_preference_pair_id'))

    op.drop_table('preference')
    with op.batch_alter_table('judge_score', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_judge_score_pair_id'))

    op.drop_table('judge_score')
    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pair_snippet_id'))
        batch_op.drop_index('ix_pair_campaign_status')

    op.drop_table('pair')
    with op.batch_alter_table('snippet', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_snippet_language'))
        batch_op.drop_index(batch_op.f('ix_snippet_campaign_id'))

    op.drop_table('snippet')
    op.drop_table('campaign')
