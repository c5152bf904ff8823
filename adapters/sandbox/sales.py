"""The sandbox ERP's sales: accepted at once (reserving stock at the distribution centre),
found again by reference, cancelled while not shipped, moved on by its "warehouse"
(`fulfil`, what a real ERP's pickers and carriers do), and every state change appended to a
feed the gateway polls."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sandbox import tables
from contracts.backend import RecordPage, SaleReceipt, SaleRequest, SaleUpdate
from contracts.errors import BusinessRejection
from contracts.v1.orders import OrderStatus

NAME = "sandbox"
STATES: dict[str, OrderStatus] = {
    "confirmed": "accepted",
    "allocated": "allocated",
    "shipped": "shipped",
    "done": "completed",
    "cancelled": "cancelled",
}
CANCELLABLE = ("confirmed", "allocated")


class SalesPart:
    _engine: AsyncEngine
    _write_engine: AsyncEngine
    _dataset: str

    async def _customer_row(self, conn: AsyncConnection, key: str) -> Any: ...

    async def _ensure_schema(self) -> None: ...

    async def submit_order(self, sale: SaleRequest) -> SaleReceipt:
        await self._ensure_schema()
        existing = await self.get_order(sale.reference)
        if existing is not None:
            return _again(existing)
        try:
            async with self._write_engine.begin() as conn:
                return await self._create_sale(conn, sale)
        except IntegrityError:
            found = await self.get_order(sale.reference)  # a concurrent post of it won
            if found is None:
                raise
            return _again(found)

    async def get_order(self, reference: str) -> SaleReceipt | None:
        async with self._engine.connect() as conn:
            row = await self._sale(conn, reference)
        return _receipt(row) if row is not None else None

    async def cancel_order(self, reference: str) -> SaleReceipt | None:
        await self._ensure_schema()
        async with self._write_engine.begin() as conn:
            row = await self._sale(conn, reference)
            if row is None:
                return None
            if row["state"] == "cancelled":
                return _receipt(row)
            if row["state"] not in CANCELLABLE:
                raise BusinessRejection(
                    "too late to cancel",
                    reasons=[f"sale {row['number']} is {row['state']}"],
                    backend=NAME,
                )
            await self._reserve(conn, row["lines"], sign=-1)
            await self._set_state(conn, row, "cancelled")
            row = await self._sale(conn, reference)
        return _receipt(row)

    async def fulfil(self, reference: str, state: str) -> None:
        """The warehouse moves a sale on (allocated, shipped, done)."""
        await self._ensure_schema()
        async with self._write_engine.begin() as conn:
            row = await self._sale(conn, reference)
            if row is None:
                raise LookupError(reference)
            await self._set_state(conn, row, state)

    async def order_updates(self, cursor: str | None, limit: int) -> RecordPage[SaleUpdate]:
        await self._ensure_schema()
        e = tables.sale_events
        after = int(cursor) if cursor and cursor.isdigit() else 0
        async with self._engine.connect() as conn:
            rows = list(
                (
                    await conn.execute(
                        select(e)
                        .where(and_(e.c.dataset == self._dataset, e.c.id > after))
                        .order_by(e.c.id)
                        .limit(limit)
                    )
                ).mappings()
            )
        updates = [
            SaleUpdate(
                reference=row["reference"],
                backend_reference=row["number"],
                status=STATES.get(row["state"], "submitted"),
                changed_at=row["changed_at"],
            )
            for row in rows
        ]
        return RecordPage(items=updates, next_cursor=str(rows[-1]["id"]) if rows else cursor)

    async def _sale(self, conn: AsyncConnection, reference: str) -> Any:
        s = tables.sales
        result = await conn.execute(
            select(s).where(and_(s.c.dataset == self._dataset, s.c.reference == reference))
        )
        return result.mappings().first()

    async def _set_state(self, conn: AsyncConnection, row: Any, state: str) -> None:
        now = datetime.now(UTC)
        await conn.execute(
            update(tables.sales)
            .where(tables.sales.c.id == row["id"])
            .values(state=state, updated_at=now)
        )
        await conn.execute(
            insert(tables.sale_events).values(
                dataset=self._dataset,
                reference=row["reference"],
                number=row["number"],
                state=state,
                changed_at=now,
            )
        )

    async def _reserve(self, conn: AsyncConnection, lines: list[Any], *, sign: int) -> None:
        s = tables.stock
        warehouse = await conn.scalar(
            select(tables.locations.c.code).where(
                and_(
                    tables.locations.c.dataset == self._dataset,
                    tables.locations.c.kind == "warehouse",
                )
            )
        )
        now = datetime.now(UTC)
        for line in lines:
            await conn.execute(
                update(s)
                .where(
                    and_(
                        s.c.dataset == self._dataset,
                        s.c.sku == line["sku"],
                        s.c.location == warehouse,
                    )
                )
                .values(reserved=s.c.reserved + sign * int(line["quantity"]), updated_at=now)
            )

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
        lines = msgspec.to_builtins(sale.lines)
        result = await conn.execute(
            insert(tables.sales).values(
                dataset=self._dataset,
                number=sale.reference,  # replaced by the sale number below, in this transaction
                reference=sale.reference,
                channel=sale.channel,
                customer_code=sale.customer_key,
                lines=lines,
                totals=msgspec.to_builtins(sale.totals),
                shipping_address=msgspec.to_builtins(sale.shipping_address),
                state="confirmed",
                created_at=now,
                updated_at=now,
            )
        )
        inserted = result.inserted_primary_key
        assert inserted is not None
        number = f"SO{inserted[0]:06d}"
        await conn.execute(
            update(tables.sales).where(tables.sales.c.id == inserted[0]).values(number=number)
        )
        await conn.execute(
            insert(tables.sale_events).values(
                dataset=self._dataset,
                reference=sale.reference,
                number=number,
                state="confirmed",
                changed_at=now,
            )
        )
        await self._reserve(conn, lines, sign=1)
        return SaleReceipt(
            reference=sale.reference,
            backend_reference=number,
            status="accepted",
            external_ids={NAME: str(inserted[0])},
            created=True,
        )


def _receipt(row: Any) -> SaleReceipt:
    return SaleReceipt(
        reference=row["reference"],
        backend_reference=row["number"],
        status=STATES.get(row["state"], "submitted"),
        external_ids={NAME: str(row["id"])},
        created=False,
    )


def _again(receipt: SaleReceipt) -> SaleReceipt:
    return SaleReceipt(
        reference=receipt.reference,
        backend_reference=receipt.backend_reference,
        status=receipt.status,
        external_ids=receipt.external_ids,
        created=False,
    )
