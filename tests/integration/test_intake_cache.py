"""Taking an order asks the backend nothing it has answered before: a SKU known is served from
the catalog cache (also while the backend is down), one unknown is asked again, so a product
just added to the ERP can be ordered at once. Against the Odoo simulator, whose counters show
what reached it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.odoo.client import OdooClient
from app.settings import WorkerSettings
from tests.support import payloads
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.odoo import Simulator, odoo_simulator
from tests.support.services import create_database, drop_database

pytestmark = pytest.mark.slow
TENANT, CLIENT = "shop", "shop-client"


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[tuple[Gateway, Simulator]]:
    url = await create_database()
    settings = make_settings(url, tmp_path / "var", worker=WorkerSettings(embedded=False))
    try:
        async with odoo_simulator() as odoo, running_gateway(settings) as gw:
            await gw.add_tenant(TENANT)
            await gw.add_client("operator", None)
            binding, secrets = odoo.binding()
            bound = await gw.http.put(
                f"/admin/tenants/{TENANT}/bindings",
                json={"adapter": "odoo", "settings": binding, "secrets": secrets},
                headers=await gw.headers("operator"),
            )
            assert bound.status_code == 200, bound.text
            yield gw, odoo
    finally:
        await drop_database(url)


async def _sku_lookups(odoo: Simulator) -> int:
    stats: Any = await odoo.control("GET", "stats")
    return int(stats["calls"].get("product.product.search_read", 0))


async def _place(gw: Gateway, sku: str) -> Any:
    body = payloads.order(
        lines=[{"sku": sku, "quantity": 1, "unit_price": {"amount": "9.00", "currency": "EUR"}}]
    )
    return await gw.http.post(
        "/v1/orders",
        json=body,
        headers=await gw.headers(CLIENT, **{"Idempotency-Key": payloads.idem()}),
    )


async def test_a_known_sku_is_checked_once_and_then_from_the_cache(
    shop: tuple[Gateway, Simulator],
) -> None:
    gw, odoo = shop
    first = await _place(gw, payloads.SKU_A)
    assert first.status_code == 202, first.text
    lookups = await _sku_lookups(odoo)
    assert lookups >= 1
    for _ in range(5):
        again = await _place(gw, payloads.SKU_A)
        assert again.status_code == 202, again.text
    assert await _sku_lookups(odoo) == lookups
    # The backend down: the SKU is still known, and the order is not marked unverified.
    await odoo.control("POST", "faults", {"down": {"mode": "503"}})
    while_down = await _place(gw, payloads.SKU_A)
    assert while_down.status_code == 202, while_down.text
    events = await gw.http.get(
        f"/v1/orders/{while_down.json()['id']}/events", headers=await gw.headers(CLIENT)
    )
    assert events.json()["data"][0]["detail"] is None  # nothing left unverified


async def test_an_unknown_sku_is_asked_again_so_a_new_product_sells_at_once(
    shop: tuple[Gateway, Simulator],
) -> None:
    gw, odoo = shop
    refused = await _place(gw, "NEW-2001-RED-M")
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "lines[0].sku"
    erp = OdooClient(odoo.url, "demo", "admin", "admin")
    try:
        await erp.execute(
            "product.template",
            "create",
            {"name": "New tee", "default_code": "NEW-2001-RED-M", "list_price": 9.0},
        )
    finally:
        await erp.aclose()
    taken = await _place(gw, "NEW-2001-RED-M")
    assert taken.status_code == 202, taken.text
