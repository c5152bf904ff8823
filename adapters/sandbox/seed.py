"""Loads the retail demo data set into one sandbox data set."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters._demo import DemoDataset
from adapters.sandbox import tables


def _money(value: Any) -> str | None:
    return None if value is None else format(value, "f")


async def seed_dataset(conn: AsyncConnection, dataset: str, demo: DemoDataset) -> None:
    now = datetime.now(UTC)
    await conn.execute(
        insert(tables.locations),
        [
            {"dataset": dataset, "code": loc.code, "name": loc.name, "kind": loc.kind}
            for loc in demo.locations
        ],
    )
    await conn.execute(
        insert(tables.products),
        [
            {
                "dataset": dataset,
                "code": p.code,
                "title": p.title,
                "description": p.description,
                "brand": p.brand,
                "status": p.status,
                "attributes": p.attributes,
                "updated_at": p.updated_at,
            }
            for p in demo.products
        ],
    )
    await conn.execute(
        insert(tables.variants),
        [
            {
                "dataset": dataset,
                "product_code": p.code,
                "position": position,
                "sku": v.sku,
                "barcode": v.barcode,
                "options": v.options,
                "price": _money(v.price),
                "compare_at_price": _money(v.compare_at_price),
                "currency": demo.currency,
                "weight": v.weight_kg,
            }
            for p in demo.products
            for position, v in enumerate(p.variants)
        ],
    )
    await conn.execute(
        insert(tables.stock),
        [
            {
                "dataset": dataset,
                "sku": s.sku,
                "location": s.location,
                "on_hand": s.on_hand,
                "reserved": s.reserved,
                "incoming": s.incoming,
                "safety_stock": 0,
                "updated_at": now,
            }
            for s in demo.stock
        ],
    )
    await conn.execute(
        insert(tables.customers),
        [
            {
                "dataset": dataset,
                "code": c.code,
                "email": c.email,
                "first_name": c.first_name,
                "last_name": c.last_name,
                "phone": c.phone,
                "addresses": [asdict(a) for a in c.addresses],
                "marketing_consent": c.marketing_consent,
                "created_at": c.created_at,
                "updated_at": c.created_at,
            }
            for c in demo.customers
        ],
    )
