"""The sandbox ERP behind the backend port.

It behaves like a small, well-mannered ERP: sales are accepted at once and reserve their stock
at the distribution centre, a repeated post with the same reference returns the existing sale,
unknown SKUs and customers are business rejections. One instance serves one data set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters._demo import demo_dataset
from adapters.sandbox import tables
from adapters.sandbox.sales import SalesPart
from adapters.sandbox.seed import seed_dataset
from contracts.backend import (
    CustomerChanges,
    CustomerDraft,
    CustomerQuery,
    CustomerRecord,
    LocationRecord,
    ProductQuery,
    ProductRecord,
    RecordPage,
    StockQuery,
    StockRecord,
)
from contracts.errors import BackendAuthError, BackendUnavailable
from contracts.v1 import Address, Money, Variant

NAME = "sandbox"


def _address(data: dict[str, Any]) -> Address:
    return msgspec.convert({k: v for k, v in data.items() if v is not None}, Address)


class SandboxBackend(SalesPart):
    """All four domains of one sandbox data set. `write_engine` is the same database as
    `engine`, configured for writes (the composition root decides how)."""

    name = NAME

    def __init__(self, engine: AsyncEngine, write_engine: AsyncEngine, dataset: str) -> None:
        self._engine = engine
        self._write_engine = write_engine
        self._dataset = dataset
        self._provision_lock = asyncio.Lock()
        self._schema_ready = False

    # -- lifecycle -------------------------------------------------------------------------
    async def check(self) -> None:
        """The sandbox's "log in": its database answers and this data set has been set up (a
        binding to a data set nobody seeded would serve an empty shop)."""
        try:
            await self._ensure_schema()
            async with self._engine.connect() as conn:
                seeded = await conn.scalar(
                    select(tables.locations.c.dataset)
                    .where(tables.locations.c.dataset == self._dataset)
                    .limit(1)
                )
        except (SQLAlchemyError, OSError) as error:
            raise BackendUnavailable(str(error), backend=NAME) from error
        if seeded is None:
            raise BackendAuthError(
                f"the sandbox has no data set {self._dataset!r}: it was never set up",
                backend=NAME,
                vendor_code="unknown-dataset",
            )

    async def aclose(self) -> None:
        return None

    async def _ensure_schema(self) -> None:
        """The sandbox's tables exist (a database from an older version may lack new ones)."""
        if not self._schema_ready:
            async with self._provision_lock:
                if not self._schema_ready:
                    async with self._write_engine.begin() as conn:
                        await conn.run_sync(tables.metadata.create_all, checkfirst=True)
                    self._schema_ready = True

    async def provision(self) -> None:
        """Create the sandbox tables and seed this data set, once."""
        await self._ensure_schema()
        async with self._provision_lock, self._write_engine.begin() as conn:
            seeded = await conn.scalar(
                select(func.count())
                .select_from(tables.locations)
                .where(tables.locations.c.dataset == self._dataset)
            )
            if not seeded:
                await seed_dataset(conn, self._dataset, demo_dataset())

    # -- catalog ---------------------------------------------------------------------------
    async def list_products(self, query: ProductQuery) -> RecordPage[ProductRecord]:
        p = tables.products
        stmt = select(p).where(p.c.dataset == self._dataset)
        if query.status:
            stmt = stmt.where(p.c.status == query.status)
        if query.updated_since:
            stmt = stmt.where(p.c.updated_at >= query.updated_since)
        if query.sku or query.barcode:
            v = tables.variants
            match = select(v.c.product_code).where(v.c.dataset == self._dataset)
            if query.sku:
                match = match.where(v.c.sku == query.sku)
            if query.barcode:
                match = match.where(v.c.barcode == query.barcode)
            stmt = stmt.where(p.c.code.in_(match))
        if query.cursor:
            stmt = stmt.where(p.c.code > query.cursor)
        stmt = stmt.order_by(p.c.code).limit(query.limit + 1)
        async with self._engine.connect() as conn:
            rows = list((await conn.execute(stmt)).mappings())
            page, more = rows[: query.limit], len(rows) > query.limit
            records = await self._products(conn, page)
        return RecordPage(items=records, next_cursor=page[-1]["code"] if more else None)

    async def get_product(self, key: str) -> ProductRecord | None:
        p = tables.products
        async with self._engine.connect() as conn:
            rows = list(
                (
                    await conn.execute(
                        select(p).where(and_(p.c.dataset == self._dataset, p.c.code == key))
                    )
                ).mappings()
            )
            records = await self._products(conn, rows)
        return records[0] if records else None

    async def find_skus(self, skus: Sequence[str]) -> set[str]:
        v = tables.variants
        async with self._engine.connect() as conn:
            found = await conn.scalars(
                select(v.c.sku).where(and_(v.c.dataset == self._dataset, v.c.sku.in_(list(skus))))
            )
            return set(found)

    async def _products(self, conn: AsyncConnection, rows: list[Any]) -> list[ProductRecord]:
        if not rows:
            return []
        v = tables.variants
        variant_rows = (
            await conn.execute(
                select(v)
                .where(
                    and_(
                        v.c.dataset == self._dataset,
                        v.c.product_code.in_([r["code"] for r in rows]),
                    )
                )
                .order_by(v.c.product_code, v.c.position)
            )
        ).mappings()
        by_product: dict[str, list[Variant]] = {}
        for row in variant_rows:
            by_product.setdefault(row["product_code"], []).append(
                Variant(
                    sku=row["sku"],
                    barcode=row["barcode"],
                    options=dict(row["options"]),
                    price=Money.of(Decimal(row["price"]), row["currency"]),
                    compare_at_price=Money.of(Decimal(row["compare_at_price"]), row["currency"])
                    if row["compare_at_price"]
                    else None,
                    weight=row["weight"],
                    external_ids={NAME: str(row["id"])},
                )
            )
        return [
            ProductRecord(
                key=row["code"],
                title=row["title"],
                description=row["description"],
                brand=row["brand"],
                status=row["status"],
                attributes=dict(row["attributes"]),
                variants=by_product.get(row["code"], []),
                external_ids={NAME: str(row["id"])},
                updated_at=row["updated_at"],
            )
            for row in rows
        ]

    # -- inventory -------------------------------------------------------------------------
    async def list_locations(self) -> list[LocationRecord]:
        loc = tables.locations
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(loc).where(loc.c.dataset == self._dataset).order_by(loc.c.code)
                )
            ).mappings()
            return [
                LocationRecord(
                    id=r["code"], name=r["name"], kind=r["kind"], external_ids={NAME: str(r["id"])}
                )
                for r in rows
            ]

    async def list_stock(self, query: StockQuery) -> RecordPage[StockRecord]:
        s = tables.stock
        stmt = select(s).where(s.c.dataset == self._dataset)
        if query.skus:
            stmt = stmt.where(s.c.sku.in_(query.skus))
        if query.location_ids:
            stmt = stmt.where(s.c.location.in_(query.location_ids))
        if query.updated_since:
            stmt = stmt.where(s.c.updated_at >= query.updated_since)
        if query.cursor:
            sku, _, location = query.cursor.partition("\x1f")
            stmt = stmt.where((s.c.sku > sku) | and_(s.c.sku == sku, s.c.location > location))
        stmt = stmt.order_by(s.c.sku, s.c.location).limit(query.limit + 1)
        async with self._engine.connect() as conn:
            rows = list((await conn.execute(stmt)).mappings())
        page, more = rows[: query.limit], len(rows) > query.limit
        items = [
            StockRecord(
                sku=r["sku"],
                location_id=r["location"],
                on_hand=r["on_hand"],
                reserved=r["reserved"],
                incoming=r["incoming"],
                safety_stock=r["safety_stock"],
                updated_at=r["updated_at"],
            )
            for r in page
        ]
        cursor = f"{page[-1]['sku']}\x1f{page[-1]['location']}" if more else None
        return RecordPage(items=items, next_cursor=cursor)

    # -- customers -------------------------------------------------------------------------
    async def list_customers(self, query: CustomerQuery) -> RecordPage[CustomerRecord]:
        c = tables.customers
        stmt = select(c).where(c.c.dataset == self._dataset)
        if query.email:
            stmt = stmt.where(func.lower(c.c.email) == query.email.lower())
        if query.phone:
            stmt = stmt.where(c.c.phone == query.phone)
        if query.updated_since:
            stmt = stmt.where(c.c.updated_at >= query.updated_since)
        if query.cursor:
            stmt = stmt.where(c.c.code > query.cursor)
        stmt = stmt.order_by(c.c.code).limit(query.limit + 1)
        async with self._engine.connect() as conn:
            rows = list((await conn.execute(stmt)).mappings())
        page, more = rows[: query.limit], len(rows) > query.limit
        return RecordPage(
            items=[self._customer(r) for r in page], next_cursor=page[-1]["code"] if more else None
        )

    async def get_customer(self, key: str) -> CustomerRecord | None:
        async with self._engine.connect() as conn:
            row = await self._customer_row(conn, key)
        return self._customer(row) if row else None

    async def create_customer(self, draft: CustomerDraft) -> CustomerRecord:
        now = datetime.now(UTC)
        values = {
            "dataset": self._dataset,
            "code": draft.key,
            "email": draft.email,
            "first_name": draft.first_name,
            "last_name": draft.last_name,
            "phone": draft.phone,
            "addresses": msgspec.to_builtins(draft.addresses),
            "marketing_consent": draft.marketing_consent,
            "created_at": now,
            "updated_at": now,
        }
        try:
            async with self._write_engine.begin() as conn:
                await conn.execute(insert(tables.customers).values(values))
        except IntegrityError:
            pass  # the same key was created before: idempotent, return what is there
        existing = await self.get_customer(draft.key)
        assert existing is not None
        return existing

    async def update_customer(self, key: str, changes: CustomerChanges) -> CustomerRecord | None:
        values: dict[str, Any] = {
            field: msgspec.to_builtins(value)
            for field in changes.__struct_fields__
            if (value := getattr(changes, field)) is not msgspec.UNSET
        }
        c = tables.customers
        async with self._write_engine.begin() as conn:
            if values:
                values["updated_at"] = datetime.now(UTC)
                await conn.execute(
                    update(c)
                    .where(and_(c.c.dataset == self._dataset, c.c.code == key))
                    .values(values)
                )
            row = await self._customer_row(conn, key)
        return self._customer(row) if row else None

    async def _customer_row(self, conn: AsyncConnection, key: str) -> Any:
        c = tables.customers
        result = await conn.execute(
            select(c).where(and_(c.c.dataset == self._dataset, c.c.code == key))
        )
        return result.mappings().first()

    def _customer(self, row: Any) -> CustomerRecord:
        return CustomerRecord(
            key=row["code"],
            email=row["email"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            phone=row["phone"],
            addresses=[_address(a) for a in row["addresses"]],
            marketing_consent=bool(row["marketing_consent"]),
            external_ids={NAME: str(row["id"])},
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
