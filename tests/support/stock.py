"""Setting a sandbox tenant's stock of one SKU for a test, and making the gateway see it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, delete, insert

from adapters.sandbox import tables
from tests.support.gateway import Gateway


async def set_stock(
    gw: Gateway, tenant: str, sku: str, levels: dict[str, tuple[int, int, int]]
) -> None:
    """`levels`: location -> (on_hand, reserved, safety_stock); the SKU is at no other
    location. The sandbox keeps its stock in the gateway's database (tables of its own)."""
    stock = tables.stock
    async with gw.services.db.engine.begin() as conn:
        await conn.execute(delete(stock).where(and_(stock.c.dataset == tenant, stock.c.sku == sku)))
        for location, (on_hand, reserved, safety_stock) in levels.items():
            await conn.execute(
                insert(stock).values(
                    dataset=tenant,
                    sku=sku,
                    location=location,
                    on_hand=on_hand,
                    reserved=reserved,
                    incoming=0,
                    safety_stock=safety_stock,
                    updated_at=datetime.now(UTC),
                )
            )
    await gw.services.cache.invalidate(tenant, [f"sku:{sku}"])
