"""Order intake on PostgreSQL: orders accepted durably per second by the gateway (token, quota,
idempotency key, validation, the order with its event and outbox entry in one transaction)
against a bare Litestar handler inserting one row per request into the same database; then the
time until two outbox workers have posted every order to the Odoo simulator, which takes only
50 orders a second (429 + Retry-After beyond), and a count of the sale orders there: exactly
one per order."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import asyncpg

from adapters._demo import demo_dataset
from adapters.odoo.client import OdooClient
from bench import load
from bench.procs import Stack, odoo_tenant, wait_http
from bench.report import Row

DEMO = demo_dataset()
BACKEND_RATE = 50
CONNECTIONS = 16
# Every order new (its reference and key carry {uid}); one customer by e-mail and an active
# SKU, so intake validates against the cache and asks the backend nothing per order.
TEMPLATE = json.dumps(
    {
        "channel": "web",
        "external_reference": "BENCH-{uid}",
        "customer": {
            "email": "bench-shopper@example.com",
            "first_name": "Ana",
            "last_name": "Smit",
        },
        "lines": [
            {
                "sku": next(p for p in DEMO.products if p.status == "active").variants[0].sku,
                "quantity": 1,
                "unit_price": {"amount": "10.00", "currency": "EUR"},
            }
        ],
        "shipping_address": {
            "first_name": "Ana",
            "last_name": "Smit",
            "line1": "Damstraat 1",
            "city": "Amsterdam",
            "postal_code": "1012 AB",
            "country": "NL",
        },
        "placed_at": "2026-11-28T10:00:00Z",
    }
)


def intake(stack: Stack, database_url: str, seconds: float) -> list[Row]:
    tenant = "bench-intake"
    asyncio.run(_create_bare_table(database_url))
    bare = stack.bare(database_url=database_url)
    wait_http(bare, bare.url + "/v1/products/x")
    baseline = load.post_unique(
        bare.url + "/v1/orders", TEMPLATE, connections=CONNECTIONS, seconds=seconds
    )
    bare.stop()
    bare_rows = asyncio.run(_count(database_url, "SELECT count(*) FROM bare_orders"))

    simulator = stack.simulator("odoo-intake")
    gateway = stack.gateway("gw-intake", database_url, workers=2, var="intake")
    shield = {"rate": 2000, "burst": 200, "concurrency": 32}
    token = odoo_tenant(gateway, stack, simulator, tenant, shield=shield, var="intake")
    headers = {"Authorization": f"Bearer {token}"}
    _post_json(
        simulator.url + "/_sim/faults",
        {"rate_limit": {"rps": BACKEND_RATE, "models": ["sale.order"], "methods": ["create"]}},
    )
    stack.worker("worker-intake-1", database_url)
    stack.worker("worker-intake-2", database_url)
    # Orders first, so the SKU is in the cache, the customer exists in Odoo and the workers
    # have started and posted (their start-up is not in the measurement).
    load.post_unique(
        gateway.url + "/v1/orders", TEMPLATE, connections=1, seconds=1, headers=headers
    )
    before = _settled_count(database_url, tenant)
    _wait_posted(database_url, tenant, before, timeout=60)
    intake_began = time.monotonic()
    measured = load.post_unique(
        gateway.url + "/v1/orders",
        TEMPLATE,
        connections=CONNECTIONS,
        seconds=seconds,
        headers=headers,
    )
    total = _settled_count(database_url, tenant)  # requests in flight when the load ended
    accepted = total - before
    drained = _wait_posted(database_url, tenant, total, timeout=max(120.0, total / 10))
    drain_seconds = time.monotonic() - intake_began
    total = asyncio.run(_orders(database_url, tenant))  # the final word, should any be late
    copies = asyncio.run(_sales_per_order(simulator.url))
    ours = asyncio.run(_order_ids(database_url, tenant))
    exactly_once = sum(1 for order_id in ours if copies.get(order_id) == 1)
    gateway.stop()
    simulator.stop()
    ratio = measured.rps / baseline.rps if baseline.rps else 0.0
    return [
        Row(
            f"intake: orders accepted durably, PostgreSQL, {CONNECTIONS} conns",
            f"{measured.rps:,.0f} orders/s (p50 {measured.p50_ms:.1f} ms, p99 "
            f"{measured.p99_ms:.1f} ms; {accepted:,} stored, {measured.errors} errors)",
            f"bare insert {baseline.rps:,.0f} orders/s ({bare_rows:,} rows)",
            f"ratio {ratio:.2f}",
            ">= 0.5",
            ratio >= 0.5 and measured.errors == 0 and accepted >= measured.requests,
        ),
        Row(
            f"intake: posted to a backend taking {BACKEND_RATE} orders/s (2 workers)",
            f"{drained:,} of {total:,} posted {drain_seconds:.0f} s after intake began",
            f"{total / BACKEND_RATE:.0f} s at the backend's {BACKEND_RATE}/s",
            f"{total / max(drain_seconds, 0.001):.0f} orders/s posted",
            "(reported)",
            drained == total,
        ),
        Row(
            "intake: sale orders in the backend per order",
            f"{exactly_once:,} of {len(ours):,} exactly once",
            f"{sum(1 for c in copies.values() if c > 1)} duplicated",
            f"{exactly_once / max(1, len(ours)):.0%}",
            "100%",
            exactly_once == len(ours),
        ),
    ]


def _post_json(url: str, body: dict[str, Any]) -> None:
    import httpx

    httpx.post(url, json=body).raise_for_status()


async def _create_bare_table(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bare_orders (id text PRIMARY KEY, body jsonb)"
        )
    finally:
        await conn.close()


async def _count(database_url: str, query: str, *args: Any) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(query, *args) or 0)
    finally:
        await conn.close()


async def _orders(database_url: str, tenant: str) -> int:
    return await _count(database_url, "SELECT count(*) FROM orders WHERE tenant_id = $1", tenant)


async def _order_ids(database_url: str, tenant: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT id FROM orders WHERE tenant_id = $1", tenant)
        return [row["id"] for row in rows]
    finally:
        await conn.close()


def _settled_count(database_url: str, tenant: str) -> int:
    """The tenant's order count once it stops growing."""
    seen: list[int] = []
    while len(seen) < 3 or len(set(seen[-3:])) > 1:  # the same for a second
        time.sleep(0.5)
        seen.append(asyncio.run(_orders(database_url, tenant)))
    return seen[-1]


def _wait_posted(database_url: str, tenant: str, total: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    posted = 0
    while time.monotonic() < deadline:
        posted = asyncio.run(
            _count(
                database_url,
                "SELECT count(*) FROM orders WHERE tenant_id = $1 AND status <> 'received'",
                tenant,
            )
        )
        if posted >= total:
            break
        time.sleep(0.25)
    return posted


async def _sales_per_order(url: str) -> Counter[str]:
    client = OdooClient(url, "demo", "admin", "admin", timeout=60)
    try:
        rows = await client.search_read(
            "sale.order", [["client_order_ref", "=like", "ord_%"]], ["client_order_ref", "state"]
        )
    finally:
        await client.aclose()
    return Counter(row["client_order_ref"] for row in rows if row["state"] != "cancel")
