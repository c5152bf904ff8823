"""Inventory levels as channels see them, with `available` computed in one place."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import msgspec

from app.backend_calls import call_backend
from app.cache.reads import CachedReads
from app.context import CallContext
from app.inventory.availability import StockAt, available_to_promise
from app.paging import CursorCodec
from app.tenancy.bindings import BackendResolver
from app.tenancy.shadow import ShadowReads
from contracts.backend import StockQuery, StockRecord
from contracts.v1 import InventoryLevel, InventoryLevelPage


def available_from(on_hand: int, reserved: int, safety_stock: int) -> int:
    """`available = max(0, on_hand - reserved - safety_stock)`: available to promise with
    nothing held by the gateway (the one formula is `available_to_promise`)."""
    return available_to_promise(StockAt("", on_hand, reserved, safety_stock))


def _nothing(level: InventoryLevel) -> InventoryLevel:
    return InventoryLevel(
        sku=level.sku,
        location_id=level.location_id,
        on_hand=0,
        reserved=0,
        available=0,
        incoming=0,
        safety_stock=0,
        updated_at=level.updated_at,
        source="candidate",
        as_of=level.as_of,
    )


def to_level(record: StockRecord, source: str, as_of: datetime) -> InventoryLevel:
    return InventoryLevel(
        sku=record.sku,
        location_id=record.location_id,
        on_hand=record.on_hand,
        reserved=record.reserved,
        available=available_from(record.on_hand, record.reserved, record.safety_stock),
        incoming=record.incoming,
        safety_stock=record.safety_stock,
        updated_at=record.updated_at,
        source=source,
        as_of=as_of,
    )


def level_subject(level: InventoryLevel) -> str:
    return f"{level.sku}@{level.location_id}"


class SkuStock(msgspec.Struct, kw_only=True):
    """What the backend reports of one SKU, at every location it has it, and when."""

    levels: list[StockAt]
    as_of: datetime | None


class InventoryService:
    def __init__(
        self,
        backends: BackendResolver,
        cursors: CursorCodec,
        shadow: ShadowReads | None = None,
        cache: CachedReads | None = None,
    ) -> None:
        self._backends = backends
        self._cursors = cursors
        self._shadow = shadow
        self._cache = cache

    async def stock_for(self, ctx: CallContext, skus: list[str]) -> dict[str, SkuStock]:
        """Each SKU's stock at every location, through the inventory cache (one entry per SKU,
        tagged `sku:<sku>` like the levels, so the same stock changes drop it; served stale
        while the backend is down)."""

        async def one(sku: str) -> SkuStock:
            async def load() -> SkuStock:
                return await self._read_stock(ctx, sku)

            if self._cache is None:
                return await load()
            key = CachedReads.key(ctx.tenant_id, "inventory", f"stock-of/{sku}", ())
            cached = await self._cache.read(
                ctx.tenant_id, "inventory", key, load, lambda _: [f"sku:{sku}"]
            )
            return msgspec.json.decode(cached.body, type=SkuStock)

        found = await asyncio.gather(*(one(sku) for sku in skus))
        return dict(zip(skus, found, strict=True))

    async def _read_stock(self, ctx: CallContext, sku: str) -> SkuStock:
        # When the read began: whatever the backend had taken over before then is in what it
        # reports (app.inventory.reservations.held_now relies on this).
        as_of = datetime.now(UTC)
        backends = await self._backends.for_tenant(ctx.tenant_id)
        source = backends.names["inventory"]
        levels: list[StockAt] = []
        cursor: str | None = None
        while True:
            page = await call_backend(
                backends.inventory.list_stock(StockQuery(skus=(sku,), limit=200, cursor=cursor)),
                backend=source,
            )
            levels += [
                StockAt(r.location_id, r.on_hand, r.reserved, r.safety_stock)
                for r in page.items
                if r.sku == sku
            ]
            cursor = page.next_cursor
            if not cursor:
                break
        return SkuStock(levels=levels, as_of=as_of)

    async def _observe(
        self, ctx: CallContext, levels: list[InventoryLevel], locations: list[str]
    ) -> None:
        if self._shadow is None or not levels:
            return
        skus = tuple(sorted({level.sku for level in levels}))

        async def read(candidate: Any) -> dict[str, Any]:
            page = await candidate.list_stock(
                StockQuery(skus=skus, location_ids=tuple(locations), limit=max(len(levels) * 4, 50))
            )
            now = datetime.now(UTC)
            found = {
                level_subject(lv): lv for lv in (to_level(r, "candidate", now) for r in page.items)
            }
            # A location the candidate leaves out holds nothing there: compare with zeros.
            return {
                subject: found.get(subject) or _nothing(level)
                for subject, level in ((level_subject(lv), lv) for lv in levels)
            }

        current = {level_subject(level): level for level in levels}
        await self._shadow.observe(ctx.tenant_id, "inventory", current, read)

    async def list_levels(
        self,
        ctx: CallContext,
        *,
        limit: int,
        cursor: str | None,
        skus: list[str],
        locations: list[str],
        updated_since: datetime | None = None,
    ) -> InventoryLevelPage:
        filters = {
            "sku": sorted(skus),
            "location": sorted(locations),
            "updated_since": updated_since.isoformat() if updated_since else None,
        }
        position = (
            self._cursors.decode(cursor, ctx.tenant_id, "inventory", filters) if cursor else None
        )
        backends = await self._backends.for_tenant(ctx.tenant_id)
        source = backends.names["inventory"]
        query = StockQuery(
            skus=tuple(skus),
            location_ids=tuple(locations),
            updated_since=updated_since,
            limit=limit,
            cursor=position,
        )
        page = await call_backend(backends.inventory.list_stock(query), backend=source)
        as_of = datetime.now(UTC)
        next_cursor = (
            self._cursors.encode(ctx.tenant_id, "inventory", filters, page.next_cursor)
            if page.next_cursor
            else None
        )
        levels = [to_level(record, source, as_of) for record in page.items]
        await self._observe(ctx, levels, locations)
        return InventoryLevelPage(data=levels, next_cursor=next_cursor)
