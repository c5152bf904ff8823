"""Delivery moves and reservations of confirmed sale lines (`sale_stock`'s
`_action_launch_stock_rule` followed by the picking's `action_assign`): one outgoing stock.move
per line from the order warehouse's stock location to Partners/Customers, in the order's open
delivery (`pickings`), reserving in that location's quant what is free (quantity -
reserved_quantity)."""

from __future__ import annotations

from adapters.odoo.simulator import writing
from adapters.odoo.simulator.compute import product_display
from adapters.odoo.simulator.pickings import (
    customer_location,
    find_quant,
    open_picking,
    refresh_order,
    refresh_picking,
)
from adapters.odoo.simulator.store import Env, now


def _reserve(env: Env, quant: int, delta: float) -> None:
    rec = env.store.tables["stock.quant"][quant]
    reserved = max(0.0, rec.get("reserved_quantity", 0.0) + delta)
    env.store.update(
        "stock.quant",
        quant,
        {"reserved_quantity": reserved, "write_date": now(), "write_uid": env.uid},
    )


def launch_stock(env: Env, line_ids: list[int]) -> None:
    """`_action_launch_stock_rule` + reservation: one delivery move per line still short."""
    store = env.store
    lines = store.tables["sale.order.line"]
    moves = store.tables["stock.move"]
    touched: set[int] = set()
    for lid in line_ids:
        line = lines[lid]
        product = line.get("product_id")
        if not product:
            continue
        template = store.tables["product.template"][
            store.tables["product.product"][product]["product_tmpl_id"]
        ]
        if template.get("type") != "product":
            continue
        planned = sum(
            moves[m]["product_uom_qty"]
            for m in store.lookup("stock.move", "sale_line_id", lid)
            if moves[m]["state"] not in ("done", "cancel")
        )
        need = float(line.get("product_uom_qty", 0.0)) - planned
        if need <= 0:
            continue
        order = store.tables["sale.order"][line["order_id"]]
        warehouse = store.tables["stock.warehouse"][order["warehouse_id"]]
        source = warehouse["lot_stock_id"]
        quant = find_quant(env, product, source)
        free = max(
            0.0,
            store.tables["stock.quant"][quant]["quantity"]
            - store.tables["stock.quant"][quant]["reserved_quantity"],
        )
        take = min(need, free)
        if take > 0:
            _reserve(env, quant, take)
        state = "assigned" if take >= need else "partially_available" if take > 0 else "confirmed"
        picking = open_picking(env, line["order_id"])
        touched.add(picking)
        writing.create(
            env,
            "stock.move",
            {
                "name": line.get("name") or product_display(env, product),
                "reference": store.tables["stock.picking"][picking]["name"],
                "picking_id": picking,
                "origin": order["name"],
                "product_id": product,
                "product_uom_qty": need,
                "quantity": take,
                "location_id": source,
                "location_dest_id": customer_location(env),
                "state": state,
                "sale_line_id": lid,
                "warehouse_id": order["warehouse_id"],
                "partner_id": order.get("partner_shipping_id") or order["partner_id"],
            },
        )
    _refresh(env, touched)


def _refresh(env: Env, pickings: set[int]) -> None:
    for picking in sorted(pickings):
        refresh_picking(env, picking)
    for order in sorted({env.store.tables["stock.picking"][p]["sale_id"] for p in pickings}):
        refresh_order(env, order)


def release_line(env: Env, lid: int) -> None:
    """Cancel a line's open delivery moves and free what they had reserved."""
    store = env.store
    moves = store.tables["stock.move"]
    touched: set[int] = set()
    for mid in sorted(store.lookup("stock.move", "sale_line_id", lid)):
        move = moves[mid]
        if move["state"] in ("done", "cancel"):
            continue
        if move.get("quantity"):
            _reserve(
                env, find_quant(env, move["product_id"], move["location_id"]), -move["quantity"]
            )
        store.update("stock.move", mid, {"state": "cancel", "quantity": 0.0, "write_date": now()})
        if move.get("picking_id"):
            touched.add(move["picking_id"])
    _refresh(env, touched)
