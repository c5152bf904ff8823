"""What crosses the backend port: the records a backend answers and the requests it is given.

These are backend-neutral. A record carries the backend's stable business key (a product's
style code, a customer's number); the gateway turns keys into its own ids, so adapters never
learn the gateway's id scheme and a migration between backends keeps every id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, TypeVar

import msgspec

from contracts.v1.common import Address, Money
from contracts.v1.orders import OrderStatus, OrderTotals
from contracts.v1.products import ProductStatus, Variant

T = TypeVar("T")

LocationKind = Literal["warehouse", "store"]


class RecordPage(msgspec.Struct, Generic[T], kw_only=True):
    """A page of records. `next_cursor` is the adapter's own continuation token, opaque to the
    gateway (which signs it into its own cursor); None on the last page."""

    items: list[T]
    next_cursor: str | None


class ProductQuery(msgspec.Struct, kw_only=True, frozen=True):
    sku: str | None = None
    barcode: str | None = None
    status: ProductStatus | None = None
    updated_since: datetime | None = None
    limit: int = 50
    cursor: str | None = None


class ProductRecord(msgspec.Struct, kw_only=True):
    """A product as a backend reports it; `key` is its stable business key (style code)."""

    key: str
    title: str
    description: str
    brand: str | None
    status: ProductStatus
    attributes: dict[str, str]
    variants: list[Variant]
    external_ids: dict[str, str]
    updated_at: datetime


class LocationRecord(msgspec.Struct, kw_only=True):
    """A stock location; `id` is its business code (warehouse or store number)."""

    id: str
    name: str
    kind: LocationKind
    external_ids: dict[str, str] = msgspec.field(default_factory=dict)


class StockQuery(msgspec.Struct, kw_only=True, frozen=True):
    skus: tuple[str, ...] = ()
    location_ids: tuple[str, ...] = ()
    updated_since: datetime | None = None
    limit: int = 50
    cursor: str | None = None


class StockRecord(msgspec.Struct, kw_only=True):
    """Stock of one SKU at one location. `reserved` is what the backend itself holds back."""

    sku: str
    location_id: str
    on_hand: int
    reserved: int
    incoming: int
    safety_stock: int
    updated_at: datetime


class CustomerQuery(msgspec.Struct, kw_only=True, frozen=True):
    email: str | None = None
    phone: str | None = None
    updated_since: datetime | None = None
    limit: int = 50
    cursor: str | None = None


class CustomerRecord(msgspec.Struct, kw_only=True):
    """A customer as a backend reports it; `key` is its customer number."""

    key: str
    email: str
    first_name: str
    last_name: str
    phone: str | None
    addresses: list[Address]
    marketing_consent: bool
    external_ids: dict[str, str]
    created_at: datetime
    updated_at: datetime


class CustomerDraft(msgspec.Struct, kw_only=True):
    """A customer to create. The gateway chooses `key`, so a retried create finds the first."""

    key: str
    email: str
    first_name: str
    last_name: str
    phone: str | None
    addresses: list[Address]
    marketing_consent: bool


class CustomerChanges(msgspec.Struct, kw_only=True):
    """Fields to change on a customer; UNSET fields stay as they are."""

    email: str | msgspec.UnsetType = msgspec.UNSET
    first_name: str | msgspec.UnsetType = msgspec.UNSET
    last_name: str | msgspec.UnsetType = msgspec.UNSET
    phone: str | msgspec.UnsetType | None = msgspec.UNSET
    addresses: list[Address] | msgspec.UnsetType = msgspec.UNSET
    marketing_consent: bool | msgspec.UnsetType = msgspec.UNSET


class SaleLine(msgspec.Struct, kw_only=True):
    sku: str
    quantity: int
    unit_price: Money


class SaleRequest(msgspec.Struct, kw_only=True):
    """An order to post. `reference` is the gateway's order id: the backend stores it on the
    sale, and a repeated post with the same reference must find that sale, not make another."""

    reference: str
    channel: str
    external_reference: str
    customer_key: str
    lines: list[SaleLine]
    shipping_address: Address
    billing_address: Address | None
    totals: OrderTotals
    placed_at: datetime


class SaleReceipt(msgspec.Struct, kw_only=True):
    """The backend's answer for a posted order. `status` is already mapped to the canonical
    state machine; `created` is False when the post found an existing sale."""

    reference: str
    backend_reference: str
    status: OrderStatus
    external_ids: dict[str, str]
    created: bool = True


class SaleUpdate(msgspec.Struct, kw_only=True):
    """A change the backend made to a sale (allocated, shipped, invoiced, cancelled...), in the
    order the backend made them. `changed_at` orders updates of one sale; duplicates and late
    arrivals are the gateway's to ignore."""

    reference: str
    backend_reference: str
    status: OrderStatus
    changed_at: datetime
    detail: dict[str, str] = msgspec.field(default_factory=dict)
