"""An order's life after intake: cancelled before posting (never posted), cancelled after
posting (in the backend), refused once shipped; moved along by the backend's feed (duplicates
and late updates ignored); dead-lettered by a fault no retry fixes, inspected and replayed by an
operator, or many at once; a shipment read from the feed drops the cached stock of its SKUs. On
SQLite and PostgreSQL, with the worker driven by the test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import and_, select

from adapters.odoo.client import OdooClient
from adapters.sandbox import tables
from app.orders.worker import OutboxWorker
from app.settings import WorkerSettings
from tests.support import payloads
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.odoo import odoo_simulator
from tests.support.services import create_database, drop_database

pytestmark = pytest.mark.slow
TENANT, CLIENT = "life", "life-client"


@pytest.fixture(params=["sqlite", "postgres"])
async def gw(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateway]:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
        if request.param == "sqlite"
        else await create_database()
    )
    worker = WorkerSettings(
        embedded=False, feed_interval=0.0, backoff_base=0.01, backoff_max=0.02, max_attempts=2
    )
    # Stock stays fresh in the cache for the whole test: only an invalidation drops it.
    settings = make_settings(
        url, tmp_path / "var", worker=worker, cache_freshness={"inventory": [600, 600, 900]}
    )
    try:
        async with running_gateway(settings) as gateway:
            await gateway.add_tenant(TENANT)
            await gateway.add_client("operator", None)
            yield gateway
    finally:
        if request.param == "postgres":
            await drop_database(url)


def _worker(gw: Gateway) -> OutboxWorker:
    return gw.services.worker


async def _drain(gw: Gateway) -> None:
    while await _worker(gw).run_once():
        pass


async def _place(gw: Gateway, client: str = CLIENT) -> str:
    response = await gw.http.post(
        "/v1/orders",
        json=payloads.order(),
        headers=await gw.headers(client, **{"Idempotency-Key": payloads.idem()}),
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def _order(gw: Gateway, order_id: str, client: str = CLIENT) -> dict[str, Any]:
    return dict(
        (await gw.http.get(f"/v1/orders/{order_id}", headers=await gw.headers(client))).json()
    )


async def _events(gw: Gateway, order_id: str, client: str = CLIENT) -> list[dict[str, Any]]:
    return list(
        (
            await gw.http.get(f"/v1/orders/{order_id}/events", headers=await gw.headers(client))
        ).json()["data"]
    )


async def _sale_state(gw: Gateway, order_id: str, dataset: str = TENANT) -> str | None:
    async with gw.services.db.engine.connect() as conn:
        return await conn.scalar(
            select(tables.sales.c.state).where(
                and_(tables.sales.c.dataset == dataset, tables.sales.c.reference == order_id)
            )
        )


async def _cancel(gw: Gateway, order_id: str, client: str = CLIENT) -> Any:
    return await gw.http.post(f"/v1/orders/{order_id}/cancel", headers=await gw.headers(client))


async def test_an_order_cancelled_before_posting_is_never_posted(gw: Gateway) -> None:
    order_id = await _place(gw)
    response = await _cancel(gw, order_id)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    await _drain(gw)
    assert await _sale_state(gw, order_id) is None
    assert [e["type"] for e in await _events(gw, order_id)] == ["order.received", "order.cancelled"]
    again = await _cancel(gw, order_id)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


async def test_an_order_cancelled_after_posting_is_cancelled_in_the_backend(gw: Gateway) -> None:
    order_id = await _place(gw)
    await _drain(gw)
    assert (await _order(gw, order_id))["status"] == "accepted"
    response = await _cancel(gw, order_id)
    assert response.status_code == 202
    assert response.json()["status"] == "accepted"  # until the backend has done it
    await _drain(gw)
    order = await _order(gw, order_id)
    assert order["status"] == "cancelled"
    assert await _sale_state(gw, order_id) == "cancelled"
    types = [(e["type"], e["cause"]) for e in await _events(gw, order_id)]
    assert types[-2:] == [("order.cancel_requested", "channel"), ("order.cancelled", "backend")]


async def test_the_backend_feed_moves_orders_on_and_shipped_orders_cannot_be_cancelled(
    gw: Gateway,
) -> None:
    order_id = await _place(gw)
    await _drain(gw)
    backends = await gw.services.backends.for_tenant(TENANT)
    sandbox: Any = backends.orders._adapter
    await sandbox.fulfil(order_id, "allocated")
    await sandbox.fulfil(order_id, "shipped")
    await sandbox.fulfil(order_id, "allocated")  # a late, out-of-order update
    await _worker(gw)._maybe_read_feeds()
    order = await _order(gw, order_id)
    assert order["status"] == "shipped"
    backend_steps = [
        (e["previous_status"], e["status"])
        for e in await _events(gw, order_id)
        if e["cause"] == "backend"
    ]
    assert backend_steps == [
        ("submitted", "accepted"),
        ("accepted", "allocated"),
        ("allocated", "shipped"),
    ]
    await _worker(gw)._maybe_read_feeds()
    assert len(await _events(gw, order_id)) == 5
    refused = await _cancel(gw, order_id)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"


async def test_a_fault_no_retry_fixes_is_dead_lettered_inspected_and_replayed(gw: Gateway) -> None:
    operator = await gw.headers("operator")
    async with odoo_simulator() as odoo:
        tenant, client = "poisoned", "poisoned-client"
        await gw.add_tenant(tenant)
        settings, secrets = odoo.binding()
        bound = await gw.http.put(
            f"/admin/tenants/{tenant}/bindings",
            json={"adapter": "odoo", "settings": settings, "secrets": secrets},
            headers=operator,
        )
        assert bound.status_code == 200, bound.text
        # Odoo answers every order with a server fault (a mapping error, say): not retryable.
        await odoo.control(
            "POST",
            "faults",
            {
                "error": {
                    "name": "builtins.ValueError",
                    "message": "Invalid field 'x'",
                    "models": ["sale.order"],
                    "methods": ["create"],
                }
            },
        )
        order_id = await _place(gw, client)
        await _drain(gw)
        order = await _order(gw, order_id, client)
        assert order["status"] == "received" and order["dead_lettered"] is True
        letters = (
            await gw.http.get("/admin/dead-letters", params={"tenant_id": tenant}, headers=operator)
        ).json()["data"]
        assert [letter["order_id"] for letter in letters] == [order_id]
        detail = (
            await gw.http.get(f"/admin/dead-letters/{letters[0]['id']}", headers=operator)
        ).json()
        assert "Invalid field" in detail["dead_letter"]["last_error"]
        assert detail["events"][-1]["type"] == "order.dead_lettered"
        await odoo.control("DELETE", "faults")  # the mapping is fixed
        replayed = await gw.http.post(
            f"/admin/dead-letters/{letters[0]['id']}/replay", headers=operator
        )
        assert replayed.status_code == 200, replayed.text
        await _drain(gw)
        order = await _order(gw, order_id, client)
        assert order["status"] == "accepted" and order["dead_lettered"] is False
        assert any(
            e["type"] == "order.replayed" and e["cause"] == "operator"
            for e in await _events(gw, order_id, client)
        )
        assert (
            await gw.http.post(f"/admin/dead-letters/{letters[0]['id']}/replay", headers=operator)
        ).status_code == 409
        assert (
            await gw.http.get("/admin/dead-letters", params={"tenant_id": tenant}, headers=operator)
        ).json()["data"] == []


async def test_a_feed_read_never_takes_an_order_from_its_delivery(gw: Gateway) -> None:
    """A worker died after Odoo created the sale but before confirming it, and the feed is
    read before the retry: the quotation shows in the feed, yet the order stays with its
    delivery, which finds the quotation and confirms it (not a draft forgotten in the ERP)."""
    async with odoo_simulator() as odoo:
        tenant, client = "halfway", "halfway-client"
        await gw.add_tenant(tenant)
        settings, secrets = odoo.binding()
        bound = await gw.http.put(
            f"/admin/tenants/{tenant}/bindings",
            json={"adapter": "odoo", "settings": settings, "secrets": secrets},
            headers=await gw.headers("operator"),
        )
        assert bound.status_code == 200, bound.text
        order_id = await _place(gw, client)
        erp = OdooClient(odoo.url, "demo", "admin", "admin")
        try:
            [partner] = await erp.search_read(
                "res.partner", [["ref", "!=", False]], ["id"], limit=1
            )
            await erp.execute(
                "sale.order", "create", {"partner_id": partner["id"], "client_order_ref": order_id}
            )
            await _worker(gw)._maybe_read_feeds()
            assert (await _order(gw, order_id, client))["status"] == "received"
            await _drain(gw)
            assert (await _order(gw, order_id, client))["status"] == "accepted"
            sales = await erp.search_read(
                "sale.order", [["client_order_ref", "=", order_id]], ["state"]
            )
            assert [sale["state"] for sale in sales] == ["sale"]
        finally:
            await erp.aclose()


async def _cache_status(gw: Gateway, sku: str) -> str:
    response = await gw.http.get(
        "/v1/inventory", params={"sku": sku}, headers=await gw.headers(CLIENT)
    )
    assert response.status_code == 200, response.text
    return str(response.headers["cache-status"])


async def test_a_shipment_read_from_the_feed_drops_the_cached_stock_of_its_skus(
    gw: Gateway,
) -> None:
    order_id = await _place(gw)  # one line of SKU_A
    await _drain(gw)
    for sku in (payloads.SKU_A, payloads.SKU_B):
        await _cache_status(gw, sku)
        assert await _cache_status(gw, sku) == "retail-gateway; hit"
    backends = await gw.services.backends.for_tenant(TENANT)
    sandbox: Any = backends.orders._adapter
    await sandbox.fulfil(order_id, "shipped")
    await _worker(gw)._maybe_read_feeds()
    assert (await _order(gw, order_id))["status"] == "shipped"
    assert await _cache_status(gw, payloads.SKU_A) == "retail-gateway; fwd=miss"
    assert await _cache_status(gw, payloads.SKU_B) == "retail-gateway; hit"  # not in the order


async def test_dead_letters_are_replayed_in_bulk_by_id_and_by_tenant(gw: Gateway) -> None:
    operator = await gw.headers("operator")
    async with odoo_simulator() as odoo:
        settings, secrets = odoo.binding()
        for tenant in ("bulk-a", "bulk-b"):
            await gw.add_tenant(tenant)
            bound = await gw.http.put(
                f"/admin/tenants/{tenant}/bindings",
                json={"adapter": "odoo", "settings": settings, "secrets": secrets},
                headers=operator,
            )
            assert bound.status_code == 200, bound.text
        await odoo.control(
            "POST",
            "faults",
            {
                "error": {
                    "name": "builtins.ValueError",
                    "models": ["sale.order"],
                    "methods": ["create"],
                }
            },
        )
        a1, a2 = await _place(gw, "bulk-a-client"), await _place(gw, "bulk-a-client")
        b1 = await _place(gw, "bulk-b-client")
        await _drain(gw)

        async def letters(tenant: str) -> dict[str, str]:
            listed = await gw.http.get(
                "/admin/dead-letters", params={"tenant_id": tenant}, headers=operator
            )
            return {letter["order_id"]: letter["id"] for letter in listed.json()["data"]}

        dead_a, dead_b = await letters("bulk-a"), await letters("bulk-b")
        assert set(dead_a) == {a1, a2} and set(dead_b) == {b1}

        for bad in ({}, {"tenant_id": "bulk-a"}, {"ids": [dead_a[a1]], "everything": True}):
            refused = await gw.http.post("/admin/dead-letters/replay", json=bad, headers=operator)
            assert refused.status_code == 400, (bad, refused.text)
        assert await letters("bulk-a") == dead_a  # nothing was replayed by a bad request

        await odoo.control("DELETE", "faults")  # the mapping is fixed
        elsewhere = await gw.http.post(
            "/admin/dead-letters/replay",
            json={"ids": [dead_b[b1]], "tenant_id": "bulk-a"},
            headers=operator,
        )
        assert elsewhere.status_code == 200 and elsewhere.json() == {"replayed": []}
        by_id = await gw.http.post(
            "/admin/dead-letters/replay",
            json={"ids": [dead_a[a1], "obx_unknown"]},
            headers=operator,
        )
        assert by_id.status_code == 200, by_id.text
        assert by_id.json() == {"replayed": [dead_a[a1]]}
        by_tenant = await gw.http.post(
            "/admin/dead-letters/replay",
            json={"tenant_id": "bulk-a", "all": True},
            headers=operator,
        )
        assert by_tenant.status_code == 200, by_tenant.text
        assert by_tenant.json() == {"replayed": [dead_a[a2]]}  # a1 is no longer dead
        assert await letters("bulk-a") == {}
        assert await letters("bulk-b") == dead_b  # another tenant's stay

        await _drain(gw)
        for order_id in (a1, a2):
            done = await _order(gw, order_id, "bulk-a-client")
            assert done["status"] == "accepted" and done["dead_lettered"] is False
            replays = [
                e
                for e in await _events(gw, order_id, "bulk-a-client")
                if e["type"] == "order.replayed"
            ]
            assert [(e["cause"], e["detail"]["operator"]) for e in replays] == [
                ("operator", "operator")
            ]
        still = await _order(gw, b1, "bulk-b-client")
        assert still["status"] == "received" and still["dead_lettered"] is True
