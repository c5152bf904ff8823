"""The sandbox ERP's own schema. It lives beside the gateway's tables but belongs to the
sandbox: the gateway never queries it. Amounts are decimal strings (SQLite has no decimal
type), timestamps are stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UtcTimestamp(TypeDecorator[datetime]):
    """Aware UTC datetimes on every dialect (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()
JsonValue: Any = JSON()

products = Table(
    "sandbox_products",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("brand", String(100)),
    Column("status", String(16), nullable=False),
    Column("attributes", JsonValue, nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
    UniqueConstraint("dataset", "code", name="uq_sandbox_products_code"),
    Index("ix_sandbox_products_updated", "dataset", "updated_at"),
)

variants = Table(
    "sandbox_variants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(64), nullable=False),
    Column("product_code", String(64), nullable=False),
    Column("position", Integer, nullable=False),
    Column("sku", String(64), nullable=False),
    Column("barcode", String(32)),
    Column("options", JsonValue, nullable=False),
    Column("price", String(24), nullable=False),
    Column("compare_at_price", String(24)),
    Column("currency", String(3), nullable=False),
    Column("weight", Float),
    UniqueConstraint("dataset", "sku", name="uq_sandbox_variants_sku"),
    Index("ix_sandbox_variants_product", "dataset", "product_code"),
    Index("ix_sandbox_variants_barcode", "dataset", "barcode"),
)

locations = Table(
    "sandbox_locations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(64), nullable=False),
    Column("code", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    UniqueConstraint("dataset", "code", name="uq_sandbox_locations_code"),
)

stock = Table(
    "sandbox_stock",
    metadata,
    Column("dataset", String(64), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("location", String(32), primary_key=True),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
    Column("incoming", Integer, nullable=False),
    Column("safety_stock", Integer, nullable=False, default=0),
    Column("updated_at", UtcTimestamp, nullable=False),
)

customers = Table(
    "sandbox_customers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("email", String(254), nullable=False),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("phone", String(40)),
    Column("addresses", JsonValue, nullable=False),
    Column("marketing_consent", Boolean, nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
    UniqueConstraint("dataset", "code", name="uq_sandbox_customers_code"),
    Index("ix_sandbox_customers_email", "dataset", "email"),
)

sales = Table(
    "sandbox_sales",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(64), nullable=False),
    Column("number", String(64), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("channel", String(50), nullable=False),
    Column("customer_code", String(64), nullable=False),
    Column("lines", JsonValue, nullable=False),
    Column("totals", JsonValue, nullable=False),
    Column("shipping_address", JsonValue, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
    UniqueConstraint("dataset", "reference", name="uq_sandbox_sales_reference"),
)

# Every state a sale has been in, appended as it changes: the sandbox's changes feed.
sale_events = Table(
    "sandbox_sale_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(64), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("number", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("changed_at", UtcTimestamp, nullable=False),
    Index("ix_sandbox_sale_events_feed", "dataset", "id"),
)
