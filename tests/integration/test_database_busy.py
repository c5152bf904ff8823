"""A replica whose database connections are all in use answers 503 with Retry-After and writes
nothing, rather than a 500: a burst beyond the pool is the gateway's capacity, not the
client's fault. Once connections are free the same request (same Idempotency-Key) succeeds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.settings import DatabaseSettings, WorkerSettings
from app.store.models import OrderRow
from tests.support import payloads
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.services import create_database, drop_database

pytestmark = pytest.mark.postgres


@pytest.fixture
async def busy_gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    url = await create_database()
    try:
        settings = make_settings(url, tmp_path / "var", worker=WorkerSettings(embedded=False))
        # One pooled connection and one overflow; a request waits 0.3 s for one of them.
        settings = settings.with_overrides(
            database=DatabaseSettings(url=url, pool_size=1, pool_timeout=0.3)
        )
        async with running_gateway(settings) as gw:
            await gw.add_tenant("acme")
            yield gw
    finally:
        await drop_database(url)


async def _orders(gw: Gateway) -> int:
    async with gw.services.db.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(OrderRow)) or 0)


async def test_every_connection_in_use_is_a_503_that_writes_nothing(busy_gateway: Gateway) -> None:
    gw = busy_gateway
    headers = await gw.headers("acme-client", **{"Idempotency-Key": payloads.idem()})
    body = payloads.order()
    async with AsyncExitStack() as held:
        for _ in range(2):  # the whole pool, taken by something slow
            await held.enter_async_context(gw.services.db.engine.connect())
        for response in (
            await gw.http.post("/v1/orders", json=body, headers=headers),
            await gw.http.get("/v1/orders", headers=headers),
        ):
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "1"
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["status"] == 503
    assert await _orders(gw) == 0
    # The connections are back: the same order under the same key is taken, once.
    retried = await gw.http.post("/v1/orders", json=body, headers=headers)
    assert retried.status_code == 202, retried.text
    assert await _orders(gw) == 1
