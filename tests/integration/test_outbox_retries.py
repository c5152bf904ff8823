"""Retrying deliveries the Odoo simulator (a real process) turns away, on SQLite and
PostgreSQL: exponential backoff with jitter inside its bounds and under its cap, a 429's
Retry-After honoured, and retries exhausted after GATEWAY_WORKER_MAX_ATTEMPTS attempts ending
in a dead letter. The worker is driven by the test; where a retry is due far off, the test
makes it due now rather than wait."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from adapters.odoo.client import OdooClient
from app.orders.worker import OutboxWorker
from app.settings import Settings, WorkerSettings
from app.store.models import OutboxEntry
from app.store.types import utcnow
from tests.support.gateway import Gateway, gateway_for_own_workers
from tests.support.odoo import Simulator, odoo_simulator
from tests.support.orders import bind_odoo, entries, events, order, place, run_until

pytestmark = pytest.mark.slow
TENANT, CLIENT = "retry", "retry-client"
# A transaction that lost a race in Odoo's database: retryable, answered with HTTP 200 (so
# the shield's breaker stays out of it).
RETRYABLE = {
    "error": {
        "name": "psycopg2.errors.SerializationFailure",
        "models": ["sale.order"],
        "methods": ["create"],
    }
}


@pytest.fixture(params=["sqlite", "postgres"])
async def gw(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with gateway_for_own_workers(request.param, tmp_path) as gateway:
        yield gateway


@pytest.fixture
async def odoo(gw: Gateway) -> AsyncIterator[Simulator]:
    async with odoo_simulator() as simulator:
        await bind_odoo(gw, TENANT, simulator)
        yield simulator


def _worker(gw: Gateway, settings: WorkerSettings) -> OutboxWorker:
    return OutboxWorker(gw.services.db, gw.services.backends, settings, name="w")


async def _due_at(gw: Gateway, order_ids: list[str]) -> dict[str, datetime]:
    async with gw.services.db.session(TENANT) as session:
        rows = (
            await session.scalars(select(OutboxEntry).where(OutboxEntry.subject_id.in_(order_ids)))
        ).all()
    return {row.subject_id: row.available_at for row in rows}


async def _make_due(gw: Gateway) -> None:
    async with gw.services.db.session(TENANT, write=True) as session:
        await session.execute(update(OutboxEntry).values(available_at=utcnow()))


async def test_retries_back_off_exponentially_with_jitter_up_to_the_cap(
    gw: Gateway, odoo: Simulator
) -> None:
    await odoo.control("POST", "faults", RETRYABLE)
    ids = [await place(gw, CLIENT) for _ in range(6)]
    worker = _worker(
        gw,
        WorkerSettings(embedded=False, backoff_base=8.0, backoff_max=20.0, max_attempts=10),
    )
    # attempt n waits between half and all of min(cap, base * 2^(n-1)) seconds
    for attempt, (low, high) in enumerate([(4.0, 8.0), (8.0, 16.0), (10.0, 20.0)], start=1):
        before = utcnow()
        assert await worker.run_once() == 6
        after = utcnow()
        due = await _due_at(gw, ids)
        for order_id, at in due.items():
            assert before + timedelta(seconds=low) <= at <= after + timedelta(seconds=high), (
                attempt,
                order_id,
                at - before,
            )
        # Each failure event says when it happened and when the retry is due: the wait chosen
        # for each order, which jitter spreads (without it they would all be `high`).
        waits = []
        for order_id in ids:
            [failed] = [
                e
                for e in await events(gw, CLIENT, order_id)
                if e["type"] == "order.delivery_failed" and e["detail"]["attempt"] == attempt
            ]
            next_at = datetime.fromisoformat(failed["detail"]["next_attempt_at"])
            assert next_at == due[order_id]
            waits.append((next_at - datetime.fromisoformat(failed["occurred_at"])).total_seconds())
        assert all(low - 1.0 <= wait <= high for wait in waits), (attempt, waits)
        assert max(waits) - min(waits) > 0.25, (attempt, waits)
        await _make_due(gw)
    trail = [e["type"] for e in await events(gw, CLIENT, ids[0])]
    assert trail == ["order.received"] + ["order.delivery_failed"] * 3


async def test_a_429_retry_after_from_odoo_is_honoured(gw: Gateway, odoo: Simulator) -> None:
    # Odoo's rate limit on reading sale orders: one request per 120 s, burst 1.
    configured = time.monotonic()
    await odoo.control(
        "POST",
        "faults",
        {
            "rate_limit": {
                "rps": 1 / 120,
                "burst": 1,
                "models": ["sale.order"],
                "methods": ["search_read"],
            }
        },
    )
    erp = OdooClient(odoo.url, "demo", "admin", "admin")
    try:  # spend the one token: the worker's first look-up is answered 429, Retry-After ~120
        await erp.search_read("sale.order", [], ["id"], limit=1)
    finally:
        await erp.aclose()
    order_id = await place(gw, CLIENT)
    # The backoff alone would retry within 0.1 s.
    worker = _worker(gw, WorkerSettings(embedded=False, backoff_base=0.05, backoff_max=0.1))
    before = utcnow()
    assert await worker.run_once() == 1
    after, elapsed = utcnow(), time.monotonic() - configured
    # Retry-After = ceil(120 - seconds since the token went), so within (120 - elapsed, 120].
    due = (await _due_at(gw, [order_id]))[order_id]
    assert before + timedelta(seconds=120 - elapsed) <= due <= after + timedelta(seconds=120)
    [failed] = [e for e in await events(gw, CLIENT, order_id) if e["type"] != "order.received"]
    assert failed["type"] == "order.delivery_failed"
    assert failed["detail"]["error"] == "BackendOverloaded"
    assert datetime.fromisoformat(failed["detail"]["next_attempt_at"]) == due


async def test_retries_exhausted_after_the_configured_attempts_dead_letter_the_delivery(
    gw: Gateway, odoo: Simulator
) -> None:
    await odoo.control("POST", "faults", RETRYABLE)
    settings = Settings.from_env(
        {
            "GATEWAY_EMBEDDED_WORKER": "0",
            "GATEWAY_WORKER_MAX_ATTEMPTS": "3",
            "GATEWAY_WORKER_BACKOFF_BASE": "0.01",
            "GATEWAY_WORKER_BACKOFF_MAX": "0.02",
        }
    ).worker
    assert settings.max_attempts == 3
    order_id = await place(gw, CLIENT)
    worker = _worker(gw, settings)

    async def dead() -> bool:
        return bool((await order(gw, CLIENT, order_id))["dead_lettered"])

    await run_until(worker, dead)
    trail = await events(gw, CLIENT, order_id)
    assert [e["type"] for e in trail] == [
        "order.received",
        "order.delivery_failed",
        "order.delivery_failed",
        "order.dead_lettered",
    ]
    assert [e["detail"]["attempt"] for e in trail[1:3]] == [1, 2]
    assert trail[-1]["detail"]["attempts"] == 3
    assert trail[-1]["detail"]["reason"].startswith("retries exhausted after 3 attempts")
    [entry] = await entries(gw, TENANT, order_id)
    assert (entry.state, entry.attempts) == ("dead", 3)
    assert (await order(gw, CLIENT, order_id))["status"] == "received"
    # Nothing is retried once dead.
    assert await worker.run_once() == 0
