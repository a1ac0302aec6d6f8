"""instruction source ids and preference kinds

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 01:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('snippet') as batch:
        batch.add_column(sa.Column('source_id', sa.Text(), nullable=True))
    # Preferences stored before kinds existed rest on the judge's scores (or an annotator's correction).
    with op.batch_alter_table('preference') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=16), server_default='judge', nullable=False))
    op.execute("UPDATE preference SET kind = 'annotator' WHERE revision_id IS NOT NULL")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('preference') as batch:
        batch.drop_column('kind')
    with op.batch_alter_table('snippet') as batch:
        batch.drop_column('source_id')
