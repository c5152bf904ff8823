"""A backend adapter behind its shield: every port method goes through `Shield.run`; the
adapter itself never knows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.shield.service import Shield
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


class ShieldedBackend:
    def __init__(self, adapter: Any, shield: Shield) -> None:
        self._adapter = adapter
        self.shield = shield
        self.name = adapter.name

    async def list_products(self, query: ProductQuery) -> RecordPage[ProductRecord]:
        return await self.shield.run(lambda: self._adapter.list_products(query))

    async def get_product(self, key: str) -> ProductRecord | None:
        return await self.shield.run(lambda: self._adapter.get_product(key))

    async def find_skus(self, skus: Sequence[str]) -> set[str]:
        return await self.shield.run(lambda: self._adapter.find_skus(skus))

    async def list_locations(self) -> list[LocationRecord]:
        return await self.shield.run(self._adapter.list_locations)

    async def list_stock(self, query: StockQuery) -> RecordPage[StockRecord]:
        return await self.shield.run(lambda: self._adapter.list_stock(query))

    async def submit_order(self, sale: SaleRequest) -> SaleReceipt:
        return await self.shield.run(lambda: self._adapter.submit_order(sale))

    async def get_order(self, reference: str) -> SaleReceipt | None:
        return await self.shield.run(lambda: self._adapter.get_order(reference))

    async def cancel_order(self, reference: str) -> SaleReceipt | None:
        return await self.shield.run(lambda: self._adapter.cancel_order(reference))

    async def order_updates(self, cursor: str | None, limit: int) -> RecordPage[SaleUpdate]:
        return await self.shield.run(lambda: self._adapter.order_updates(cursor, limit))

    async def list_customers(self, query: CustomerQuery) -> RecordPage[CustomerRecord]:
        return await self.shield.run(lambda: self._adapter.list_customers(query))

    async def get_customer(self, key: str) -> CustomerRecord | None:
        return await self.shield.run(lambda: self._adapter.get_customer(key))

    async def create_customer(self, draft: CustomerDraft) -> CustomerRecord:
        return await self.shield.run(lambda: self._adapter.create_customer(draft))

    async def update_customer(self, key: str, changes: CustomerChanges) -> CustomerRecord | None:
        return await self.shield.run(lambda: self._adapter.update_customer(key, changes))

    async def check(self) -> None:
        await self._adapter.check()

    async def provision(self) -> None:
        provision = getattr(self._adapter, "provision", None)
        if provision is not None:
            await provision()

    async def aclose(self) -> None:
        await self._adapter.aclose()
