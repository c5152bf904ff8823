"""The backends the conformance suite runs against, each freshly seeded with the demo data set.

Every adapter joins by adding a factory here; the tests in test_adapter_conformance.py run
unchanged against each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine

from adapters.sandbox import SandboxBackend


@asynccontextmanager
async def sandbox_backend(tmp_dir: Path) -> AsyncIterator[Any]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_dir / 'sandbox.db'}")
    backend = SandboxBackend(engine, engine, dataset=f"conformance-{uuid.uuid4().hex[:8]}")
    await backend.provision()
    try:
        yield backend
    finally:
        await backend.aclose()
        await engine.dispose()


@asynccontextmanager
async def tryton_backend(tmp_dir: Path) -> AsyncIterator[Any]:
    from adapters.tryton import TrytonBackend
    from tests.support.tryton import STORES, tryton_server

    with tryton_server() as server:
        backend = TrytonBackend(
            server.url, server.database, server.user, server.password, store_location_codes=STORES
        )
        try:
            yield backend
        finally:
            await backend.aclose()


@asynccontextmanager
async def odoo_backend(tmp_dir: Path) -> AsyncIterator[Any]:
    from adapters.odoo import OdooBackend
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
        try:
            yield backend
        finally:
            await backend.aclose()
