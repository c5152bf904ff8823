"""The Odoo simulator's deliveries behave as Odoo 17's: a confirmed order gets one Ready
delivery holding its stock; validating less than the demand asks about a backorder (the
wizard action) unless told; a backorder keeps the rest, or the rest is dropped; validating with
nothing reserved is refused; stock leaves the warehouse and the order's delivery_status
follows, all over real JSON-RPC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.odoo.client import OdooClient
from contracts.errors import BusinessRejection
from tests.support.odoo import odoo_simulator

pytestmark = pytest.mark.slow
SKU = "SNK-1103-RST-41"


@pytest.fixture
async def odoo() -> AsyncIterator[OdooClient]:
    async with odoo_simulator() as simulator:
        client = OdooClient(simulator.url, "demo", "admin", "admin")
        try:
            yield client
        finally:
            await client.aclose()


async def _confirmed_order(odoo: OdooClient, quantity: float) -> tuple[int, int]:
    [partner] = await odoo.search_read("res.partner", [["ref", "=", "C00001"]], ["id"])
    [product] = await odoo.search_read("product.product", [["default_code", "=", SKU]], ["id"])
    order = await odoo.execute(
        "sale.order",
        "create",
        {
            "partner_id": partner["id"],
            "order_line": [[0, 0, {"product_id": product["id"], "product_uom_qty": quantity}]],
        },
    )
    await odoo.execute("sale.order", "action_confirm", [order])
    return int(order), int(product["id"])


async def _order(odoo: OdooClient, order: int) -> dict[str, Any]:
    [row] = await odoo.search_read(
        "sale.order", [["id", "=", order]], ["delivery_status", "picking_ids"]
    )
    return row


async def _pickings(odoo: OdooClient, order: int) -> list[dict[str, Any]]:
    return await odoo.search_read(
        "stock.picking",
        [["sale_id", "=", order]],
        ["name", "state", "backorder_id", "move_ids"],
        order="id asc",
    )


async def _on_hand(odoo: OdooClient, product: int) -> float:
    [row] = await odoo.search_read(
        "product.product", [["id", "=", product]], ["qty_available", "free_qty"]
    )
    return float(row["qty_available"])


async def test_a_delivery_validated_in_part_then_in_full(odoo: OdooClient) -> None:
    order, product = await _confirmed_order(odoo, 3)
    before = await _on_hand(odoo, product)
    [picking] = await _pickings(odoo, order)
    assert picking["state"] == "assigned" and picking["name"].endswith("/OUT/00001")
    assert (await _order(odoo, order))["delivery_status"] == "pending"
    [move] = await odoo.search_read(
        "stock.move", [["picking_id", "=", picking["id"]]], ["quantity"]
    )
    assert move["quantity"] == 3
    await odoo.execute("stock.move", "write", [move["id"]], {"quantity": 1})

    wizard = await odoo.execute("stock.picking", "button_validate", [picking["id"]])
    assert wizard["res_model"] == "stock.backorder.confirmation"  # Odoo asks first
    assert (await _pickings(odoo, order))[0]["state"] == "assigned"  # nothing done yet

    done = await odoo.execute(
        "stock.picking", "button_validate", [picking["id"]], context={"skip_backorder": True}
    )
    assert done is True
    first, backorder = await _pickings(odoo, order)
    assert first["state"] == "done" and backorder["backorder_id"][0] == first["id"]
    assert backorder["state"] == "assigned"
    assert (await _order(odoo, order))["delivery_status"] == "partial"
    assert await _on_hand(odoo, product) == before - 1

    await odoo.execute("stock.picking", "button_validate", [backorder["id"]])
    assert (await _order(odoo, order))["delivery_status"] == "full"
    assert await _on_hand(odoo, product) == before - 3
    [line] = await odoo.search_read(
        "sale.order.line", [["order_id", "=", order]], ["qty_delivered"]
    )
    assert line["qty_delivered"] == 3


async def test_the_rest_dropped_or_nothing_reserved(odoo: OdooClient) -> None:
    order, _ = await _confirmed_order(odoo, 2)
    [picking] = await _pickings(odoo, order)
    [move] = await odoo.search_read("stock.move", [["picking_id", "=", picking["id"]]], ["id"])
    await odoo.execute("stock.move", "write", [move["id"]], {"quantity": 0})
    with pytest.raises(BusinessRejection) as refused:
        await odoo.execute("stock.picking", "button_validate", [picking["id"]])
    assert "no quantities are reserved nor done" in refused.value.message
    await odoo.execute("stock.move", "write", [move["id"]], {"quantity": 1})
    await odoo.execute(
        "stock.picking",
        "button_validate",
        [picking["id"]],
        context={"skip_backorder": True, "picking_ids_not_to_backorder": [picking["id"]]},
    )
    assert [p["state"] for p in await _pickings(odoo, order)] == ["done"]  # no backorder
    assert (await _order(odoo, order))["delivery_status"] == "full"
