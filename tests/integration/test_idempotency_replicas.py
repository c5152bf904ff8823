"""Idempotency across replicas: the same key sent 20 times at once to two gateway instances
on one PostgreSQL creates exactly one order, one customer, one reservation; every answer is
that resource (first or replayed) or "still in flight" (409); an expired key is pruned and may
be used afresh, and the worker loop prunes on its own schedule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from adapters.sandbox import tables as sandbox_tables
from app.orders.worker import OutboxWorker
from app.settings import Settings, WorkerSettings
from app.store.models import IdempotencyRecord, OrderRow, ReservationRow
from app.store.types import utcnow
from tests.support import payloads
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.orders import wait_for
from tests.support.services import create_database, drop_database
from tests.support.stock import set_stock

CLIENT = "twins-client"


@pytest.fixture
async def replicas(tmp_path: Path) -> AsyncIterator[tuple[Gateway, Gateway]]:
    url = await create_database()
    try:
        async with AsyncExitStack() as stack:
            first = await stack.enter_async_context(
                running_gateway(make_settings(url, tmp_path / "var"))
            )
            second = await stack.enter_async_context(
                running_gateway(make_settings(url, tmp_path / "var"))
            )
            _, secret = await first.add_tenant("twins")
            second.credentials[CLIENT] = (CLIENT, secret)
            yield first, second
    finally:
        await drop_database(url)


async def test_one_key_twenty_times_at_once_over_two_replicas_makes_one_order(
    replicas: tuple[Gateway, Gateway],
) -> None:
    first, second = replicas
    body, key = payloads.order(), payloads.idem()
    headers = [await gw.headers(CLIENT, **{"Idempotency-Key": key}) for gw in (first, second)]

    async def send(index: int) -> tuple[int, str | None, bool]:
        gw = (first, second)[index % 2]
        response = await gw.http.post("/v1/orders", json=body, headers=headers[index % 2])
        replayed = response.headers.get("idempotent-replayed") == "true"
        return response.status_code, response.json().get("id"), replayed

    results = await asyncio.gather(*(send(i) for i in range(20)))
    assert {status for status, _, _ in results} <= {202, 409}
    accepted = {order_id for status, order_id, _ in results if status == 202}
    assert len(accepted) == 1
    async with first.services.db.session("twins") as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OrderRow)
            .where(OrderRow.external_reference == body["external_reference"])
        )
    assert count == 1
    # Once the first has finished, every repeat is a replay of it.
    for gw, header in zip((first, second), headers, strict=True):
        again = await gw.http.post("/v1/orders", json=body, headers=header)
        assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] in accepted


async def test_expired_keys_are_pruned_and_free_again(replicas: tuple[Gateway, Gateway]) -> None:
    first, _ = replicas
    key = payloads.idem()
    response = await first.http.post(
        "/v1/orders",
        json=payloads.order(),
        headers=await first.headers(CLIENT, **{"Idempotency-Key": key}),
    )
    assert response.status_code == 202
    async with first.services.db.session("twins", write=True) as session:
        await session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == key)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert await first.services.idempotency.prune() >= 1
    fresh = await first.http.post(
        "/v1/orders",
        json=payloads.order(),
        headers=await first.headers(CLIENT, **{"Idempotency-Key": key}),
    )
    assert fresh.status_code == 202 and "idempotent-replayed" not in fresh.headers
    assert fresh.json()["id"] != response.json()["id"]


async def _twenty_at_once(
    replicas: tuple[Gateway, Gateway], path: str, body: dict[str, Any], created: int
) -> set[str]:
    """POST one body under one key 20 times at once, alternating replicas; the ids created."""
    key = payloads.idem()
    headers = [await gw.headers(CLIENT, **{"Idempotency-Key": key}) for gw in replicas]

    async def send(index: int) -> tuple[int, str | None]:
        response = await replicas[index % 2].http.post(path, json=body, headers=headers[index % 2])
        return response.status_code, response.json().get("id")

    results = await asyncio.gather(*(send(i) for i in range(20)))
    assert {status for status, _ in results} <= {created, 409}, results
    ids = {found for status, found in results if status == created and found}
    assert len(ids) == 1, results
    for gw, header in zip(replicas, headers, strict=True):  # once done, repeats replay it
        again = await gw.http.post(path, json=body, headers=header)
        assert again.status_code == created and again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] in ids
    return ids


async def test_one_key_twenty_times_at_once_over_two_replicas_makes_one_customer(
    replicas: tuple[Gateway, Gateway],
) -> None:
    body = payloads.customer()
    await _twenty_at_once(replicas, "/v1/customers", body, 201)
    async with replicas[0].services.db.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(sandbox_tables.customers)
            .where(
                sandbox_tables.customers.c.dataset == "twins",
                sandbox_tables.customers.c.email == body["email"],
            )
        )
    assert count == 1


async def test_one_key_twenty_times_at_once_over_two_replicas_makes_one_reservation(
    replicas: tuple[Gateway, Gateway],
) -> None:
    first, second = replicas
    await set_stock(first, "twins", payloads.SKU_B, {"DC1": (50, 0, 0)})
    await second.services.cache.invalidate("twins", [f"sku:{payloads.SKU_B}"])
    body = {"lines": [{"sku": payloads.SKU_B, "quantity": 3}], "channel": "web", "ttl_seconds": 600}
    [reservation_id] = await _twenty_at_once(replicas, "/v1/inventory/reservations", body, 201)
    async with first.services.db.session("twins") as session:
        rows = (await session.scalars(select(ReservationRow))).all()
    assert [(row.id, row.status) for row in rows] == [(reservation_id, "active")]
    available = await first.http.get(
        "/v1/availability",
        params={"sku": payloads.SKU_B, "channel": "web"},
        headers=await first.headers(CLIENT),
    )
    assert available.json()["data"][0]["available"] == 47  # held once


async def test_the_worker_loop_prunes_expired_keys_on_its_schedule(tmp_path: Path) -> None:
    """Not a direct prune() call: the worker loop, running, removes a key once it expires
    (GATEWAY_IDEMPOTENCY_PRUNE_INTERVAL, here 0.2 s)."""
    url = await create_database()
    try:
        quiet = make_settings(url, tmp_path / "var", worker=WorkerSettings(embedded=False))
        async with running_gateway(quiet) as gw:
            await gw.add_tenant("twins")
            settings = Settings.from_env(
                {
                    "GATEWAY_IDEMPOTENCY_PRUNE_INTERVAL": "0.2",
                    "GATEWAY_WORKER_POLL_INTERVAL": "0.05",
                }
            ).worker
            worker = OutboxWorker(
                gw.services.db,
                gw.services.backends,
                settings,
                idempotency=gw.services.idempotency,
                name="pruner",
            )
            stop = asyncio.Event()
            loop = asyncio.create_task(worker.run(stop))
            try:
                key = payloads.idem()
                placed = await gw.http.post(
                    "/v1/orders",
                    json=payloads.order(),
                    headers=await gw.headers(CLIENT, **{"Idempotency-Key": key}),
                )
                assert placed.status_code == 202
                # The loop is cycling (it delivered the order), past its first prune.
                await gw.wait_for_status(CLIENT, placed.json()["id"], {"accepted"}, timeout=60)

                async def records() -> int:
                    async with gw.services.db.session("twins") as session:
                        return int(
                            await session.scalar(
                                select(func.count())
                                .select_from(IdempotencyRecord)
                                .where(IdempotencyRecord.key == key)
                            )
                            or 0
                        )

                assert await records() == 1
                async with gw.services.db.session("twins", write=True) as session:
                    await session.execute(
                        update(IdempotencyRecord)
                        .where(IdempotencyRecord.key == key)
                        .values(expires_at=utcnow() - timedelta(seconds=1))
                    )

                async def pruned() -> bool:
                    return await records() == 0

                await wait_for(pruned)
            finally:
                stop.set()
                await loop
    finally:
        await drop_database(url)
