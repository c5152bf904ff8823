"""backend feeds

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 16:42:16.413981
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


import app.store.types

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('backend_feeds',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('target', sa.String(length=64), nullable=False),
    sa.Column('cursor', sa.Text(), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_expires_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('polled_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_backend_feeds_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backend_feeds')),
    sa.UniqueConstraint('tenant_id', 'target', name=op.f('uq_backend_feeds_tenant_id_target'))
    )
    with op.batch_alter_table('backend_feeds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backend_feeds_tenant_id'), ['tenant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('backend_feeds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_backend_feeds_tenant_id'))

    op.drop_table('backend_feeds')
