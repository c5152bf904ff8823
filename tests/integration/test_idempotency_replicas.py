"""Idempotency across replicas: the same key sent 20 times at once to two gateway instances
on one PostgreSQL creates exactly one order; every answer is that order (202, first or
replayed) or "still in flight" (409); and an expired key is pruned and may be used afresh."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app.store.models import IdempotencyRecord, OrderRow
from app.store.types import utcnow
from tests.support import payloads
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.services import create_database, drop_database

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
