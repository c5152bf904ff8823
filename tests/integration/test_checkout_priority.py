"""Checkout before browsing: stock read for a reservation (and availability at checkout) runs
at checkout priority, so with two replicas sharing a short budget in front of the Odoo
simulator, reservations still succeed while browsing is refused."""

from __future__ import annotations

import asyncio
import time

import pytest

from adapters._demo import demo_dataset
from app.publicids import PRODUCT, public_id
from tests.integration.test_shield import _tenant, odoo, replicas  # noqa: F401 - fixtures
from tests.support import payloads
from tests.support.gateway import Gateway
from tests.support.odoo import Simulator

pytestmark = [pytest.mark.redis, pytest.mark.slow]
DEMO = demo_dataset()
# SKUs with plenty of stock at one location in the demo data the simulator serves.
STOCKED = sorted({row.sku for row in DEMO.stock if row.on_hand - row.reserved >= 20})[:8]


async def test_reservations_get_through_while_browsing_is_refused(
    replicas: tuple[Gateway, Gateway],  # noqa: F811
    odoo: Simulator,  # noqa: F811
) -> None:
    first, second = replicas
    shield = {"rate": 30, "burst": 3, "concurrency": 8, "reserve": 2, "browse_wait": 0.1}
    _, client = await _tenant(first, second, odoo, shield)
    assert len(STOCKED) == 8
    started = time.monotonic()
    browsed: list[int] = []
    reserved: list[int] = []

    async def browse(gw: Gateway, offset: int) -> None:
        headers = await gw.headers(client)
        index = offset
        while time.monotonic() - started < 5:
            index += 1
            path = f"/v1/products/{public_id(PRODUCT, DEMO.products[index % 200].code)}"
            browsed.append((await gw.http.get(path, headers=headers)).status_code)

    async def checkout() -> None:
        await asyncio.sleep(0.5)  # browsing has the budget in its grip by now
        for index, sku in enumerate(STOCKED):  # a SKU not read before: the backend is asked
            gw = (first, second)[index % 2]
            response = await gw.http.post(
                "/v1/inventory/reservations",
                json={"lines": [{"sku": sku, "quantity": 1}], "channel": "web"},
                headers=await gw.headers(client, **{"Idempotency-Key": payloads.idem()}),
            )
            reserved.append(response.status_code)

    await asyncio.gather(
        checkout(), *(browse(gw, 25 * k) for k in range(4) for gw in (first, second))
    )
    assert reserved == [201] * len(STOCKED), reserved
    assert browsed.count(503) > 0  # browsing was shed meanwhile


async def test_a_reservation_the_backend_could_not_answer_is_not_kept_with_its_key(
    replicas: tuple[Gateway, Gateway],  # noqa: F811
    odoo: Simulator,  # noqa: F811
) -> None:
    """A 503 (the stock could not be read) is no answer to replay: the same key, once the
    backend is back, reserves."""
    first, second = replicas
    _, client = await _tenant(first, second, odoo, {"rate": 500, "burst": 50, "failures": 50})
    key = payloads.idem()
    body = {"lines": [{"sku": STOCKED[0], "quantity": 1}], "channel": "web"}
    # The simulator stops listening for 3 s (its control API too), then comes back.
    await odoo.control("POST", "faults", {"down": {"mode": "refuse", "seconds": 3}})
    refused = await first.http.post(
        "/v1/inventory/reservations",
        json=body,
        headers=await first.headers(client, **{"Idempotency-Key": key}),
    )
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["retry-after"]) >= 1
    deadline = time.monotonic() + 60
    while True:  # until the backend answers again (the 503s stop)
        await asyncio.sleep(0.5)
        again = await second.http.post(
            "/v1/inventory/reservations",
            json=body,
            headers=await second.headers(client, **{"Idempotency-Key": key}),
        )
        if again.status_code != 503 or time.monotonic() > deadline:
            break
    assert again.status_code == 201, again.text
    assert "idempotent-replayed" not in again.headers
