"""The backend port: one small Protocol per domain. An adapter implements those it serves.

Adapters raise only `contracts.errors` exceptions. They never know tenants, quotas or caches:
whatever they need (URL, credentials, a data set name) is given to them when they are built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

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
    SaleUpdate,
    StockQuery,
    StockRecord,
)


@runtime_checkable
class CatalogBackend(Protocol):
    async def list_products(self, query: ProductQuery) -> RecordPage[ProductRecord]: ...

    async def get_product(self, key: str) -> ProductRecord | None: ...

    async def find_skus(self, skus: Sequence[str]) -> set[str]:
        """Which of `skus` the backend sells (any status)."""
        ...


@runtime_checkable
class InventoryBackend(Protocol):
    async def list_locations(self) -> list[LocationRecord]: ...

    async def list_stock(self, query: StockQuery) -> RecordPage[StockRecord]: ...


@runtime_checkable
class OrdersBackend(Protocol):
    async def submit_order(self, sale: SaleRequest) -> SaleReceipt:
        """Post a sale; idempotent on `sale.reference`."""
        ...

    async def get_order(self, reference: str) -> SaleReceipt | None: ...

    async def cancel_order(self, reference: str) -> SaleReceipt | None:
        """Cancel a posted sale; None when there is no sale with that reference. A sale past the
        point of cancelling (shipped) is a BusinessRejection. Cancelling twice is harmless."""
        ...

    async def order_updates(self, cursor: str | None, limit: int) -> RecordPage[SaleUpdate]:
        """Sales changed after `cursor` (the backend's own position, opaque), oldest first; the
        page's `next_cursor` is where to resume, also on the last page (None: nothing yet)."""
        ...


@runtime_checkable
class CustomersBackend(Protocol):
    async def list_customers(self, query: CustomerQuery) -> RecordPage[CustomerRecord]: ...

    async def get_customer(self, key: str) -> CustomerRecord | None: ...

    async def create_customer(self, draft: CustomerDraft) -> CustomerRecord:
        """Create a customer; idempotent on `draft.key`."""
        ...

    async def update_customer(self, key: str, changes: CustomerChanges) -> CustomerRecord | None:
        """Change a customer; None when no customer has that key."""
        ...


@runtime_checkable
class BackendLifecycle(Protocol):
    """What every adapter offers besides its domains: a name, a reachability check, a close."""

    name: str

    async def check(self) -> None:
        """Raise a `contracts.errors` error unless the backend answers and accepts us."""
        ...

    async def aclose(self) -> None: ...
