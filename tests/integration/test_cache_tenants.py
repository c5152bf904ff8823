"""No tenant is ever served another's cached answer: two gateway replicas on one real Redis,
two tenants on different backends (the sandbox ERP and the Odoo simulator) that answer the
same paths differently. Every answer a tenant gets, from the backend, from Redis or from a
replica's near-cache, is the one its own backend gave; nor does a query's entry answer
another query, nor a cached entry a client lacking the scope."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters._demo import demo_dataset
from app.cache.redis_store import RedisCacheStore
from app.publicids import PRODUCT, public_id
from app.settings import WorkerSettings
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.odoo import odoo_simulator
from tests.support.services import need_redis

pytestmark = [pytest.mark.redis, pytest.mark.slow]
DEMO = demo_dataset()
LONG = [600.0, 600.0, 600.0]  # nothing goes stale during the test
SKU = DEMO.products[60].variants[0].sku
PATHS = [
    (f"/v1/products/{public_id(PRODUCT, DEMO.products[60].code)}", {}),
    (f"/v1/products/{public_id(PRODUCT, DEMO.products[61].code)}", {}),
    ("/v1/products", {"sku": SKU}),
    ("/v1/products", {"sku": DEMO.products[61].variants[0].sku}),
    ("/v1/products", {"limit": "1"}),
    ("/v1/products", {"limit": "2"}),
    ("/v1/inventory", {"sku": SKU}),
    ("/v1/inventory", {"sku": SKU, "location": "ST-AMS"}),
]


@dataclass
class Tenants:
    replicas: tuple[Gateway, Gateway]
    sandbox: str  # client ids
    odoo: str


@pytest.fixture
async def tenants(tmp_path: Path) -> AsyncIterator[Tenants]:
    redis_url = need_redis()
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    freshness = {"catalog": LONG, "inventory": LONG, "customers": LONG}
    async with AsyncExitStack() as stack:
        simulator = await stack.enter_async_context(odoo_simulator())
        first, second = [
            await stack.enter_async_context(
                running_gateway(
                    make_settings(
                        url,
                        tmp_path / "var",
                        redis_url=redis_url,
                        cache_freshness=freshness,
                        worker=WorkerSettings(embedded=False),
                    )
                )
            )
            for _ in range(2)
        ]
        suffix = uuid.uuid4().hex[:8]
        on_sandbox, _ = await first.add_tenant(f"ts-{suffix}")
        on_odoo, _ = await first.add_tenant(f"to-{suffix}")
        await first.add_client("operator", None)
        settings, secrets = simulator.binding()
        bound = await first.http.put(
            f"/admin/tenants/to-{suffix}/bindings",
            json={"adapter": "odoo", "settings": settings, "secrets": secrets},
            headers=await first.headers("operator"),
        )
        assert bound.status_code == 200, bound.text
        second.credentials.update(first.credentials)
        yield Tenants((first, second), on_sandbox, on_odoo)


async def test_no_tenant_is_served_another_tenants_entry(tenants: Tenants) -> None:
    first, second = tenants.replicas
    order = [  # who asks, where: each entry is filled once, then read from Redis and near
        (tenants.sandbox, first),
        (tenants.odoo, second),
        (tenants.sandbox, second),
        (tenants.odoo, first),
        (tenants.sandbox, first),
        (tenants.odoo, second),
        (tenants.sandbox, second),
        (tenants.odoo, first),
    ]
    statuses: set[str] = set()
    for path, params in PATHS:
        seen: dict[str, bytes] = {}
        for client, gateway in order:
            response = await gateway.http.get(
                path, params=params, headers=await gateway.headers(client)
            )
            assert response.status_code == 200, (path, params, response.text)
            statuses.add(response.headers["cache-status"])
            first_answer = seen.setdefault(client, response.content)
            assert response.content == first_answer, (path, params, client)
        assert seen[tenants.sandbox] != seen[tenants.odoo], (path, params)
    # Entries were filled, then served from Redis and from the near-cache.
    assert statuses == {"retail-gateway; fwd=miss", "retail-gateway; hit"}
    for gateway in (first, second):
        store = gateway.services.cache.store
        assert isinstance(store, RedisCacheStore) and len(store.near) > 0


async def test_a_query_never_answers_another_and_a_cached_entry_needs_the_scope(
    tenants: Tenants,
) -> None:
    first, second = tenants.replicas
    headers = await first.headers(tenants.sandbox)
    one = await first.http.get("/v1/products", params={"limit": "1"}, headers=headers)
    two = await second.http.get("/v1/products", params={"limit": "2"}, headers=headers)
    assert len(one.json()["data"]) == 1 and len(two.json()["data"]) == 2
    by_sku = await first.http.get("/v1/inventory", params={"sku": SKU}, headers=headers)
    other_sku = DEMO.products[62].variants[0].sku
    other = await second.http.get("/v1/inventory", params={"sku": other_sku}, headers=headers)
    assert {lv["sku"] for lv in by_sku.json()["data"]} == {SKU}
    assert {lv["sku"] for lv in other.json()["data"]} == {other_sku}
    for gateway in (first, second):  # cached on both now
        again = await gateway.http.get("/v1/inventory", params={"sku": SKU}, headers=headers)
        assert again.headers["cache-status"] == "retail-gateway; hit"

    tenant = tenants.sandbox.removesuffix("-client")
    narrow, secret = await first.add_client(f"{tenant}-catalog-only", tenant, ["products:read"])
    second.credentials[narrow] = (narrow, secret)
    for gateway in (first, second):
        refused = await gateway.http.get(
            "/v1/inventory", params={"sku": SKU}, headers=await gateway.headers(narrow)
        )
        assert refused.status_code == 403
        assert "cache-status" not in refused.headers
