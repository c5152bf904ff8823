"""The migration shown: a tenant moves from Odoo (the simulator) to a real Tryton while a client
keeps calling the same endpoints and placing orders, concurrently, through the start, the
cut-over (and in the second scenario a rollback and a second cut-over). Every response keeps its
shape and the pinned spec is untouched; reconciling both backends' sales against our orders
finds every order exactly once, in the backend that was bound when it was delivered, none lost;
and the parity report lists exactly the differences planted in one backend's data as standing,
the rest being drift from the channel's own writes during the migration."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from adapters._demo import demo_dataset
from adapters.odoo.client import OdooClient
from adapters.tryton.client import TrytonClient
from app.publicids import CUSTOMER, PRODUCT, public_id
from contracts.v1 import OrderEventList
from deploy.tryton.tryton_server import TrytonProcess
from tests.integration.migration_channel import (
    CUSTOMERS,
    ORDERED_SKU,
    Channel,
    eventually,
)
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
PLANTED = {
    "catalog": {public_id(PRODUCT, RENAMED.code): ["title"]},
    "inventory": {f"{MOVED}@DC1": ["available", "on_hand"]},
    "customers": {public_id(CUSTOMER, REDIALLED.code): ["phone"]},
}


@pytest.fixture
def tryton() -> Iterator[TrytonProcess]:
    with tryton_server() as server:  # a private copy of the seeded database per test
        yield server


@pytest.fixture
async def odoo() -> AsyncIterator[Simulator]:
    async with odoo_simulator() as simulator:
        # Odoo takes its time over each new order (0.3 s), so orders wait in the outbox and
        # some are in flight whenever the tenant switches.
        await simulator.control(
            "POST",
            "faults",
            {"timeout": {"seconds": 0.3, "models": ["sale.order"], "methods": ["create"]}},
        )
        yield simulator


@pytest.fixture
async def gw(odoo: Simulator, tryton: TrytonProcess, tmp_path: Path) -> AsyncIterator[Gateway]:
    await _plant(odoo, tryton)
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}", tmp_path / "var")
    async with running_gateway(settings) as gateway:
        await gateway.add_tenant(TENANT)
        await gateway.add_client("operator", None)
        odoo_settings, odoo_secrets = odoo.binding()
        bound = await gateway.http.put(
            f"/admin/tenants/{TENANT}/bindings",
            json={"adapter": "odoo", "settings": odoo_settings, "secrets": odoo_secrets},
            headers=await gateway.headers("operator"),
        )
        assert bound.status_code == 200, bound.text
        assert (await gateway.http.get("/openapi/openapi.json")).json() == _pinned()
        yield gateway
        assert (await gateway.http.get("/openapi/openapi.json")).json() == _pinned()


def _pinned() -> Any:
    return json.loads(PINNED.read_text())


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
        [quant] = await client.search_read(
            "stock.quant",
            [
                ["product_id", "=", product["id"]],
                ["location_id", "=", warehouse["lot_stock_id"][0]],
            ],
            ["quantity"],
        )
        await client.execute(
            "stock.quant", "write", [quant["id"]], {"quantity": quant["quantity"] + 5}
        )
    finally:
        await client.aclose()
    rpc = TrytonClient(tryton.url, tryton.database, tryton.user, tryton.password)
    try:
        [mechanism] = await rpc.call(
            "model.party.contact_mechanism.search_read",
            [["party.code", "=", REDIALLED.code], ["type", "=", "phone"]],
            0,
            1,
            None,
            ["id"],
        )
        await rpc.call(
            "model.party.contact_mechanism.write", [mechanism["id"]], {"value": "+31 10 999 9999"}
        )
    finally:
        await rpc.aclose()


async def _admin(gw: Gateway, action: str = "") -> dict[str, Any]:
    path = f"/admin/tenants/{TENANT}/migration{action}"
    headers = await gw.headers("operator")
    response = await (
        gw.http.post(path, headers=headers) if action else gw.http.get(path, headers=headers)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _start(gw: Gateway, tryton: TrytonProcess) -> None:
    t_settings, t_secrets = tryton_settings(tryton)
    started = await gw.http.post(
        f"/admin/tenants/{TENANT}/migration",
        json={"adapter": "tryton", "settings": t_settings, "secrets": t_secrets},
        headers=await gw.headers("operator"),
    )
    assert started.status_code == 201, started.text


async def _odoo_sales(odoo: Simulator) -> list[str]:
    client = OdooClient(odoo.url, "demo", "admin", "admin")
    try:
        rows = await client.search_read(
            "sale.order", [["client_order_ref", "=like", "ord_%"]], ["client_order_ref"]
        )
    finally:
        await client.aclose()
    return [row["client_order_ref"] for row in rows]


async def _tryton_sales(tryton: TrytonProcess) -> list[str]:
    rpc = TrytonClient(tryton.url, tryton.database, tryton.user, tryton.password)
    try:
        rows = await rpc.call(
            "model.sale.sale.search_read", [["reference", "like", "ord_%"]], 0, None, None,
            ["reference"],
        )  # fmt: skip
    finally:
        await rpc.aclose()
    return [row["reference"] for row in rows]


async def _delivered(gw: Gateway, order_id: str) -> tuple[str, datetime]:
    """Which backend the gateway delivered an order to, and when (its worker event)."""
    response = await gw.http.get(f"/v1/orders/{order_id}/events", headers=await gw.headers(CLIENT))
    assert response.status_code == 200, response.text
    events = msgspec.json.decode(response.content, type=OrderEventList).data
    [posted] = [e for e in events if e.cause == "worker" and e.status in ("submitted", "accepted")]
    assert posted.detail is not None
    return str(posted.detail["backend"]), posted.occurred_at


async def _reconcile(
    gw: Gateway,
    channel: Channel,
    odoo: Simulator,
    tryton: TrytonProcess,
    switches: list[tuple[datetime, str]],
) -> None:
    """Every order the channel placed is in exactly one backend, once: the one bound when it
    was delivered (`switches`: when each switch committed and to which adapter)."""
    for order_id in channel.placed:
        await gw.wait_for_status(CLIENT, order_id, {"accepted"}, timeout=120)
    in_odoo, in_tryton = await _odoo_sales(odoo), await _tryton_sales(tryton)
    assert len(in_odoo) == len(set(in_odoo)) and len(in_tryton) == len(set(in_tryton))
    assert not set(in_odoo) & set(in_tryton), "an order was posted to both backends"
    assert set(in_odoo) | set(in_tryton) == set(channel.placed), "lost or unknown orders"
    for order_id in channel.placed:
        backend, when = await _delivered(gw, order_id)
        bound = "odoo"
        for switched_at, adapter in switches:
            bound = adapter if when >= switched_at else bound
        where = "odoo" if order_id in in_odoo else "tryton"
        assert (backend, where) == (bound, bound), (order_id, when, switches)


def _stamp(report: dict[str, Any], key: str) -> datetime:
    return datetime.fromisoformat(report[key])


async def test_a_tenant_moves_from_odoo_to_tryton_while_channels_keep_calling(
    gw: Gateway, odoo: Simulator, tryton: TrytonProcess
) -> None:
    await _start(gw, tryton)
    async with Channel(
        gw, CLIENT, stock_skus=[MOVED, DEMO.products[13].variants[0].sku]
    ) as channel:
        # Shadowing: until every planted difference was seen, and writes made drift.
        async def seen_everything() -> bool:
            parity = (await _admin(gw))["parity"]
            return all(parity[d]["standing_subjects"] >= len(PLANTED[d]) for d in PLANTED) and all(
                parity[d]["drifted_subjects"] >= 1 for d in ("customers", "inventory")
            )

        await eventually(seen_everything, "the planted differences and some drift were seen")
        await channel.wait_for_orders_in_flight()
        before = set(channel.placed)
        cut = await _admin(gw, "/cutover")
        assert cut["state"] == "cut_over"
        await channel.wait_for_placed(len(channel.placed) + 4)
    await _reconcile(gw, channel, odoo, tryton, [(_stamp(cut, "switched_at"), "tryton")])
    assert set(await _tryton_sales(tryton)) & before, "no order in flight went to Tryton"

    report = await _admin(gw)
    print("\nPARITY REPORT", json.dumps(_summary(report), indent=2))
    for domain, planted in PLANTED.items():
        examples = report["parity"][domain]["examples"]
        standing = {e["subject"]: sorted(e["fields"]) for e in examples if e["kind"] == "standing"}
        assert standing == planted, domain  # exactly the planted differences, nothing else
        for drift in (e for e in examples if e["kind"] == "drift"):
            assert drift["drifted_fields"] == drift["fields"]
            if domain == "customers":  # the customers who ordered: their delivery addresses
                assert drift["subject"] in {public_id(CUSTOMER, c.code) for c in CUSTOMERS}
                assert {f.split("[")[0] for f in drift["fields"]} == {"addresses"}
            else:  # the SKU the orders took: Odoo reserved it
                assert drift["subject"].startswith(f"{ORDERED_SKU}@"), drift
                assert set(drift["fields"]) <= {"reserved", "available", "on_hand"}
    assert report["parity"]["catalog"]["drifted_subjects"] == 0
    assert all(p["failed"] == p["dropped"] == 0 for p in report["parity"].values())
    assert report["state"] == "cut_over"
    assert channel.responses > 0 and channel.unexpected == []


async def test_a_rollback_and_a_second_cutover_while_channels_keep_calling(
    gw: Gateway, odoo: Simulator, tryton: TrytonProcess
) -> None:
    switches: list[tuple[datetime, str]] = []
    async with Channel(gw, CLIENT, stock_skus=[MOVED]) as channel:
        for round_ in range(2):
            await _start(gw, tryton)
            await channel.wait_for_placed(len(channel.placed) + 3)
            await channel.wait_for_orders_in_flight()
            cut = await _admin(gw, "/cutover")
            switches.append((_stamp(cut, "switched_at"), "tryton"))
            await channel.wait_for_placed(len(channel.placed) + 3)
            if round_ == 0:
                await channel.wait_for_orders_in_flight()
                back = await _admin(gw, "/rollback")
                assert back["state"] == "rolled_back" and back["current"]["orders"] == "odoo"
                switches.append((_stamp(back, "rolled_back_at"), "odoo"))
                await channel.wait_for_placed(len(channel.placed) + 3)
    await _reconcile(gw, channel, odoo, tryton, switches)
    in_odoo, in_tryton = set(await _odoo_sales(odoo)), set(await _tryton_sales(tryton))
    assert len(in_odoo) > 0 and len(in_tryton) > 0
    assert channel.responses > 0 and channel.unexpected == []


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    counts = ("compared", "equal", "different", "failed", "timed_out", "dropped")
    return {
        "state": report["state"],
        "source": report["source"],
        "target": report["target"],
        "parity": {
            domain: {
                **{key: parity[key] for key in counts},
                "standing_subjects": parity["standing_subjects"],
                "drifted_subjects": parity["drifted_subjects"],
                "examples": [
                    f"{e['kind']} {e['subject']}: {', '.join(e['fields'])}"
                    for e in parity["examples"]
                ],
            }
            for domain, parity in report["parity"].items()
        },
    }
