"""Two gateway replicas whose Redis is reached through a fault proxy: a Redis that hangs
(connections accepted, nothing answered) costs a request a short timeout, not a stall, and
the API keeps answering, counting quotas in memory and reading through the cache; once
Redis answers again, quotas are counted together again, entries are shared again, and an
invalidation made during the outage reaches Redis and the other replica's near-cache.

No timing is asserted: each step is given a deadline far above the settings' half-second
timeout, which a request would blow many times over with redis-py's defaults (5 s, ten
retries per command)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from sqlalchemy import and_, update

from adapters._demo import demo_dataset
from adapters.sandbox import tables
from app.cache.redis_store import RedisCacheStore
from app.publicids import PRODUCT, public_id
from app.quotas.store import RedisQuotaStore
from app.settings import RedisSettings, WorkerSettings
from tests.support.fault_proxy import FaultProxy
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.services import need_redis

pytestmark = [pytest.mark.redis, pytest.mark.slow]
DEMO = demo_dataset()
DEADLINE = 60.0


@dataclass
class Setup:
    first: Gateway
    second: Gateway
    proxy: FaultProxy
    tenant: str
    client: str


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    real = urlparse(need_redis())
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    async with AsyncExitStack() as stack:
        proxy = await stack.enter_async_context(
            FaultProxy(real.hostname or "127.0.0.1", real.port or 6379)
        )
        redis_url = f"redis://127.0.0.1:{proxy.port}{real.path}"
        first, second = [
            await stack.enter_async_context(
                running_gateway(
                    make_settings(
                        url,
                        tmp_path / "var",
                        redis_url=redis_url,
                        redis=RedisSettings(
                            timeout=0.5, connect_timeout=0.5, retry_after_failure=1.0
                        ),
                        worker=WorkerSettings(embedded=False),
                    )
                )
            )
            for _ in range(2)
        ]
        for gateway in (first, second):
            store = gateway.services.cache.store
            assert isinstance(store, RedisCacheStore)
            await asyncio.wait_for(store.subscribed.wait(), DEADLINE)
        tenant = f"rr-{uuid.uuid4().hex[:8]}"
        client, _ = await first.add_tenant(tenant)
        await first.add_client("operator", None)
        second.credentials.update(first.credentials)
        try:
            yield Setup(first, second, proxy, tenant, client)
        finally:
            proxy.clear()  # let the replicas close their connections cleanly


async def _get(gateway: Gateway, client: str, path: str) -> httpx.Response:
    return await asyncio.wait_for(
        gateway.http.get(path, headers=await gateway.headers(client)), DEADLINE
    )


def _quota_store(gateway: Gateway) -> RedisQuotaStore:
    store = gateway.services.quotas.store
    assert isinstance(store, RedisQuotaStore)
    return store


def _cache_store(gateway: Gateway) -> RedisCacheStore:
    store = gateway.services.cache.store
    assert isinstance(store, RedisCacheStore)
    return store


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_a_hung_redis_costs_a_timeout_and_the_api_keeps_answering(setup: Setup) -> None:
    first, second = setup.first, setup.second
    for gateway in (first, second):  # the settings reach the client: no redis-py defaults
        redis = gateway.services.redis
        assert redis is not None
        kwargs = redis.connection_pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (0.5, 0.5)
        retry = redis.get_retry()
        assert retry is not None and retry.get_retries() == 1
    held = f"/v1/products/{public_id(PRODUCT, DEMO.products[70].code)}"
    cold = f"/v1/products/{public_id(PRODUCT, DEMO.products[71].code)}"
    assert (await _get(first, setup.client, held)).status_code == 200
    assert (await _get(first, setup.client, held)).headers["cache-status"].endswith("hit")

    setup.proxy.blackhole(True)
    for gateway in (first, second):
        for path in (
            cold,
            "/v1/products?limit=1",
            "/v1/inventory?sku=" + DEMO.products[70].variants[0].sku,
        ):
            answer = await _get(gateway, setup.client, path)
            assert answer.status_code == 200, (path, answer.text)
            assert answer.headers["cache-status"] == "retail-gateway; fwd=miss"  # read through
            # Counted in this replica's memory meanwhile.
            assert "ratelimit" in answer.headers and "ratelimit-policy" in answer.headers
    # The near-cache still answers what it holds, without asking Redis.
    kept = await _get(first, setup.client, held)
    assert kept.status_code == 200 and kept.headers["cache-status"] == "retail-gateway; hit"
    assert setup.proxy.counters.blackholed > 0


async def test_when_redis_answers_again_everything_is_shared_again(setup: Setup) -> None:
    first, second = setup.first, setup.second
    product = DEMO.products[72]
    path = f"/v1/products/{public_id(PRODUCT, product.code)}"
    for gateway in (first, second):  # both replicas hold it in their near-caches
        await _get(gateway, setup.client, path)
        assert (await _get(gateway, setup.client, path)).headers["cache-status"].endswith("hit")

    setup.proxy.blackhole(True)
    # The product changes in the sandbox ERP, and the change is reported to the first
    # replica while Redis hangs: its own near-cache drops the entry at once.
    async with first.services.db.engine.begin() as conn:
        await conn.execute(
            update(tables.products)
            .where(
                and_(
                    tables.products.c.dataset == setup.tenant,
                    tables.products.c.code == product.code,
                )
            )
            .values(title="Renamed while Redis hung")
        )
    invalidated = await asyncio.wait_for(
        first.http.post(
            f"/admin/tenants/{setup.tenant}/cache/invalidate",
            json={"tags": [f"product:{public_id(PRODUCT, product.code)}"]},
            headers=await first.headers("operator"),
        ),
        DEADLINE,
    )
    assert invalidated.status_code == 200
    renamed = await _get(first, setup.client, path)
    assert renamed.json()["title"] == "Renamed while Redis hung"
    for gateway in (first, second):
        assert (await _get(gateway, setup.client, "/v1/products?limit=1")).status_code == 200

    setup.proxy.blackhole(False)
    # The second replica's near-cache entry goes once the first replica's invalidation
    # reaches Redis (replayed when its channel is back) and the message reaches it.
    deadline = time.monotonic() + DEADLINE
    while (await _get(second, setup.client, path)).json()["title"] != "Renamed while Redis hung":
        assert time.monotonic() < deadline, "the invalidation made during the outage was lost"
        await asyncio.sleep(0.1)
    for gateway in (first, second):
        await _until(lambda g=gateway: not _quota_store(g).degraded, "quotas still in memory")
        await _until(lambda g=gateway: not _cache_store(g).degraded, "cache still paused")

    # Counting is shared again: a quota of 10 across both replicas admits exactly 10.
    counted = f"rr-{uuid.uuid4().hex[:8]}"
    client, secret = await first.add_tenant(counted)
    second.credentials[client] = (client, secret)
    response = await first.http.put(
        f"/admin/tenants/{counted}/quotas",
        json={"read": {"tenant": {"quota": 10, "window": 3600}}},
        headers=await first.headers("operator"),
    )
    assert response.status_code == 200
    headers = [await gateway.headers(client) for gateway in (first, second)]
    statuses = await asyncio.wait_for(
        asyncio.gather(
            *(
                gateway.http.get("/v1/products?limit=1", headers=header)
                for gateway, header in ((first, headers[0]), (second, headers[1]))
                for _ in range(20)
            )
        ),
        DEADLINE,
    )
    assert [r.status_code for r in statuses].count(200) == 10
    # And entries are shared again: filled by one replica, a hit from Redis on the other.
    cold = f"/v1/products/{public_id(PRODUCT, DEMO.products[73].code)}"
    assert (await _get(first, setup.client, cold)).headers["cache-status"].endswith("fwd=miss")
    await first.services.cache.drain()
    assert (await _get(second, setup.client, cold)).headers["cache-status"] == "retail-gateway; hit"
