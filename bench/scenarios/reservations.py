"""Reservations under contention: every request reserves 1 unit of the same SKU (each waits
for the SKU's lock in PostgreSQL), against the same load spread over 64 SKUs (next to no
waiting). Two gateway processes on PostgreSQL and Redis, the demo tenant's sandbox backend with
more stock than the run can take, so every reservation succeeds and the figures compare like
with like."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import asyncpg

from bench import load
from bench.procs import Stack, demo_token
from bench.report import Row

SPREAD = 64
CONNECTIONS = 16
TEMPLATE = json.dumps(
    {
        "lines": [{"sku": "BENCH-HOLD-{slot}", "quantity": 1}],
        "channel": "web",
        "ttl_seconds": 3600,
    }
)


def contention(stack: Stack, database_url: str, seconds: float) -> list[Row]:
    gateway = stack.gateway("gw-reserve", database_url, workers=2, var="reserve")
    token = demo_token(gateway, stack, var="reserve")
    headers = {"Authorization": f"Bearer {token}"}
    asyncio.run(_stock(database_url))
    url = gateway.url + "/v1/inventory/reservations"
    # Warm the stock cache of every SKU, then measure.
    load.post_unique(url, TEMPLATE, connections=4, seconds=1, headers=headers, slots=SPREAD)
    spread = load.post_unique(
        url, TEMPLATE, connections=CONNECTIONS, seconds=seconds, headers=headers, slots=SPREAD
    )
    hot = load.post_unique(
        url, TEMPLATE, connections=CONNECTIONS, seconds=seconds, headers=headers, slots=1
    )
    gateway.stop()
    ratio = hot.rps / spread.rps if spread.rps else 0.0
    return [
        Row(
            f"reservations: one hot SKU, {CONNECTIONS} conns",
            f"{hot.rps:,.0f} reservations/s (p50 {hot.p50_ms:.1f} ms, p99 {hot.p99_ms:.1f} ms, "
            f"{hot.errors} errors)",
            f"{SPREAD} SKUs: {spread.rps:,.0f}/s (p50 {spread.p50_ms:.1f} ms)",
            f"ratio {ratio:.2f}",
            "(reported)",
            hot.errors == 0 and spread.errors == 0,
        )
    ]


async def _stock(database_url: str) -> None:
    """More stock of each bench SKU than any run can reserve, at the demo warehouse."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.executemany(
            "INSERT INTO sandbox_stock (dataset, sku, location, on_hand, reserved, incoming,"
            " safety_stock, updated_at) VALUES ('demo', $1, 'DC1', 1000000000, 0, 0, 0, $2)"
            " ON CONFLICT DO NOTHING",
            [(f"BENCH-HOLD-{slot}", datetime.now(UTC)) for slot in range(SPREAD)],
        )
    finally:
        await conn.close()
