"""The backends the conformance suite runs against, each freshly seeded with the demo data set,
and for each an operator: what that backend's own people do to a posted sale, through the
backend's own interface (tables, RPC), and the canonical status (API.md) each step must read as.

Every adapter joins by adding a factory here; the tests in test_adapter_conformance.py run
unchanged against each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import create_async_engine

from adapters.sandbox import SandboxBackend


class Operator(Protocol):
    # Each step an operator takes on a sale after it was posted, with the status it reads as.
    steps: tuple[tuple[str, str], ...]

    async def do(self, step: str, reference: str) -> None: ...


@dataclass
class Subject:
    backend: Any
    operator: Operator


class SandboxWarehouse:
    """The sandbox's warehouse moves a sale on through its API (`fulfil`)."""

    steps = (("allocate", "allocated"), ("ship", "shipped"), ("close", "completed"))
    STATES = {"allocate": "allocated", "ship": "shipped", "close": "done"}

    def __init__(self, backend: SandboxBackend) -> None:
        self._backend = backend

    async def do(self, step: str, reference: str) -> None:
        await self._backend.fulfil(reference, self.STATES[step])


@asynccontextmanager
async def sandbox_backend(tmp_dir: Path) -> AsyncIterator[Subject]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_dir / 'sandbox.db'}")
    backend = SandboxBackend(engine, engine, dataset=f"conformance-{uuid.uuid4().hex[:8]}")
    await backend.provision()
    try:
        yield Subject(backend, SandboxWarehouse(backend))
    finally:
        await backend.aclose()
        await engine.dispose()


class TrytonWarehouse:
    """A Tryton user: the sale was confirmed and processed when posted, which made its
    customer shipment; reserving it assigns the stock, then it is picked, packed and done."""

    steps = (("reserve the shipment", "allocated"), ("ship", "shipped"))

    def __init__(self, client: Any) -> None:
        self._client = client

    async def do(self, step: str, reference: str) -> None:
        [sale] = await self._client.call(
            "model.sale.sale.search_read", [["reference", "=", reference]], 0, 1, None,
            ["shipments"],
        )  # fmt: skip
        shipments = sale["shipments"]
        assert shipments, "a processed sale has its customer shipment"
        methods = ["assign_try"] if step == "reserve the shipment" else ["pick", "pack", "do"]
        for method in methods:
            await self._client.call(f"model.stock.shipment.out.{method}", shipments)


@asynccontextmanager
async def tryton_backend(tmp_dir: Path) -> AsyncIterator[Subject]:
    from adapters.tryton import TrytonBackend
    from adapters.tryton.client import TrytonClient
    from tests.support.tryton import STORES, tryton_server

    with tryton_server() as server:
        backend = TrytonBackend(
            server.url, server.database, server.user, server.password, store_location_codes=STORES
        )
        client = TrytonClient(server.url, server.database, server.user, server.password)
        try:
            yield Subject(backend, TrytonWarehouse(client))
        finally:
            await client.aclose()
            await backend.aclose()


class OdooWarehouse:
    """An Odoo user: the order's delivery was made and reserved when it was confirmed; part of
    it is validated (the rest left in a backorder), then the backorder."""

    steps = (("ship part", "partially_shipped"), ("ship the rest", "shipped"))

    def __init__(self, client: Any) -> None:
        self._client = client

    async def do(self, step: str, reference: str) -> None:
        [order] = await self._client.search_read(
            "sale.order", [["client_order_ref", "=", reference]], ["id"]
        )
        [picking] = await self._client.search_read(
            "stock.picking",
            [["sale_id", "=", order["id"]], ["state", "not in", ["done", "cancel"]]],
            ["id", "move_ids"],
        )
        if step == "ship part":
            moves = await self._client.search_read(
                "stock.move", [["picking_id", "=", picking["id"]]], ["quantity"]
            )
            await self._client.execute(
                "stock.move", "write", [moves[0]["id"]], {"quantity": moves[0]["quantity"] - 1}
            )
        done = await self._client.execute(
            "stock.picking", "button_validate", [picking["id"]], context={"skip_backorder": True}
        )
        assert done is True, done


@asynccontextmanager
async def odoo_backend(tmp_dir: Path) -> AsyncIterator[Subject]:
    from adapters.odoo import OdooBackend
    from adapters.odoo.client import OdooClient
    from tests.support.odoo import ODOO_LOCATIONS, STORES, odoo_simulator

    async with odoo_simulator() as simulator:
        backend = OdooBackend(
            simulator.url,
            "demo",
            "admin",
            "admin",
            location_codes=ODOO_LOCATIONS,
            store_location_codes=STORES,
        )
        client = OdooClient(simulator.url, "demo", "admin", "admin")
        try:
            yield Subject(backend, OdooWarehouse(client))
        finally:
            await client.aclose()
            await backend.aclose()
