"""tenant migrations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 15:18:56.748734
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.store.types

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('tenant_migrations',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('domains', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('source', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('target', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sample_rate', sa.Double(), nullable=False),
    sa.Column('started_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('switched_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rolled_back_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tenant_migrations_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenant_migrations'))
    )
    with op.batch_alter_table('tenant_migrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tenant_migrations_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_tenant_migrations_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('migration_differences',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('migration_id', sa.String(length=40), nullable=False),
    sa.Column('domain', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('current', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('candidate', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('observed_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['migration_id'], ['tenant_migrations.id'], name=op.f('fk_migration_differences_migration_id_tenant_migrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_migration_differences')),
    sa.UniqueConstraint('migration_id', 'domain', 'subject', name=op.f('uq_migration_differences_migration_id_domain_subject'))
    )
    with op.batch_alter_table('migration_differences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_migration_differences_migration_id'), ['migration_id'], unique=False)

    op.create_table('migration_tallies',
    sa.Column('migration_id', sa.String(length=40), nullable=False),
    sa.Column('domain', sa.String(length=32), nullable=False),
    sa.Column('compared', sa.Integer(), nullable=False),
    sa.Column('equal', sa.Integer(), nullable=False),
    sa.Column('different', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['migration_id'], ['tenant_migrations.id'], name=op.f('fk_migration_tallies_migration_id_tenant_migrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('migration_id', 'domain', name=op.f('pk_migration_tallies'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_target', sa.String(length=64), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('last_target')

    op.drop_table('migration_tallies')
    with op.batch_alter_table('migration_differences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_migration_differences_migration_id'))

    op.drop_table('migration_differences')
    with op.batch_alter_table('tenant_migrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tenant_migrations_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_tenant_migrations_state'))

    op.drop_table('tenant_migrations')
