"""The migration shown: a tenant moves from Odoo (the simulator) to a real Tryton while a
client keeps calling the same endpoints and placing orders. Responses keep their shape, the
pinned spec is untouched, no order is lost or posted twice, and the parity report lists the
differences planted in one backend's data."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from adapters._demo import demo_dataset
from adapters.odoo.client import OdooClient
from adapters.tryton.client import TrytonClient
from app.publicids import CUSTOMER, PRODUCT, public_id
from contracts.v1 import Customer, InventoryLevelPage, Order, Product, ProductPage
from deploy.tryton.tryton_server import TrytonProcess
from tests.support import payloads
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.odoo import Simulator, odoo_simulator
from tests.support.tryton import tryton_server, tryton_settings

pytestmark = pytest.mark.slow
DEMO = demo_dataset()
TENANT, CLIENT = "retailer", "retailer-client"
PINNED = Path(__file__).resolve().parents[2] / "openapi" / "v1.json"
RENAMED = DEMO.products[11]  # its title differs in Odoo
MOVED = DEMO.products[12].variants[0].sku  # its DC1 stock differs in Odoo
REDIALLED = DEMO.customers[9]  # their phone differs in Tryton


@pytest.fixture(scope="module")
def tryton() -> Iterator[TrytonProcess]:
    with tryton_server() as server:
        yield server


@pytest.fixture(scope="module")
async def odoo() -> AsyncIterator[Simulator]:
    async with odoo_simulator() as simulator:
        yield simulator


async def _plant(odoo: Simulator, tryton: TrytonProcess) -> None:
    client = OdooClient(odoo.url, "demo", "admin", "admin")
    try:
        [template] = await client.search_read(
            "product.template", [["default_code", "=", RENAMED.code]], ["id"]
        )
        await client.execute(
            "product.template", "write", [template["id"]], {"name": "Odoo-Only Title"}
        )
        [product] = await client.search_read(
            "product.product", [["default_code", "=", MOVED]], ["id"]
        )
        [warehouse] = await client.search_read(
            "stock.warehouse", [["code", "=", "DC1"]], ["lot_stock_id"]
        )
        quants = await client.search_read(
            "stock.quant",
            [
                ["product_id", "=", product["id"]],
                ["location_id", "=", warehouse["lot_stock_id"][0]],
            ],
            ["quantity"],
        )
        await client.execute(
            "stock.quant", "write", [quants[0]["id"]], {"quantity": quants[0]["quantity"] + 5}
        )
    finally:
        await client.aclose()
    rpc = TrytonClient(tryton.url, tryton.database, tryton.user, tryton.password)
    try:
        mechanisms = await rpc.call(
            "model.party.contact_mechanism.search_read",
            [["party.code", "=", REDIALLED.code], ["type", "=", "phone"]],
            0,
            1,
            None,
            ["id"],
        )
        await rpc.call(
            "model.party.contact_mechanism.write",
            [mechanisms[0]["id"]],
            {"value": "+31 10 999 9999"},
        )
    finally:
        await rpc.aclose()


async def _odoo_sales(odoo: Simulator, reference: str) -> int:
    client = OdooClient(odoo.url, "demo", "admin", "admin")
    try:
        return int(
            await client.execute(
                "sale.order", "search_count", [["client_order_ref", "=", reference]]
            )
        )
    finally:
        await client.aclose()


async def _tryton_sales(tryton: TrytonProcess, reference: str) -> int:
    rpc = TrytonClient(tryton.url, tryton.database, tryton.user, tryton.password)
    try:
        return len(
            await rpc.call(
                "model.sale.sale.search_read",
                [["reference", "=", reference]],
                0,
                None,
                None,
                ["id"],
            )
        )
    finally:
        await rpc.aclose()


async def test_a_tenant_moves_from_odoo_to_tryton_while_channels_keep_calling(
    odoo: Simulator, tryton: TrytonProcess, tmp_path: Path
) -> None:
    await _plant(odoo, tryton)
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}", tmp_path / "var")
    async with running_gateway(settings) as gw:
        await gw.add_tenant(TENANT)
        await gw.add_client("operator", None)
        operator = await gw.headers("operator")
        odoo_settings, odoo_secrets = odoo.binding()
        bound = await gw.http.put(
            f"/admin/tenants/{TENANT}/bindings",
            json={"adapter": "odoo", "settings": odoo_settings, "secrets": odoo_secrets},
            headers=operator,
        )
        assert bound.status_code == 200, bound.text
        t_settings, t_secrets = tryton_settings(tryton)
        started = await gw.http.post(
            f"/admin/tenants/{TENANT}/migration",
            json={"adapter": "tryton", "settings": t_settings, "secrets": t_secrets},
            headers=operator,
        )
        assert started.status_code == 201, started.text

        placed: list[tuple[str, str]] = []  # (order id, "before" | "after" the cut-over)
        phase = "before"
        for round_ in range(12):
            if round_ == 6:
                await gw.services.shadow.drain()
                cut = await gw.http.post(
                    f"/admin/tenants/{TENANT}/migration/cutover", headers=operator
                )
                assert cut.status_code == 200, cut.text
                phase = "after"
            await _channel_round(gw, round_, placed, phase)
        await gw.services.shadow.drain()

        for order_id, when in placed:
            order = await gw.wait_for_status(CLIENT, order_id, {"accepted"}, timeout=60)
            in_odoo, in_tryton = (
                await _odoo_sales(odoo, order_id),
                await _tryton_sales(tryton, order_id),
            )
            assert in_odoo + in_tryton == 1, (order_id, in_odoo, in_tryton)
            if when == "after":
                assert in_tryton == 1, order_id
            msgspec.convert(order, Order, strict=False)

        report = (await gw.http.get(f"/admin/tenants/{TENANT}/migration", headers=operator)).json()
        print("\nPARITY REPORT", json.dumps(_summary(report), indent=2))
        examples = {
            d: {e["subject"]: e["fields"] for e in report["parity"][d]["examples"]}
            for d in report["parity"]
        }
        assert "title" in examples["catalog"][public_id(PRODUCT, RENAMED.code)]
        assert {"on_hand", "available"} <= set(examples["inventory"][f"{MOVED}@DC1"])
        assert "phone" in examples["customers"][public_id(CUSTOMER, REDIALLED.code)]
        assert report["state"] == "cut_over"
        served = (await gw.http.get("/openapi/openapi.json")).json()
        assert served == json.loads(PINNED.read_text())


async def _channel_round(
    gw: Gateway, round_: int, placed: list[tuple[str, str]], phase: str
) -> None:
    headers = await gw.headers(CLIENT)
    product = await gw.http.get(
        f"/v1/products/{public_id(PRODUCT, DEMO.products[10 + round_ % 4].code)}", headers=headers
    )
    assert product.status_code == 200, product.text
    msgspec.json.decode(product.content, type=Product)
    listing = await gw.http.get(
        "/v1/products",
        params={"limit": 5, "sku": DEMO.products[11].variants[0].sku},
        headers=headers,
    )
    assert listing.status_code == 200
    msgspec.json.decode(listing.content, type=ProductPage)
    stock = await gw.http.get(
        "/v1/inventory", params={"sku": [MOVED, DEMO.products[13].variants[0].sku]}, headers=headers
    )
    assert stock.status_code == 200
    msgspec.json.decode(stock.content, type=InventoryLevelPage)
    customer = await gw.http.get(
        f"/v1/customers/{public_id(CUSTOMER, DEMO.customers[8 + round_ % 3].code)}", headers=headers
    )
    assert customer.status_code == 200, customer.text
    msgspec.json.decode(customer.content, type=Customer)
    order = await gw.http.post(
        "/v1/orders",
        json=payloads.order(customer={"id": public_id(CUSTOMER, DEMO.customers[round_ % 5].code)}),
        headers=await gw.headers(CLIENT, **{"Idempotency-Key": payloads.idem()}),
    )
    assert order.status_code == 202, order.text
    msgspec.json.decode(order.content, type=Order)
    placed.append((order.json()["id"], phase))
    await asyncio.sleep(0.05)


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "state": report["state"],
        "source": report["source"],
        "target": report["target"],
        "parity": {
            domain: {
                "compared": parity["compared"],
                "equal": parity["equal"],
                "different": parity["different"],
                "failed": parity["failed"],
                "examples": [
                    f"{e['subject']}: {', '.join(e['fields'])}" for e in parity["examples"]
                ],
            }
            for domain, parity in report["parity"].items()
        },
    }
