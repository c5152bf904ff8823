"""The backend shield across two gateway replicas on one Redis, in front of the Odoo simulator,
which counts what it receives: the backend sees no more than its budget while checkout
(orders posted by the workers) gets through and browsing is refused; with the backend down
the breaker opens, cached reads answer stale, orders are accepted and posted after recovery;
one replica's 429 with Retry-After holds every replica back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from adapters._demo import demo_dataset
from app.publicids import CUSTOMER, PRODUCT, public_id
from app.settings import WorkerSettings
from tests.support import payloads
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.odoo import Simulator, odoo_simulator
from tests.support.services import need_redis

pytestmark = [pytest.mark.redis, pytest.mark.slow]
DEMO = demo_dataset()
FRESHNESS = {
    "catalog": [0.3, 0.0, 600.0],
    "customers": [0.3, 0.0, 600.0],
    "inventory": [0.3, 0.0, 600.0],
}
WORKER = WorkerSettings(embedded=True, poll_interval=0.05, backoff_base=0.2, backoff_max=1.0)


@pytest.fixture
async def odoo() -> AsyncIterator[Simulator]:
    async with odoo_simulator() as simulator:
        yield simulator


@pytest.fixture
async def replicas(tmp_path: Path) -> AsyncIterator[tuple[Gateway, Gateway]]:
    redis_url = need_redis()
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    settings = make_settings(
        url, tmp_path / "var", redis_url=redis_url, cache_freshness=FRESHNESS, worker=WORKER
    )
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(running_gateway(settings))
        second = await stack.enter_async_context(running_gateway(settings))
        yield first, second


async def _tenant(
    first: Gateway, second: Gateway, odoo: Simulator, shield: dict[str, Any]
) -> tuple[str, str]:
    tenant = f"sh-{uuid.uuid4().hex[:8]}"
    client, secret = await first.add_tenant(tenant)
    second.credentials[client] = (client, secret)
    await first.add_client("operator", None)
    settings, secrets = odoo.binding()
    response = await first.http.put(
        f"/admin/tenants/{tenant}/bindings",
        json={"adapter": "odoo", "settings": {**settings, "shield": shield}, "secrets": secrets},
        headers=await first.headers("operator"),
    )
    assert response.status_code == 200, response.text
    return tenant, client


async def _stats(odoo: Simulator) -> dict[str, Any]:
    stats: Any = await odoo.control("GET", "stats")
    return dict(stats)


async def _order(gw: Gateway, client: str, customer: int = 0) -> str:
    response = await gw.http.post(
        "/v1/orders",
        json=payloads.order(customer={"id": public_id(CUSTOMER, DEMO.customers[customer].code)}),
        headers=await gw.headers(client, **{"Idempotency-Key": payloads.idem()}),
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def test_the_backend_sees_no_more_than_its_budget_and_checkout_gets_through(
    replicas: tuple[Gateway, Gateway], odoo: Simulator
) -> None:
    first, second = replicas
    rate, burst = 40, 4
    # Browsing waits at most 0.1 s for budget: eight browsers queueing for 40 requests a
    # second (each read a miss of two or three requests) must be turned away, whatever pace
    # this machine manages; a longer wait would let a slow run queue every read through.
    shield = {"rate": rate, "burst": burst, "concurrency": 8, "reserve": 2, "browse_wait": 0.1}
    _, client = await _tenant(first, second, odoo, shield)
    await odoo.control("POST", "reset")
    started = time.monotonic()
    orders = [await _order(gw, client, i % 5) for i, gw in enumerate((first, second) * 4)]
    outcomes: list[int] = []

    async def browse(gw: Gateway, offset: int) -> None:
        headers = await gw.headers(client)
        index = offset
        while time.monotonic() - started < 4:
            index += 1
            path = f"/v1/products/{public_id(PRODUCT, DEMO.products[index % 200].code)}"
            outcomes.append((await gw.http.get(path, headers=headers)).status_code)

    await asyncio.gather(*(browse(gw, 20 * k) for k in range(4) for gw in (first, second)))
    for order_id in orders:  # every order reaches the backend: checkout was never starved
        await first.wait_for_status(client, order_id, {"accepted"}, timeout=60)
    elapsed = time.monotonic() - started
    stats = await _stats(odoo)
    total = int(stats["requests"])
    per_second = {int(s): int(n) for s, n in stats["per_second"].items()}
    assert per_second and total == sum(per_second.values())
    assert total <= rate * elapsed + burst, (total, elapsed)
    # Never more than the budget in any stretch of whole seconds: the bucket's burst once,
    # then `rate` a second (5 % for requests granted at a second's end arriving in the next).
    first_second, last_second = min(per_second), max(per_second)
    for start in range(first_second, last_second + 1):
        for end in range(start, last_second + 1):
            seen = sum(per_second.get(s, 0) for s in range(start, end + 1))
            span = end - start + 1
            assert seen <= rate * span * 1.05 + burst, (start, span, seen, per_second)
    assert outcomes.count(503) > 0  # browsing was shed...
    # ...but not starved: once checkout has what it needs, browsing has the budget again. (On
    # a loaded machine the posts may have needed every request the budget had during the
    # burst, so the burst's own reads prove nothing either way.)
    headers = await first.headers(client)
    after: list[tuple[int, str]] = []
    for index in range(10):
        path = f"/v1/products/{public_id(PRODUCT, DEMO.products[150 + index].code)}"
        response = await first.http.get(path, headers=headers)
        after.append((response.status_code, response.headers.get("cache-status", "")))
        if after[-1] == (200, "retail-gateway; fwd=miss"):  # fetched from the backend now
            break
        await asyncio.sleep(0.3)
    assert after[-1] == (200, "retail-gateway; fwd=miss"), after


async def test_with_the_backend_down_the_breaker_opens_reads_go_stale_and_orders_wait(
    replicas: tuple[Gateway, Gateway], odoo: Simulator
) -> None:
    first, second = replicas
    tenant, client = await _tenant(
        first,
        second,
        odoo,
        {"rate": 500, "burst": 50, "failures": 3, "cooldown": 2, "browse_wait": 0.05},
    )
    headers = await first.headers(client)
    path = f"/v1/products/{public_id(PRODUCT, DEMO.products[40].code)}"
    assert (await first.http.get(path, headers=headers)).status_code == 200
    # The simulator stops listening for 4 s (its control API too), then comes back.
    await odoo.control("POST", "faults", {"down": {"mode": "refuse", "seconds": 4}})
    try:
        await asyncio.sleep(0.4)  # the cached product is no longer fresh
        for index in range(4):  # failures open the breaker
            other = f"/v1/products/{public_id(PRODUCT, DEMO.products[41 + index].code)}"
            assert (await first.http.get(other, headers=headers)).status_code == 503
        state = (
            await first.http.get(
                f"/admin/tenants/{tenant}/shield", headers=await first.headers("operator")
            )
        ).json()
        assert state["data"][0]["state"]["breaker"] == "open"
        ready = (await second.http.get("/health/ready")).json()
        assert ready["status"] == "ok"  # a tenant's ERP down never takes a replica out
        stale = await second.http.get(path, headers=await second.headers(client))
        assert stale.status_code == 200
        assert stale.headers["cache-status"].startswith("retail-gateway; hit; ttl=-")
        order_id = await _order(second, client)
        await asyncio.sleep(0.5)
        assert (await first.wait_for_status(client, order_id, {"received"}))["status"] == "received"
    finally:
        await asyncio.sleep(4)  # until it listens again
    delivered = await first.wait_for_status(client, order_id, {"accepted"}, timeout=60)
    assert delivered["backend_reference"]
    state = (
        await first.http.get(
            f"/admin/tenants/{tenant}/shield", headers=await first.headers("operator")
        )
    ).json()
    assert state["data"][0]["state"]["breaker"] == "closed"


async def test_one_replicas_429_holds_every_replica_back(
    replicas: tuple[Gateway, Gateway], odoo: Simulator
) -> None:
    first, second = replicas
    _, client = await _tenant(first, second, odoo, {"rate": 500, "burst": 50, "browse_wait": 0.05})
    # One read in five seconds: the 429's Retry-After (5 s) outlasts the five reads below
    # on a loaded machine (with 1 s, the pause could lapse before the last of them).
    await odoo.control(
        "POST", "faults", {"rate_limit": {"rps": 0.2, "burst": 1, "models": ["product.template"]}}
    )
    try:
        headers_a, headers_b = await first.headers(client), await second.headers(client)
        for index in range(3):  # the second read meets the backend's 429
            await first.http.get(
                f"/v1/products/{public_id(PRODUCT, DEMO.products[60 + index].code)}",
                headers=headers_a,
            )
        before = int((await _stats(odoo))["requests"])
        refused = [
            await second.http.get(
                f"/v1/products/{public_id(PRODUCT, DEMO.products[70 + index].code)}",
                headers=headers_b,
            )
            for index in range(5)
        ]
        after = int((await _stats(odoo))["requests"])
        assert [r.status_code for r in refused] == [503] * 5
        assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
        assert after == before  # the paused backend heard nothing from the other replica
    finally:
        await odoo.control("DELETE", "faults")
