"""A retail channel that keeps calling while its tenant is migrated: a concurrent task reading
products, a listing, stock and customers, placing orders and reading them back, round after
round, until told to stop. Every answer must have the status and the v1 shape it always had;
anything else is kept in `unexpected` (and a body that does not decode fails the task)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import httpx
import msgspec

from adapters._demo import demo_dataset
from app.publicids import CUSTOMER, PRODUCT, public_id
from contracts.v1 import Customer, InventoryLevelPage, Order, OrderPage, Product, ProductPage
from tests.support import payloads
from tests.support.gateway import Gateway

DEMO = demo_dataset()
CUSTOMERS = DEMO.customers[:2]  # who place the orders
ORDERED_SKU = payloads.SKU_A
DEADLINE = 180.0  # generous: a loaded machine is slow, never this slow


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.1)


class Channel:
    def __init__(self, gw: Gateway, client: str, *, stock_skus: list[str]) -> None:
        self._gw = gw
        self._client = client
        self._stock_skus = [*stock_skus, ORDERED_SKU]
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.placed: list[str] = []
        self.responses = 0
        self.unexpected: list[str] = []

    async def __aenter__(self) -> Channel:
        self._task = asyncio.create_task(self._run(), name="channel")
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        assert self._task is not None
        if kind is None:
            await self._task  # its failure is the test's
        else:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def wait_for_placed(self, count: int) -> None:
        async def placed() -> bool:
            return self._alive() and len(self.placed) >= count

        await eventually(placed, f"{count} orders placed")

    async def wait_for_orders_in_flight(self) -> None:
        """Until an order the gateway took is still waiting to reach the backend."""

        async def waiting() -> bool:
            response = await self._gw.http.get(
                "/v1/orders",
                params={"status": "received", "limit": 1},
                headers=await self._gw.headers(self._client),
            )
            assert response.status_code == 200, response.text
            return self._alive() and bool(response.json()["data"])

        await eventually(waiting, "an order in flight")

    def _alive(self) -> bool:
        assert self._task is not None
        if self._task.done():
            self._task.result()  # raise what stopped it
            raise AssertionError("the channel stopped")
        return True

    async def _run(self) -> None:
        round_ = 0
        while not self._stop.is_set():
            await self._round(round_)
            round_ += 1
            await asyncio.sleep(0.1)

    async def _round(self, round_: int) -> None:
        gw, headers = self._gw, await self._gw.headers(self._client)
        product = DEMO.products[10 + round_ % 4]
        self._check(
            await gw.http.get(f"/v1/products/{public_id(PRODUCT, product.code)}", headers=headers),
            200,
            Product,
        )
        self._check(
            await gw.http.get(
                "/v1/products",
                params={"limit": 5, "sku": DEMO.products[11].variants[0].sku},
                headers=headers,
            ),
            200,
            ProductPage,
        )
        self._check(
            await gw.http.get("/v1/inventory", params={"sku": self._stock_skus}, headers=headers),
            200,
            InventoryLevelPage,
        )
        reader = DEMO.customers[8 + round_ % 3]
        self._check(
            await gw.http.get(f"/v1/customers/{public_id(CUSTOMER, reader.code)}", headers=headers),
            200,
            Customer,
        )
        if round_ % 2 == 0:  # an order every other round: a shop browses more than it sells
            await self._order(headers, round_ // 2)
        if round_ % 5 == 0:
            self._check(
                await gw.http.get("/v1/orders", params={"limit": 10}, headers=headers),
                200,
                OrderPage,
            )

    async def _order(self, headers: dict[str, str], number: int) -> None:
        buyer = CUSTOMERS[number % len(CUSTOMERS)]
        order = payloads.order(customer={"id": public_id(CUSTOMER, buyer.code)})
        order["lines"][0]["quantity"] = 1
        placed = self._check(
            await self._gw.http.post(
                "/v1/orders", json=order, headers={**headers, "Idempotency-Key": payloads.idem()}
            ),
            202,
            Order,
        )
        if placed is not None:
            self.placed.append(placed.id)
            earlier = self.placed[number // 2]
            self._check(
                await self._gw.http.get(f"/v1/orders/{earlier}", headers=headers), 200, Order
            )

    def _check(self, response: httpx.Response, status: int, shape: type[Any]) -> Any:
        self.responses += 1
        if response.status_code != status:
            self.unexpected.append(f"{response.request.url.path}: {response.status_code}")
            return None
        return msgspec.json.decode(response.content, type=shape)
