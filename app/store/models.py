"""The gateway's own tables: tenants, clients, signing keys, backend bindings, orders, order
events, the outbox, idempotency records, and the stock the gateway holds (reservations, holds,
channel availability rules and their counters).

Tenant data inherits `TenantScoped`; the session factory in `app.store.database` filters every
query of those tables by the session's tenant, so isolation does not depend on each query
remembering it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.store.types import JSONType, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


class TenantScoped:
    """Marks a table whose rows belong to one tenant."""

    tenant_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Tenant(Timestamps, Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    channels: Mapped[list[Any]] = mapped_column(default=list)
    # Quota overrides over the defaults (app.quotas.policy); None: the defaults.
    quotas: Mapped[dict[str, Any] | None] = mapped_column(default=None)


class Client(Timestamps, Base):
    """An OAuth client. Channel clients belong to a tenant; operator clients (scope `admin`)
    belong to none. Only a salted hash of the secret is kept."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # channel | operator
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    secret_hash: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="active")
    secret_rotated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SigningKey(Base):
    """A token signing key. The private half is encrypted with the master key; retired keys
    stay published in the JWKS until every token they signed has expired."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column()
    private_jwk_encrypted: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | retired
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


class BackendBinding(TenantScoped, Timestamps, Base):
    """Which adapter serves one domain of a tenant, with its settings. Secrets are stored
    encrypted and never returned."""

    __tablename__ = "backend_bindings"
    __table_args__ = (UniqueConstraint("tenant_id", "domain"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    domain: Mapped[str] = mapped_column(String(32))  # catalog | inventory | orders | customers
    adapter: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secrets_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)


class OrderRow(TenantScoped, Timestamps, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel", "external_reference"),
        Index("ix_orders_tenant_status", "tenant_id", "status"),
        Index("ix_orders_tenant_updated", "tenant_id", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(50))
    external_reference: Mapped[str] = mapped_column(String(100))
    customer: Mapped[dict[str, Any]] = mapped_column()
    lines: Mapped[list[Any]] = mapped_column()
    shipping_address: Mapped[dict[str, Any]] = mapped_column()
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    totals: Mapped[dict[str, Any]] = mapped_column()
    reservation_id: Mapped[str | None] = mapped_column(String(140), default=None)
    placed_at: Mapped[datetime] = mapped_column()
    backend: Mapped[str | None] = mapped_column(String(64), default=None)
    backend_reference: Mapped[str | None] = mapped_column(String(200), default=None)
    external_ids: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dead_lettered: Mapped[bool] = mapped_column(Boolean, default=False)
    correlation_id: Mapped[str] = mapped_column(String(128))
    event_count: Mapped[int] = mapped_column(Integer, default=0)


class OrderEventRow(TenantScoped, Base):
    __tablename__ = "order_events"
    __table_args__ = (UniqueConstraint("order_id", "sequence"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40), ForeignKey("orders.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    # Never loaded (lazy="raise"); declared so one flush inserts an order before its events.
    order: Mapped[OrderRow] = relationship(lazy="raise", passive_deletes=True)
    type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    previous_status: Mapped[str | None] = mapped_column(String(32), default=None)
    cause: Mapped[str] = mapped_column(String(16))
    correlation_id: Mapped[str] = mapped_column(String(128))
    backend_reference: Mapped[str | None] = mapped_column(String(200), default=None)
    detail: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEntry(TenantScoped, Timestamps, Base):
    """A delivery owed to a backend. Claimed by a worker with a lease that lapses when the
    worker dies, so another worker picks it up; `done_at` set once delivered."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "available_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # order.submit
    subject_id: Mapped[str] = mapped_column(String(40), index=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    correlation_id: Mapped[str] = mapped_column(String(128))
    done_at: Mapped[datetime | None] = mapped_column(default=None)
    # Which backend configuration the last attempt went to, so a retry after a cut-over can
    # first ask that backend whether the order already arrived there.
    last_target: Mapped[str | None] = mapped_column(String(64), default=None)


class IdempotencyRecord(TenantScoped, Base):
    """The first response to an `Idempotency-Key`, scoped by tenant and client."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("tenant_id", "client_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="in_flight")  # in_flight | completed
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    locked_until: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class TenantMigration(TenantScoped, Base):
    """A tenant moving from its current backend to a candidate. While `shadowing`, reads are
    also sent to the candidate and compared; `switching` pauses order delivery for the switch;
    `cut_over` and `rolled_back` are final (a rollback may follow a cut-over)."""

    __tablename__ = "tenant_migrations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    domains: Mapped[list[Any]] = mapped_column()
    # Per domain: {"adapter", "settings", "secrets_encrypted"}; the candidate: one of those.
    source: Mapped[dict[str, Any]] = mapped_column()
    target: Mapped[dict[str, Any]] = mapped_column()
    sample_rate: Mapped[float] = mapped_column(default=1.0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    switched_at: Mapped[datetime | None] = mapped_column(default=None)
    rolled_back_at: Mapped[datetime | None] = mapped_column(default=None)


class MigrationTally(Base):
    """Shadow-read counts per migration and domain, incremented atomically by every replica.
    Every count is of comparisons: one subject (a product, a level, a customer) of one read."""

    __tablename__ = "migration_tallies"

    migration_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("tenant_migrations.id", ondelete="CASCADE"), primary_key=True
    )
    domain: Mapped[str] = mapped_column(String(32), primary_key=True)
    compared: Mapped[int] = mapped_column(Integer, default=0)
    equal: Mapped[int] = mapped_column(Integer, default=0)
    different: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    timed_out: Mapped[int] = mapped_column(Integer, default=0)  # of `failed`
    dropped: Mapped[int] = mapped_column(Integer, default=0)  # not attempted: backlog full


class MigrationWrite(Base):
    """A subject the gateway wrote to the current backend while the migration shadowed it (a
    customer created or changed, the customer and SKUs of an order posted): the candidate did
    not get that write, so a difference in those fields is drift, not a standing difference.
    `fields` are top-level field names, or ["*"] for all of them."""

    __tablename__ = "migration_writes"

    migration_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("tenant_migrations.id", ondelete="CASCADE"), primary_key=True
    )
    domain: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    fields: Mapped[list[Any]] = mapped_column()
    written_at: Mapped[datetime] = mapped_column(default=utcnow)


class MigrationDifference(Base):
    """The last observed difference of one subject between the current backend and the
    candidate: the differing field paths, and their values only where they are not personal
    data (see app.tenancy.shadow). Recorded up to a cap per domain."""

    __tablename__ = "migration_differences"
    __table_args__ = (UniqueConstraint("migration_id", "domain", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    migration_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("tenant_migrations.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    fields: Mapped[list[Any]] = mapped_column()
    current: Mapped[dict[str, Any]] = mapped_column()
    candidate: Mapped[dict[str, Any]] = mapped_column()
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)


class BackendFeed(TenantScoped, Base):
    """Where the gateway is in a backend's feed of order changes, per tenant and backend, and
    which worker is reading it now (a lease, like the outbox's)."""

    __tablename__ = "backend_feeds"
    __table_args__ = (UniqueConstraint("tenant_id", "target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(64))
    cursor: Mapped[str | None] = mapped_column(Text, default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    polled_at: Mapped[datetime | None] = mapped_column(default=None)


class AvailabilityRuleRow(TenantScoped, Timestamps, Base):
    """How much stock one channel of a tenant is shown (see app.inventory.availability)."""

    __tablename__ = "availability_rules"
    __table_args__ = (UniqueConstraint("tenant_id", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(50))
    # The allocation share in basis points (0-10000): exact, unlike a float.
    allocation_bp: Mapped[int] = mapped_column(Integer, default=10_000)
    reserve_threshold: Mapped[int] = mapped_column(Integer, default=0)
    safety_stock: Mapped[int] = mapped_column(Integer, default=0)
    excluded_locations: Mapped[list[Any]] = mapped_column(default=list)


class ReservationRow(TenantScoped, Timestamps, Base):
    """Stock held for a checkout. Its holds count while it is `active` and not past
    `expires_at`; released, consumed (by the order citing it) and expired ones hold nothing."""

    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_status_expires", "status", "expires_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(16))
    lines: Mapped[list[Any]] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    order_id: Mapped[str | None] = mapped_column(String(40), default=None)
    correlation_id: Mapped[str] = mapped_column(String(128))


class StockHold(TenantScoped, Base):
    """A quantity of a SKU (at a location, or none) the gateway holds for a reservation or for
    an order the backend has not confirmed yet. Whether it counts follows from its owner's
    state, so no status change can forget to release it."""

    __tablename__ = "stock_holds"
    __table_args__ = (Index("ix_stock_holds_tenant_sku", "tenant_id", "sku"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str | None] = mapped_column(String(64), default=None)
    quantity: Mapped[int] = mapped_column(Integer)
    reservation_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("reservations.id", ondelete="CASCADE"), default=None, index=True
    )
    order_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("orders.id", ondelete="CASCADE"), default=None, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Never loaded (lazy="raise"); declared so one flush inserts the owner before its holds.
    reservation: Mapped[ReservationRow | None] = relationship(lazy="raise", passive_deletes=True)
    order: Mapped[OrderRow | None] = relationship(lazy="raise", passive_deletes=True)


class InventoryCounter(TenantScoped, Base):
    """Running counts of reservation outcomes and oversold orders, per tenant and channel."""

    __tablename__ = "inventory_counters"
    __table_args__ = (UniqueConstraint("tenant_id", "channel", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(40))
    value: Mapped[int] = mapped_column(Integer, default=0)
