"""shared review: assignments, adjudications, annotators' criterion scores, revisions of pairs and the
preferences they make

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 09:45:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pair_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pair_id'], ['pair.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pair_id', 'user_id', name='uq_assignment_pair_user')
    )
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignment_pair_id'), ['pair_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignment_user_id'), ['user_id'], unique=False)

    op.create_table('pair_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pair_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=100), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pair_id'], ['pair.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name='fk_pair_revision_user_id_app_user'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pair_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pair_revision_pair_id'), ['pair_id'], unique=False)

    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.add_column(sa.Column('adjudication', sa.Boolean(), server_default=sa.false(), nullable=False))

    op.create_table('review_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('criterion', sa.String(length=64), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['review.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('review_id', 'criterion', name='uq_review_score_criterion')
    )
    with op.batch_alter_table('review_score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_score_review_id'), ['review_id'], unique=False)

    with op.batch_alter_table('preference', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_preference_revision_id_pair_revision', 'pair_revision', ['revision_id'],
                                    ['id'])


def downgrade() -> None:
    with op.batch_alter_table('preference', schema=None) as batch_op:
        batch_op.drop_constraint('fk_preference_revision_id_pair_revision', type_='foreignkey')
        batch_op.drop_column('revision_id')

    with op.batch_alter_table('review_score', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_score_review_id'))
    op.drop_table('review_score')

    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.drop_column('adjudication')

    with op.batch_alter_table('pair_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pair_revision_pair_id'))
    op.drop_table('pair_revision')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignment_user_id'))
        batch_op.drop_index(batch_op.f('ix_assignment_pair_id'))
    op.drop_table('assignment')
