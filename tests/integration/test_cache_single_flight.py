"""Single-flight when the one load fails: two gateway replicas on one real Redis in front of
the Odoo simulator (which counts every request on arrival, also those its faults turn away).
Whoever waits for a load that fails learns it at once, from the failure the load left in
Redis: a stale entry within stale-if-error, or the 503 with Retry-After; nobody sits out the
lock, and nobody calls the backend again for that key while the failure stands.

The replicas' locks here last 300 s, far beyond the deadline each burst is given, so a waiter
that waited for the lock to expire would fail the test."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters._demo import demo_dataset
from app.publicids import PRODUCT, public_id
from app.settings import WorkerSettings
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.odoo import Simulator, odoo_simulator
from tests.support.services import need_redis

pytestmark = [pytest.mark.redis, pytest.mark.slow]
DEMO = demo_dataset()
FRESHNESS = {"catalog": [0.5, 0.5, 600.0]}
LOCK = 300.0  # no burst may take anywhere near this
DEADLINE = 60.0  # generous for a loaded machine, and far below LOCK
BURST = 60  # reads per replica


@pytest.fixture
async def odoo() -> AsyncIterator[Simulator]:
    async with odoo_simulator() as simulator:
        yield simulator


@pytest.fixture
async def replicas(tmp_path: Path, odoo: Simulator) -> AsyncIterator[tuple[Gateway, Gateway]]:
    redis_url = need_redis()
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    async with AsyncExitStack() as stack:
        gateways = []
        for _ in range(2):
            settings = make_settings(
                url,
                tmp_path / "var",
                redis_url=redis_url,
                cache_freshness=FRESHNESS,
                # No outbox worker: its feed reads would reach the simulator too.
                worker=WorkerSettings(embedded=False),
            )
            gateway = await stack.enter_async_context(running_gateway(settings))
            gateway.services.cache.lock_seconds = LOCK
            # The failure outlives the burst, so the burst is one attempt, however slow.
            gateway.services.cache.failure_seconds = DEADLINE * 2
            gateways.append(gateway)
        first, second = gateways
        tenant = f"sf-{uuid.uuid4().hex[:8]}"
        client, secret = await first.add_tenant(tenant)
        second.credentials[client] = (client, secret)
        await first.add_client("operator", None)
        settings, secrets = odoo.binding()
        response = await first.http.put(
            f"/admin/tenants/{tenant}/bindings",
            json={"adapter": "odoo", "settings": settings, "secrets": secrets},
            headers=await first.headers("operator"),
        )
        assert response.status_code == 200, response.text
        yield first, second


def _client(gateway: Gateway) -> str:
    return next(cid for cid in gateway.credentials if cid != "operator")


async def _requests(odoo: Simulator) -> int:
    """JSON-RPC requests that reached the simulator (one attempt to read a product starts
    with one, which fails while it is down)."""
    stats: Any = await odoo.control("GET", "stats")
    return int(stats["requests"])


async def _burst(replicas: tuple[Gateway, Gateway], path: str) -> list[httpx.Response]:
    """BURST reads of `path` on each replica at once; fails if they are not all answered
    within DEADLINE."""
    first, second = replicas
    headers = [await gateway.headers(_client(gateway)) for gateway in replicas]
    reads = [
        gateway.http.get(path, headers=header)
        for gateway, header in ((first, headers[0]), (second, headers[1]))
        for _ in range(BURST)
    ]
    return list(await asyncio.wait_for(asyncio.gather(*reads), DEADLINE))


async def test_a_failed_load_answers_every_waiter_at_once_on_both_replicas(
    replicas: tuple[Gateway, Gateway], odoo: Simulator
) -> None:
    path = f"/v1/products/{public_id(PRODUCT, DEMO.products[40].code)}"
    await odoo.control("POST", "faults", {"down": {"mode": "503"}})
    try:
        before = await _requests(odoo)
        answers = await _burst(replicas, path)
        assert await _requests(odoo) - before == 1  # one attempt for the whole burst
    finally:
        await odoo.control("DELETE", "faults")
    assert {a.status_code for a in answers} == {503}
    for answer in answers:
        assert answer.headers["content-type"] == "application/problem+json"
        assert int(answer.headers["retry-after"]) >= 1


async def test_with_an_old_entry_waiters_answer_stale_at_once_on_both_replicas(
    replicas: tuple[Gateway, Gateway], odoo: Simulator
) -> None:
    first, _ = replicas
    path = f"/v1/products/{public_id(PRODUCT, DEMO.products[41].code)}"
    fresh = await first.http.get(path, headers=await first.headers(_client(first)))
    assert fresh.status_code == 200
    # Past fresh and past stale-while-revalidate: only stale-if-error may serve it now.
    deadline = asyncio.get_running_loop().time() + DEADLINE
    key = first.services.cache.key(_client(first).removesuffix("-client"), "catalog", path, [])
    while True:
        entry = await first.services.cache.store.get(key)  # stored while the answer went out
        if entry is not None and entry.stale_until < time.time():
            break
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.1)
    await odoo.control("POST", "faults", {"down": {"mode": "503"}})
    try:
        before = await _requests(odoo)
        answers = await _burst(replicas, path)
        assert await _requests(odoo) - before == 1
    finally:
        await odoo.control("DELETE", "faults")
    assert {a.status_code for a in answers} == {200}
    assert {a.content for a in answers} == {fresh.content}
    for answer in answers:
        assert answer.headers["cache-status"].startswith("retail-gateway; hit; ttl=-")


async def test_a_refusing_backend_is_tried_at_most_once_and_everyone_answered(
    replicas: tuple[Gateway, Gateway], odoo: Simulator
) -> None:
    path = f"/v1/products/{public_id(PRODUCT, DEMO.products[42].code)}"
    before = await _requests(odoo)
    # Stops listening (the control API too) for a while: new connections are refused,
    # requests on open ones dropped (and counted). The failure the first attempt leaves
    # outlasts the burst, however long it takes.
    await odoo.control("POST", "faults", {"down": {"mode": "refuse", "seconds": 3}})
    answers = await _burst(replicas, path)
    assert {a.status_code for a in answers} == {503}
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while True:  # back, to be asked what it saw
        try:
            seen = await _requests(odoo)
            break
        except httpx.HTTPError:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.2)
    assert seen - before <= 1


async def test_a_load_failing_otherwise_hands_the_key_on_at_once(
    replicas: tuple[Gateway, Gateway],
) -> None:
    """No product has this id: each load answers 404 and releases the lock, and the waiters
    on the other replica take it over rather than wait for it."""
    answers = await _burst(replicas, f"/v1/products/{public_id(PRODUCT, 'NO-SUCH-CODE')}")
    assert {a.status_code for a in answers} == {404}
