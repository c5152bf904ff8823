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
    SaleReceipt,
    SaleRequest,
    StockQuery,
    StockRecord,
)
from contracts.errors import BackendUnavailable, BusinessRejection
from contracts.v1 import Address, Money, Variant

NAME = "sandbox"


def _address(data: dict[str, Any]) -> Address:
    return msgspec.convert({k: v for k, v in data.items() if v is not None}, Address)


class SandboxBackend:
    """All four domains of one sandbox data set. `write_engine` is the same database as
    `engine`, configured for writes (the composition root decides how)."""

    name = NAME

    def __init__(self, engine: AsyncEngine, write_engine: AsyncEngine, dataset: str) -> None:
        self._engine = engine
        self._write_engine = write_engine
        self._dataset = dataset
        self._provision_lock = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------------------------
    async def check(self) -> None:
        try:
            async with self._engine.connect() as conn:
                await conn.execute(select(1))
        except (SQLAlchemyError, OSError) as error:
            raise BackendUnavailable(str(error), backend=NAME) from error

    async def aclose(self) -> None:
        return None

    async def provision(self) -> None:
        """Create the sandbox tables and seed this data set, once."""
        async with self._provision_lock:
            async with self._write_engine.begin() as conn:
                await conn.run_sync(tables.metadata.create_all, checkfirst=True)
            async with self._write_engine.begin() as conn:
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

    # -- orders ----------------------------------------------------------------------------
    async def submit_order(self, sale: SaleRequest) -> SaleReceipt:
        existing = await self.get_order(sale.reference)
        if existing is not None:
            return SaleReceipt(
                reference=existing.reference,
                backend_reference=existing.backend_reference,
                status=existing.status,
                external_ids=existing.external_ids,
                created=False,
            )
        try:
            async with self._write_engine.begin() as conn:
                receipt = await self._create_sale(conn, sale)
        except IntegrityError:
            # A concurrent post of the same reference won; answer with its sale.
            found = await self.get_order(sale.reference)
            if found is None:
                raise
            return SaleReceipt(
                reference=found.reference,
                backend_reference=found.backend_reference,
                status=found.status,
                external_ids=found.external_ids,
                created=False,
            )
        return receipt

    async def _create_sale(self, conn: AsyncConnection, sale: SaleRequest) -> SaleReceipt:
        if await self._customer_row(conn, sale.customer_key) is None:
            raise BusinessRejection(
                "unknown customer",
                reasons=[f"customer {sale.customer_key} does not exist"],
                backend=NAME,
            )
        v = tables.variants
        skus = sorted({line.sku for line in sale.lines})
        known = set(
            (
                await conn.execute(
                    select(v.c.sku).where(and_(v.c.dataset == self._dataset, v.c.sku.in_(skus)))
                )
            ).scalars()
        )
        unknown = [sku for sku in skus if sku not in known]
        if unknown:
            raise BusinessRejection(
                "unknown products",
                reasons=[f"SKU {sku} is not sold" for sku in unknown],
                backend=NAME,
            )
        now = datetime.now(UTC)
        result = await conn.execute(
            insert(tables.sales).values(
                dataset=self._dataset,
                number=sale.reference,  # replaced by the sale number below, in this transaction
                reference=sale.reference,
                channel=sale.channel,
                customer_code=sale.customer_key,
                lines=msgspec.to_builtins(sale.lines),
                totals=msgspec.to_builtins(sale.totals),
                shipping_address=msgspec.to_builtins(sale.shipping_address),
                state="confirmed",
                created_at=now,
                updated_at=now,
            )
        )
        inserted = result.inserted_primary_key
        assert inserted is not None
        sale_id = inserted[0]
        number = f"SO{sale_id:06d}"
        await conn.execute(
            update(tables.sales).where(tables.sales.c.id == sale_id).values(number=number)
        )
        s = tables.stock
        warehouse = await conn.scalar(
            select(tables.locations.c.code).where(
                and_(
                    tables.locations.c.dataset == self._dataset,
                    tables.locations.c.kind == "warehouse",
                )
            )
        )
        for line in sale.lines:
            await conn.execute(
                update(s)
                .where(
                    and_(
                        s.c.dataset == self._dataset, s.c.sku == line.sku, s.c.location == warehouse
                    )
                )
                .values(reserved=s.c.reserved + line.quantity, updated_at=now)
            )
        return SaleReceipt(
            reference=sale.reference,
            backend_reference=number,
            status="accepted",
            external_ids={NAME: str(sale_id)},
            created=True,
        )

    async def get_order(self, reference: str) -> SaleReceipt | None:
        s = tables.sales
        async with self._engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(s).where(
                            and_(s.c.dataset == self._dataset, s.c.reference == reference)
                        )
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        status = {"confirmed": "accepted", "cancelled": "cancelled", "done": "completed"}.get(
            row["state"], "submitted"
        )
        return SaleReceipt(
            reference=row["reference"],
            backend_reference=row["number"],
            status=status,  # type: ignore[arg-type]
            external_ids={NAME: str(row["id"])},
            created=False,
        )
