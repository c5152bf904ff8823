"""migration drift and dropped comparisons

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 17:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.store.types

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('migration_writes',
    sa.Column('migration_id', sa.String(length=40), nullable=False),
    sa.Column('domain', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('written_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['migration_id'], ['tenant_migrations.id'], name=op.f('fk_migration_writes_migration_id_tenant_migrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('migration_id', 'domain', 'subject', name=op.f('pk_migration_writes'))
    )
    with op.batch_alter_table('migration_tallies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timed_out', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('dropped', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('migration_tallies', schema=None) as batch_op:
        batch_op.drop_column('dropped')
        batch_op.drop_column('timed_out')

    op.drop_table('migration_writes')
