"""Inventory levels as channels see them, with `available` computed in one place."""

from __future__ import annotations

from datetime import UTC, datetime

from app.backend_calls import call_backend
from app.context import CallContext
from app.paging import CursorCodec
from app.tenancy.bindings import BackendResolver
from contracts.backend import StockQuery, StockRecord
from contracts.v1 import InventoryLevel, InventoryLevelPage


def available_from(on_hand: int, reserved: int, safety_stock: int) -> int:
    """`available = max(0, on_hand - reserved - safety_stock)`."""
    return max(0, on_hand - reserved - safety_stock)


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


class InventoryService:
    def __init__(self, backends: BackendResolver, cursors: CursorCodec) -> None:
        self._backends = backends
        self._cursors = cursors

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
        return InventoryLevelPage(
            data=[to_level(record, source, as_of) for record in page.items], next_cursor=next_cursor
        )
