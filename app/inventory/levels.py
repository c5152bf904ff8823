"""Inventory levels as channels see them, with `available` computed in one place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.backend_calls import call_backend
from app.context import CallContext
from app.paging import CursorCodec
from app.tenancy.bindings import BackendResolver
from app.tenancy.shadow import ShadowReads
from contracts.backend import StockQuery, StockRecord
from contracts.v1 import InventoryLevel, InventoryLevelPage


def available_from(on_hand: int, reserved: int, safety_stock: int) -> int:
    """`available = max(0, on_hand - reserved - safety_stock)`."""
    return max(0, on_hand - reserved - safety_stock)


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


class InventoryService:
    def __init__(
        self, backends: BackendResolver, cursors: CursorCodec, shadow: ShadowReads | None = None
    ) -> None:
        self._backends = backends
        self._cursors = cursors
        self._shadow = shadow

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
