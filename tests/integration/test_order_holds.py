"""An accepted order holds its stock until the backend confirms it, and then the backend's own
`reserved` takes over: availability drops once, when the order is taken, and neither rises nor
drops again when the order is posted; a cancelled order gives its stock back. With the worker
driven by the test, on SQLite and PostgreSQL, against the sandbox backend (which reserves stock
at its warehouse for each sale it accepts)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import payloads
from tests.support.gateway import Gateway, gateway_for_own_workers
from tests.support.stock import set_stock

pytestmark = pytest.mark.slow
TENANT, CLIENT = "holds", "holds-client"
SKU = payloads.SKU_B


@pytest.fixture(params=["sqlite", "postgres"])
async def gw(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with gateway_for_own_workers(request.param, tmp_path, TENANT) as gateway:
        yield gateway


async def _available(gw: Gateway) -> int:
    response = await gw.http.get(
        "/v1/availability", params={"sku": SKU, "channel": "web"}, headers=await gw.headers(CLIENT)
    )
    assert response.status_code == 200, response.text
    return int(response.json()["data"][0]["available"])


async def _order(gw: Gateway, quantity: int) -> str:
    body = payloads.order(
        lines=[
            {"sku": SKU, "quantity": quantity, "unit_price": {"amount": "5.00", "currency": "EUR"}}
        ]
    )
    response = await gw.http.post(
        "/v1/orders",
        json=body,
        headers=await gw.headers(CLIENT, **{"Idempotency-Key": payloads.idem()}),
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def _drain(gw: Gateway) -> None:
    while await gw.services.worker.run_once():
        pass


async def test_an_order_holds_its_stock_until_the_backend_takes_it_over(gw: Gateway) -> None:
    await set_stock(gw, TENANT, SKU, {"DC1": (50, 0, 0)})
    assert await _available(gw) == 50
    order_id = await _order(gw, 7)
    assert await _available(gw) == 43  # held by the gateway: not yet in the backend
    # The delivery leaves the cached stock as it was (taken before the post): the order's
    # hold keeps counting against it until the stock is read anew.
    await _drain(gw)
    status = await gw.http.get(f"/v1/orders/{order_id}", headers=await gw.headers(CLIENT))
    assert status.json()["status"] == "accepted"
    levels = await gw.http.get(
        "/v1/inventory", params={"sku": SKU, "location": "DC1"}, headers=await gw.headers(CLIENT)
    )
    assert levels.json()["data"][0]["reserved"] == 7  # now the backend holds it
    assert await _available(gw) == 43  # ... and only once
    await gw.services.cache.invalidate(TENANT, [f"sku:{SKU}"])  # a snapshot that has it
    assert await _available(gw) == 43


async def test_a_cancelled_order_gives_its_stock_back(gw: Gateway) -> None:
    await set_stock(gw, TENANT, SKU, {"DC1": (20, 0, 0)})
    order_id = await _order(gw, 5)
    assert await _available(gw) == 15
    cancelled = await gw.http.post(
        f"/v1/orders/{order_id}/cancel", headers=await gw.headers(CLIENT)
    )
    assert cancelled.status_code == 200, cancelled.text
    assert await _available(gw) == 20
