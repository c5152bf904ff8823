"""The read cache as channels see it: Cache-Status (RFC 9211) as API.md shows it, ETags
served from the cache, per-tenant and per-query entries, and invalidation when the gateway
writes."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, update

from adapters._demo import demo_dataset
from adapters.sandbox import tables
from app.publicids import CUSTOMER, PRODUCT, public_id
from tests.support import payloads
from tests.support.gateway import Gateway, make_settings, running_gateway

DEMO = demo_dataset()


async def _tenant(gw: Gateway) -> tuple[str, str]:
    tenant = f"c-{uuid.uuid4().hex[:8]}"
    client, _ = await gw.add_tenant(tenant)
    return tenant, client


async def test_a_second_read_is_a_hit_with_the_same_bytes_and_etag(gateway: Gateway) -> None:
    _, client = await _tenant(gateway)
    headers = await gateway.headers(client)
    path = f"/v1/products/{public_id(PRODUCT, DEMO.products[2].code)}"
    first = await gateway.http.get(path, headers=headers)
    second = await gateway.http.get(path, headers=headers)
    assert first.headers["cache-status"] == "retail-gateway; fwd=miss"
    assert second.headers["cache-status"] == "retail-gateway; hit"
    assert first.content == second.content
    assert first.headers["etag"] == second.headers["etag"]
    not_modified = await gateway.http.get(
        path, headers={**headers, "If-None-Match": first.headers["etag"]}
    )
    assert not_modified.status_code == 304
    assert not_modified.headers["cache-status"] == "retail-gateway; hit"


async def test_entries_are_per_tenant_and_per_query(gateway: Gateway) -> None:
    _, client_a = await _tenant(gateway)
    tenant_b, client_b = await _tenant(gateway)
    product = DEMO.products[3]
    async with gateway.services.db.engine.begin() as conn:
        await conn.execute(
            update(tables.products)
            .where(
                and_(tables.products.c.dataset == tenant_b, tables.products.c.code == product.code)
            )
            .values(title="Only In Tenant B")
        )
    path = f"/v1/products/{public_id(PRODUCT, product.code)}"
    seen_a = await gateway.http.get(path, headers=await gateway.headers(client_a))
    seen_b = await gateway.http.get(path, headers=await gateway.headers(client_b))
    assert seen_a.json()["title"] == product.title
    assert seen_b.json()["title"] == "Only In Tenant B"
    assert seen_b.headers["cache-status"] == "retail-gateway; fwd=miss"  # never tenant A's entry

    headers = await gateway.headers(client_a)
    one = await gateway.http.get("/v1/products", params={"limit": 1}, headers=headers)
    two = await gateway.http.get("/v1/products", params={"limit": 2}, headers=headers)
    assert len(one.json()["data"]) == 1 and len(two.json()["data"]) == 2
    assert two.headers["cache-status"] == "retail-gateway; fwd=miss"


async def test_a_customer_write_through_the_gateway_invalidates_its_entries(
    gateway: Gateway,
) -> None:
    _, client = await _tenant(gateway)
    headers = await gateway.headers(client)
    path = f"/v1/customers/{public_id(CUSTOMER, DEMO.customers[3].code)}"
    assert (
        (await gateway.http.get(path, headers=headers)).headers["cache-status"].endswith("fwd=miss")
    )
    listed = await gateway.http.get(
        "/v1/customers", params={"email": DEMO.customers[3].email}, headers=headers
    )
    assert listed.json()["data"][0]["first_name"] == DEMO.customers[3].first_name
    patched = await gateway.http.patch(path, json={"first_name": "Renamed"}, headers=headers)
    assert patched.status_code == 200, patched.text
    after = await gateway.http.get(path, headers=headers)
    assert after.headers["cache-status"] == "retail-gateway; fwd=miss"
    assert after.json()["first_name"] == "Renamed"
    relisted = await gateway.http.get(
        "/v1/customers", params={"email": DEMO.customers[3].email}, headers=headers
    )
    assert relisted.json()["data"][0]["first_name"] == "Renamed"


async def test_an_operator_invalidates_by_tag(gateway: Gateway) -> None:
    tenant, client = await _tenant(gateway)
    headers = await gateway.headers(client)
    sku = DEMO.products[5].variants[0].sku
    await gateway.http.get("/v1/inventory", params={"sku": sku}, headers=headers)
    assert (
        (await gateway.http.get("/v1/inventory", params={"sku": sku}, headers=headers))
        .headers["cache-status"]
        .endswith("hit")
    )
    response = await gateway.http.post(
        f"/admin/tenants/{tenant}/cache/invalidate",
        json={"tags": [f"sku:{sku}"]},
        headers=await gateway.headers("operator"),
    )
    assert response.status_code == 200 and response.json()["removed"] >= 1
    assert (
        (await gateway.http.get("/v1/inventory", params={"sku": sku}, headers=headers))
        .headers["cache-status"]
        .endswith("fwd=miss")
    )
    bad = await gateway.http.post(
        f"/admin/tenants/{tenant}/cache/invalidate",
        json={"tags": ["bogus"]},
        headers=await gateway.headers("operator"),
    )
    assert bad.status_code == 400


async def test_errors_are_not_cached(gateway: Gateway) -> None:
    _, client = await _tenant(gateway)
    headers = await gateway.headers(client)
    missing = f"/v1/products/{public_id(PRODUCT, 'NO-SUCH')}"
    assert (await gateway.http.get(missing, headers=headers)).status_code == 404
    again = await gateway.http.get(missing, headers=headers)
    assert again.status_code == 404 and "cache-status" not in again.headers


def test_routes_marked_cacheable_name_the_scope_their_guard_requires(gateway: Gateway) -> None:
    """The fast path answers hits before guards run, so a route's `opt` must name exactly the
    scope its guard checks."""
    marked = 0
    for route in gateway.app.routes:
        for handler in getattr(route, "route_handlers", []):
            opt = handler.opt or {}
            if "cache" not in opt:
                continue
            marked += 1
            scopes = {getattr(guard, "scope", None) for guard in handler.resolve_guards()}
            assert opt["scope"] in scopes, (route.path, opt, scopes)
    assert marked == 5


async def test_the_fast_path_honours_scopes_and_conditional_requests(gateway: Gateway) -> None:
    tenant, client = await _tenant(gateway)
    path = f"/v1/products/{public_id(PRODUCT, DEMO.products[9].code)}"
    first = await gateway.http.get(path, headers=await gateway.headers(client))
    hit = await gateway.http.get(path, headers=await gateway.headers(client))
    assert hit.headers["cache-status"] == "retail-gateway; hit"
    assert hit.headers["ratelimit"] and hit.headers["x-correlation-id"]
    conditional = await gateway.http.get(
        path, headers={**await gateway.headers(client), "If-None-Match": first.headers["etag"]}
    )
    assert conditional.status_code == 304 and conditional.content == b""
    narrow, _ = await gateway.add_client(f"{tenant}-orders-only", tenant, scopes=["orders:read"])
    refused = await gateway.http.get(path, headers=await gateway.headers(narrow))
    assert refused.status_code == 403  # a cached answer is no way around the scope
    assert (await gateway.http.get(path)).status_code == 401


async def test_a_delivered_order_drops_the_inventory_pages_its_stock_change_touches(
    tmp_path: Path,
) -> None:
    """A real change: the sandbox ERP takes an order and reserves its stock at the
    distribution centre. Every inventory page that may show it goes: one asking for the SKU,
    one listing the location's stock, and one of the location's recent changes that did not
    show the SKU at all before. Freshness is an hour here, so only the invalidation can make
    a page change."""
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}",
        tmp_path / "var",
        cache_freshness={"inventory": [3600, 3600, 3600]},
    )
    async with running_gateway(settings) as gw:
        client, _ = await gw.add_tenant("stockmoves")
        headers = await gw.headers(client)
        first_page = (
            await gw.http.get(
                "/v1/inventory", params={"location": "DC1", "limit": 3}, headers=headers
            )
        ).json()["data"]
        sku = first_page[0]["sku"]
        since = datetime.now(UTC).isoformat()
        pages = {
            "by sku": {"sku": sku},
            "by location": {"location": "DC1", "limit": 3},
            "changed since": {"location": "DC1", "updated_since": since},
            "elsewhere": {"sku": first_page[1]["sku"]},
        }

        async def levels(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
            response = await gw.http.get("/v1/inventory", params=params, headers=headers)
            assert response.status_code == 200, response.text
            return response.headers["cache-status"], response.json()["data"]

        before = {name: await levels(params) for name, params in pages.items()}
        assert before["changed since"][1] == []
        for name, params in pages.items():
            assert (await levels(params))[0] == "retail-gateway; hit", name
        reserved = next(lv for lv in before["by sku"][1] if lv["location_id"] == "DC1")["reserved"]

        order = await gw.http.post(
            "/v1/orders",
            json=payloads.order(
                lines=[
                    {"sku": sku, "quantity": 2, "unit_price": {"amount": "9.00", "currency": "EUR"}}
                ]
            ),
            headers=await gw.headers(client, **{"Idempotency-Key": payloads.idem()}),
        )
        assert order.status_code == 202, order.text
        await gw.wait_for_status(client, order.json()["id"], {"accepted"}, timeout=60)

        deadline = time.monotonic() + 60
        while (await levels(pages["changed since"]))[1] == []:  # the worker invalidates next
            assert time.monotonic() < deadline, "the page of recent changes was never dropped"
            await asyncio.sleep(0.05)
        _, changed = await levels(pages["changed since"])
        assert [(lv["sku"], lv["reserved"]) for lv in changed] == [(sku, reserved + 2)]
        for name in ("by sku", "by location"):
            _, after = await levels(pages[name])
            level = next(lv for lv in after if lv["sku"] == sku and lv["location_id"] == "DC1")
            assert level["reserved"] == reserved + 2, name
        # A SKU the order did not touch keeps its entry.
        assert (await levels(pages["elsewhere"]))[0] == "retail-gateway; hit"
