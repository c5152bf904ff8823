"""Cache entries against changes that race them, on two gateway replicas and one real Redis:

- an answer the backend gave before a change, still on its way back when the change event
  invalidates its tags, is served to the one who asked but never stored (else every replica
  would serve the old answer as fresh for the catalog's 300 s);
- after a tenant is bound to another backend, a replica that still holds the old binding
  (bindings are re-read every 5 s) learns it from the tenant's generation at its next miss,
  and loads from the new backend.

The Odoo simulator sits behind a fault proxy that can hold its answers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters._demo import demo_dataset
from adapters.odoo.client import OdooClient
from app.publicids import PRODUCT, public_id
from app.settings import WorkerSettings
from tests.support.fault_proxy import FaultProxy
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.odoo import Simulator, odoo_simulator
from tests.support.services import need_redis

pytestmark = [pytest.mark.redis, pytest.mark.slow]
DEMO = demo_dataset()
DEADLINE = 60.0


@dataclass
class Setup:
    first: Gateway
    second: Gateway
    odoo: Simulator
    proxy: FaultProxy
    tenant: str
    client: str


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    redis_url = need_redis()
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    async with AsyncExitStack() as stack:
        odoo = await stack.enter_async_context(odoo_simulator())
        proxy = await stack.enter_async_context(FaultProxy("127.0.0.1", odoo.port))
        gateways = [
            await stack.enter_async_context(
                running_gateway(
                    make_settings(
                        url,
                        tmp_path / "var",
                        redis_url=redis_url,
                        # No outbox worker: nothing but the reads under test reaches the ERP.
                        worker=WorkerSettings(embedded=False),
                    )
                )
            )
            for _ in range(2)
        ]
        first, second = gateways
        tenant = f"gen-{uuid.uuid4().hex[:8]}"
        client, secret = await first.add_tenant(tenant)
        second.credentials[client] = (client, secret)
        second.credentials["operator"] = await first.add_client("operator", None)
        yield Setup(first, second, odoo, proxy, tenant, client)


async def _bind_to_odoo(setup: Setup) -> None:
    settings, secrets = setup.odoo.binding()
    response = await setup.first.http.put(
        f"/admin/tenants/{setup.tenant}/bindings",
        json={
            "adapter": "odoo",
            "settings": {**settings, "url": setup.proxy.url},
            "secrets": secrets,
        },
        headers=await setup.first.headers("operator"),
    )
    assert response.status_code == 200, response.text


async def test_an_answer_loaded_before_a_change_event_is_not_stored_after_it(
    setup: Setup,
) -> None:
    first, second = setup.first, setup.second
    await _bind_to_odoo(setup)
    product = DEMO.products[50]
    path = f"/v1/products/{public_id(PRODUCT, product.code)}"
    warm = f"/v1/products/{public_id(PRODUCT, DEMO.products[51].code)}"
    assert (
        await first.http.get(warm, headers=await first.headers(setup.client))
    ).status_code == 200

    setup.proxy.hold_responses()  # the ERP answers, the answer waits in the proxy
    headers = await first.headers(setup.client)
    read = asyncio.create_task(first.http.get(path, headers=headers))
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while setup.proxy.held_bytes == 0:
        assert asyncio.get_running_loop().time() < deadline and not read.done()
        await asyncio.sleep(0.02)
    # Meanwhile the product is renamed in the ERP, and its change event reaches the gateway.
    erp = OdooClient(setup.odoo.url, "demo", "admin", "admin")
    try:
        [template] = await erp.search_read(
            "product.template", [["default_code", "=", product.code]], ["id"]
        )
        await erp.execute("product.template", "write", [template["id"]], {"name": "Renamed"})
    finally:
        await erp.aclose()
    invalidated = await second.http.post(
        f"/admin/tenants/{setup.tenant}/cache/invalidate",
        json={"tags": [f"product:{public_id(PRODUCT, product.code)}"]},
        headers=await second.headers("operator"),
    )
    assert invalidated.status_code == 200
    setup.proxy.release_responses()
    answered = await asyncio.wait_for(read, DEADLINE)
    assert answered.status_code == 200
    assert answered.json()["title"] == product.title  # what the ERP said when asked
    await first.services.cache.drain()  # its fill has run (and been refused)

    for name, gateway in (("second", second), ("first", first)):
        after = await gateway.http.get(path, headers=await gateway.headers(setup.client))
        assert after.json()["title"] == "Renamed", name
    stored = await second.http.get(path, headers=await second.headers(setup.client))
    assert stored.headers["cache-status"] == "retail-gateway; hit"  # the new answer is kept


async def test_a_replica_with_the_old_binding_loads_from_the_new_backend(setup: Setup) -> None:
    first, second = setup.first, setup.second
    # The second replica reads on the sandbox binding and keeps it, as it would for up to
    # 5 s; here longer, so the rebinding surely falls within that time on a slow machine.
    second.services.backends._ttl = 3600.0
    before = f"/v1/products/{public_id(PRODUCT, DEMO.products[52].code)}"
    cold = f"/v1/products/{public_id(PRODUCT, DEMO.products[53].code)}"
    seen = await second.http.get(before, headers=await second.headers(setup.client))
    assert set(seen.json()["external_ids"]) == {"sandbox"}

    await _bind_to_odoo(setup)  # through the first replica

    for path in (cold, before):
        answer = await second.http.get(path, headers=await second.headers(setup.client))
        assert answer.status_code == 200
        assert set(answer.json()["external_ids"]) == {"odoo"}, path
        assert answer.headers["cache-status"] == "retail-gateway; fwd=miss"
    again = await first.http.get(cold, headers=await first.headers(setup.client))
    assert set(again.json()["external_ids"]) == {"odoo"}
