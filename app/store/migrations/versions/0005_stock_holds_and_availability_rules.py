"""stock holds and availability rules

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 17:28:14.738627
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.store.types

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('availability_rules',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=50), nullable=False),
    sa.Column('allocation_bp', sa.Integer(), nullable=False),
    sa.Column('reserve_threshold', sa.Integer(), nullable=False),
    sa.Column('safety_stock', sa.Integer(), nullable=False),
    sa.Column('excluded_locations', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_availability_rules_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_availability_rules')),
    sa.UniqueConstraint('tenant_id', 'channel', name=op.f('uq_availability_rules_tenant_id_channel'))
    )
    with op.batch_alter_table('availability_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_availability_rules_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('inventory_counters',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_inventory_counters_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_counters')),
    sa.UniqueConstraint('tenant_id', 'channel', 'name', name=op.f('uq_inventory_counters_tenant_id_channel_name'))
    )
    with op.batch_alter_table('inventory_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inventory_counters_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('reservations',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=50), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('lines', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('expires_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=True),
    sa.Column('correlation_id', sa.String(length=128), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_reservations_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservations'))
    )
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index('ix_reservations_status_expires', ['status', 'expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reservations_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('stock_holds',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('location_id', sa.String(length=64), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('reservation_id', sa.String(length=40), nullable=True),
    sa.Column('order_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_stock_holds_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reservation_id'], ['reservations.id'], name=op.f('fk_stock_holds_reservation_id_reservations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_stock_holds_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_holds'))
    )
    with op.batch_alter_table('stock_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_holds_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_holds_reservation_id'), ['reservation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_holds_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_stock_holds_tenant_sku', ['tenant_id', 'sku'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('stock_holds', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_holds_tenant_sku')
        batch_op.drop_index(batch_op.f('ix_stock_holds_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_stock_holds_reservation_id'))
        batch_op.drop_index(batch_op.f('ix_stock_holds_order_id'))

    op.drop_table('stock_holds')
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reservations_tenant_id'))
        batch_op.drop_index('ix_reservations_status_expires')

    op.drop_table('reservations')
    with op.batch_alter_table('inventory_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inventory_counters_tenant_id'))

    op.drop_table('inventory_counters')
    with op.batch_alter_table('availability_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_availability_rules_tenant_id'))

    op.drop_table('availability_rules')
