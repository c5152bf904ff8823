"""Intake under concurrency while the embedded worker writes: nothing is lost, nothing doubled.
On SQLite this is what WAL, the busy timeout and BEGIN IMMEDIATE are for."""

from __future__ import annotations

import asyncio

from tests.support import payloads
from tests.support.gateway import Gateway

CLIENT = "acme-client"


async def test_forty_concurrent_orders_are_all_accepted_and_posted(gateway: Gateway) -> None:
    bodies = [payloads.order(channel="marketplace") for _ in range(40)]

    async def place(body: dict[str, object]) -> str:
        response = await gateway.http.post(
            "/v1/orders",
            json=body,
            headers=await gateway.headers(CLIENT, **{"Idempotency-Key": payloads.idem()}),
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    ids = await asyncio.gather(*(place(body) for body in bodies))
    assert len(set(ids)) == 40
    # One poller, order after order: forty polling at once would take the event loop (and
    # the pool) from the worker whose progress they are waiting for.
    finished = [
        await gateway.wait_for_status(CLIENT, order_id, {"accepted"}, timeout=60)
        for order_id in ids
    ]
    assert {order["status"] for order in finished} == {"accepted"}
    assert len({order["backend_reference"] for order in finished}) == 40


async def test_concurrent_requests_with_one_key_create_one_order(gateway: Gateway) -> None:
    body = payloads.order()
    key = payloads.idem()

    async def send() -> tuple[int, str | None]:
        response = await gateway.http.post(
            "/v1/orders",
            json=body,
            headers=await gateway.headers(CLIENT, **{"Idempotency-Key": key}),
        )
        return response.status_code, response.json().get("id")

    results = await asyncio.gather(*(send() for _ in range(10)))
    statuses = [status for status, _ in results]
    assert set(statuses) <= {202, 409}, statuses
    assert 202 in statuses
    assert len({order_id for status, order_id in results if status == 202}) == 1
    listed = await gateway.http.get(
        "/v1/orders",
        params={"external_reference": body["external_reference"]},
        headers=await gateway.headers(CLIENT),
    )
    assert len(listed.json()["data"]) == 1


async def test_a_duplicate_reference_among_concurrent_orders_fails_alone(
    gateway: Gateway,
) -> None:
    """Orders arriving together are stored together; one that cannot be stored (its reference
    was just taken by another) is refused alone, and every other is taken."""
    bodies = [payloads.order(channel="marketplace") for _ in range(12)]
    bodies.append({**bodies[5]})  # the same reference again, under another key

    async def place(body: dict[str, object]) -> tuple[int, dict[str, object]]:
        response = await gateway.http.post(
            "/v1/orders",
            json=body,
            headers=await gateway.headers(CLIENT, **{"Idempotency-Key": payloads.idem()}),
        )
        return response.status_code, response.json()

    results = await asyncio.gather(*(place(body) for body in bodies))
    statuses = sorted(status for status, _ in results)
    assert statuses == [202] * 12 + [409], results
    refused = next(answer for status, answer in results if status == 409)
    taken = {str(answer["id"]) for status, answer in results if status == 202}
    assert refused["existing_id"] in taken
    for body in bodies[:12]:
        listed = await gateway.http.get(
            "/v1/orders",
            params={"external_reference": body["external_reference"], "channel": "marketplace"},
            headers=await gateway.headers(CLIENT),
        )
        assert len(listed.json()["data"]) == 1
