"""Products and their variants as channels see them. The backend is their system of record."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from contracts.v1.common import Money

ProductStatus = Literal["active", "draft", "archived"]


class Variant(msgspec.Struct, kw_only=True):
    """One sellable unit of a product: a SKU with its options (size, colour, ...) and price."""

    sku: str
    barcode: str | None
    options: dict[str, str]
    price: Money
    compare_at_price: Money | None = None
    weight: float | None = msgspec.field(default=None)
    weight_unit: Literal["kg"] = "kg"
    external_ids: dict[str, str] = msgspec.field(default_factory=dict)


class Product(msgspec.Struct, kw_only=True):
    """A product with its variants. `id` is ours (`prd_…`); backend ids live in `external_ids`."""

    id: str
    title: str
    description: str
    brand: str | None
    status: ProductStatus
    attributes: dict[str, str]
    variants: list[Variant]
    external_ids: dict[str, str]
    updated_at: datetime


class ProductPage(msgspec.Struct, kw_only=True):
    """A page of products (the concrete form of `Page`, so the schema names its items)."""

    data: list[Product]
    next_cursor: str | None
