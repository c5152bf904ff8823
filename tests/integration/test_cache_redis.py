"""The cache across replicas, on one real Redis, in front of the Odoo simulator (which counts
what it receives): one backend call for many concurrent misses of a cold key across two
replicas, no tenant ever served another's entry, invalidation reaching the other replica's
near-cache, and stale answers while the backend is down."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from adapters._demo import demo_dataset
from adapters.odoo.client import OdooClient
from app.cache.redis_store import RedisCacheStore
from app.publicids import PRODUCT, public_id
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.odoo import Simulator, odoo_simulator
from tests.support.services import need_redis

pytestmark = [pytest.mark.redis, pytest.mark.slow]
DEMO = demo_dataset()
# Short catalog freshness so the test can watch entries go stale.
FRESHNESS = {
    "catalog": [0.5, 0.5, 600.0],
    "inventory": [0.5, 0.5, 600.0],
    "customers": [0.5, 0.5, 600.0],
}


@pytest.fixture
async def odoo() -> AsyncIterator[Simulator]:
    async with odoo_simulator() as simulator:
        yield simulator


# Stale soon but revalidated in the background for a minute: however slow the machine, the
# burst that follows the wait falls inside stale-while-revalidate.
REVALIDATING = {"catalog": [2.0, 60.0, 600.0]}


@asynccontextmanager
async def _two_replicas(
    tmp_path: Path, freshness: dict[str, list[float]]
) -> AsyncIterator[tuple[Gateway, Gateway]]:
    redis_url = need_redis()
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    async with AsyncExitStack() as stack:
        first, second = [
            await stack.enter_async_context(
                running_gateway(
                    make_settings(
                        url, tmp_path / "var", redis_url=redis_url, cache_freshness=freshness
                    )
                )
            )
            for _ in range(2)
        ]
        yield first, second


@pytest.fixture
async def replicas(tmp_path: Path, odoo: Simulator) -> AsyncIterator[tuple[Gateway, Gateway]]:
    async with _two_replicas(tmp_path, FRESHNESS) as pair:
        yield pair


@pytest.fixture
async def revalidating(tmp_path: Path, odoo: Simulator) -> AsyncIterator[tuple[Gateway, Gateway]]:
    async with _two_replicas(tmp_path, REVALIDATING) as pair:
        yield pair


@pytest.fixture
async def long_lived(tmp_path: Path, odoo: Simulator) -> AsyncIterator[tuple[Gateway, Gateway]]:
    """Two replicas whose entries stay fresh for ten minutes."""
    async with _two_replicas(tmp_path, {"catalog": [600.0, 600.0, 600.0]}) as pair:
        yield pair


async def _odoo_tenant(first: Gateway, second: Gateway, odoo: Simulator) -> tuple[str, str]:
    tenant = f"oc-{uuid.uuid4().hex[:8]}"
    client, secret = await first.add_tenant(tenant)
    second.credentials[client] = (client, secret)
    second.credentials["operator"] = await first.add_client("operator", None)
    settings, secrets = odoo.binding()
    response = await first.http.put(
        f"/admin/tenants/{tenant}/bindings",
        json={"adapter": "odoo", "settings": settings, "secrets": secrets},
        headers=await first.headers("operator"),
    )
    assert response.status_code == 200, response.text
    return tenant, client


async def _template_reads(odoo: Simulator) -> int:
    stats: Any = await odoo.control("GET", "stats")
    return int(stats["calls"].get("product.template.search_read", 0))


async def test_many_concurrent_misses_across_two_replicas_cost_one_backend_call(
    long_lived: tuple[Gateway, Gateway], odoo: Simulator
) -> None:
    # Fresh for long: on a loaded machine the burst may outlast a short freshness, and a
    # refresh of the stale entry would rightly be a second call.
    first, second = long_lived
    _, client = await _odoo_tenant(first, second, odoo)
    path = f"/v1/products/{public_id(PRODUCT, DEMO.products[30].code)}"
    headers_a, headers_b = await first.headers(client), await second.headers(client)
    before = await _template_reads(odoo)

    async def read(gateway: Gateway, headers: dict[str, str]) -> tuple[int, str]:
        response = await gateway.http.get(path, headers=headers)
        return response.status_code, response.headers.get("cache-status", "")

    results = await asyncio.gather(
        *(read(first, headers_a) for _ in range(250)),
        *(read(second, headers_b) for _ in range(250)),
    )
    assert {status for status, _ in results} == {200}
    assert await _template_reads(odoo) - before == 1
    assert sum(1 for _, cache in results if cache.endswith("fwd=miss")) >= 1


async def test_invalidation_reaches_the_other_replicas_near_cache(
    long_lived: tuple[Gateway, Gateway], odoo: Simulator
) -> None:
    """The first replica holds the product in its near-cache (fresh for ten minutes); the
    product changes in the ERP and the second replica invalidates it. Only the message
    through Redis pub/sub can make the first replica's answer change."""
    first, second = long_lived
    for gateway in (first, second):
        store = gateway.services.cache.store
        assert isinstance(store, RedisCacheStore)
        await asyncio.wait_for(store.subscribed.wait(), 60)
    tenant, client = await _odoo_tenant(first, second, odoo)
    product = DEMO.products[31]
    path = f"/v1/products/{public_id(PRODUCT, product.code)}"
    headers = await first.headers(client)
    assert (await first.http.get(path, headers=headers)).json()["title"] == product.title
    held = await first.http.get(path, headers=headers)
    assert held.headers["cache-status"] == "retail-gateway; hit"
    assert first.services.cache.store.peek(first.services.cache.key(tenant, "catalog", path, []))

    erp = OdooClient(odoo.url, "demo", "admin", "admin")
    try:
        [template] = await erp.search_read(
            "product.template", [["default_code", "=", product.code]], ["id"]
        )
        await erp.execute("product.template", "write", [template["id"]], {"name": "Renamed"})
    finally:
        await erp.aclose()
    removed = await second.http.post(
        f"/admin/tenants/{tenant}/cache/invalidate",
        json={"tags": [f"product:{public_id(PRODUCT, product.code)}"]},
        headers=await second.headers("operator"),
    )
    assert removed.json() == {"removed": 1}

    deadline = time.monotonic() + 60
    while True:  # the first replica answers from its near-cache until the message arrives
        after = await first.http.get(path, headers=headers)
        if after.json()["title"] != product.title:
            break
        assert after.headers["cache-status"] == "retail-gateway; hit"
        assert time.monotonic() < deadline, "the first replica kept its near-cache entry"
        await asyncio.sleep(0.02)
    assert after.json()["title"] == "Renamed"
    assert after.headers["cache-status"] == "retail-gateway; fwd=miss"


async def test_with_the_backend_down_cached_reads_answer_stale(
    replicas: tuple[Gateway, Gateway], odoo: Simulator
) -> None:
    first, second = replicas
    _, client = await _odoo_tenant(first, second, odoo)
    headers = await first.headers(client)
    cached = f"/v1/products/{public_id(PRODUCT, DEMO.products[32].code)}"
    uncached = f"/v1/products/{public_id(PRODUCT, DEMO.products[33].code)}"
    fresh = await first.http.get(cached, headers=headers)
    assert fresh.status_code == 200
    await odoo.control("POST", "faults", {"down": {"mode": "503"}})
    try:
        await asyncio.sleep(1.2)  # past fresh and past stale-while-revalidate
        stale = await first.http.get(cached, headers=headers)
        assert stale.status_code == 200
        assert stale.content == fresh.content
        status = stale.headers["cache-status"]
        assert status.startswith("retail-gateway; hit; ttl=-"), status
        assert int(status.rsplit("=", 1)[1]) < 0
        nothing = await first.http.get(uncached, headers=headers)
        assert nothing.status_code == 503
        assert nothing.headers["content-type"] == "application/problem+json"
        assert int(nothing.headers["retry-after"]) >= 1
    finally:
        await odoo.control("DELETE", "faults")


async def test_a_stale_entry_is_served_while_one_refresh_runs(
    revalidating: tuple[Gateway, Gateway], odoo: Simulator
) -> None:
    first, second = revalidating
    _, client = await _odoo_tenant(first, second, odoo)
    headers = await first.headers(client)
    path = f"/v1/products/{public_id(PRODUCT, DEMO.products[34].code)}"
    filled = await first.http.get(path, headers=headers)
    await asyncio.sleep(2.3)  # stale, well within stale-while-revalidate
    before = await _template_reads(odoo)
    responses = await asyncio.gather(*(first.http.get(path, headers=headers) for _ in range(20)))
    statuses = [r.headers["cache-status"] for r in responses]
    # Every one answered from the stale entry, none waiting for the backend.
    assert all(s.startswith("retail-gateway; hit; ttl=-") for s in statuses), statuses
    assert all(r.content == filled.content for r in responses)
    await first.services.cache.drain()
    assert await _template_reads(odoo) - before == 1  # one background refresh
    again = await first.http.get(path, headers=headers)
    assert again.headers["cache-status"] == "retail-gateway; hit"  # fresh again
    assert await _template_reads(odoo) - before == 1
