"""Stock levels per SKU and location, as the backend last reported them."""

from __future__ import annotations

from datetime import datetime

import msgspec


class InventoryLevel(msgspec.Struct, kw_only=True):
    """Stock of one SKU at one location.

    `available = max(0, on_hand - reserved - safety_stock)`; `source` names the backend that
    reported it and `as_of` when it did.
    """

    sku: str
    location_id: str
    on_hand: int
    reserved: int
    available: int
    incoming: int
    safety_stock: int
    updated_at: datetime
    source: str
    as_of: datetime


class InventoryLevelPage(msgspec.Struct, kw_only=True):
    """A page of inventory levels (the concrete form of `Page`, so the schema names its items)."""

    data: list[InventoryLevel]
    next_cursor: str | None
