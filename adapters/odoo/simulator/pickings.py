"""Deliveries of confirmed sales: `stock.picking` after Odoo 17's `stock` and `sale_stock`.

A confirmed order's delivery moves are grouped in one outgoing picking per order (`sale_id`),
named `<warehouse>/OUT/00001`. Its `state` follows its moves: `cancel` when all are cancelled,
`done` when all are done or cancelled, `assigned` (Ready) when one is (partially) reserved
under the order's "as soon as possible" policy (all, under "when all products are ready"),
else `confirmed` (Waiting). Writing a move's `quantity` changes what it holds in its quant.

`button_validate` refuses a picking with nothing reserved nor done ("You cannot validate a
transfer if no quantities are reserved nor done..."); when a move holds less than its demand it
answers the "Create Backorder?" wizard action, unless the context says `skip_backorder` (then
the rest goes to a backorder, as the wizard's "Create Backorder" would; pickings listed in
`picking_ids_not_to_backorder` drop the rest instead). Done moves leave their quant (quantity
and reservation), add to their sale line's `qty_delivered`, and the order's stored
`delivery_status` is recomputed like `_compute_delivery_status` (which writes the order):
nothing when it has no picking or all are cancelled, `full` when all are done or cancelled,
`partial` when one is done and something was delivered, `started` when one is done, else
`pending`.
"""

from __future__ import annotations

from typing import Any

from adapters.odoo.simulator import hooks
from adapters.odoo.simulator.errors import missing_error, user_error
from adapters.odoo.simulator.store import Env, now

PICKING_STATES = (
    ("draft", "Draft"),
    ("waiting", "Waiting Another Operation"),
    ("confirmed", "Waiting"),
    ("assigned", "Ready"),
    ("done", "Done"),
    ("cancel", "Cancelled"),
)
DELIVERY_STATUSES = (
    ("pending", "Not Delivered"),
    ("started", "Started"),
    ("partial", "Partially Delivered"),
    ("full", "Fully Delivered"),
)
CLOSED = ("done", "cancel")
NOTHING_TO_VALIDATE = (
    "You cannot validate a transfer if no quantities are reserved nor done. You can use the"
    " info button on the top right corner of your screen to learn more about the possible"
    " reasons."
)


def customer_location(env: Env) -> int:
    locations = env.store.tables["stock.location"]
    return min(lid for lid, rec in locations.items() if rec.get("usage") == "customer")


def find_quant(env: Env, product: int, location: int) -> int:
    quants = env.store.tables["stock.quant"]
    for qid in sorted(env.store.lookup("stock.quant", "product_id", product)):
        if quants[qid]["location_id"] == location:
            return qid
    stamp = now()
    return env.store.insert(
        "stock.quant",
        {
            "product_id": product,
            "location_id": location,
            "quantity": 0.0,
            "reserved_quantity": 0.0,
            "inventory_quantity": 0.0,
            "inventory_quantity_set": False,
            "in_date": stamp,
            "company_id": 1,
            "create_date": stamp,
            "write_date": stamp,
            "create_uid": env.uid,
            "write_uid": env.uid,
        },
    )


def open_picking(env: Env, order_id: int, *, backorder_of: int | None = None) -> int:
    """The order's picking still to be done, created when it has none (or for a backorder)."""
    store = env.store
    pickings = store.tables["stock.picking"]
    if backorder_of is None:
        for pid in sorted(store.lookup("stock.picking", "sale_id", order_id)):
            if pickings[pid]["state"] not in CLOSED:
                return pid
    order = store.tables["sale.order"][order_id]
    warehouse = store.tables["stock.warehouse"][order["warehouse_id"]]
    stamp = now()
    return store.insert(
        "stock.picking",
        {
            "name": f"{warehouse['code']}/OUT/{store.next_sequence('picking.out'):05d}",
            "origin": order["name"],
            "partner_id": order.get("partner_shipping_id") or order["partner_id"],
            "sale_id": order_id,
            "backorder_id": backorder_of or False,
            "picking_type_code": "outgoing",
            "move_type": order.get("picking_policy") or "direct",
            "location_id": warehouse["lot_stock_id"],
            "location_dest_id": customer_location(env),
            "state": "draft",
            "scheduled_date": stamp,
            "date_done": False,
            "company_id": 1,
            "create_date": stamp,
            "write_date": stamp,
            "create_uid": env.uid,
            "write_uid": env.uid,
        },
    )


def _moves(env: Env, picking: int) -> list[int]:
    return sorted(env.store.lookup("stock.move", "picking_id", picking))


def refresh_picking(env: Env, picking: int) -> None:
    store = env.store
    moves = [store.tables["stock.move"][m] for m in _moves(env, picking)]
    states = [m["state"] for m in moves]
    rec = store.tables["stock.picking"][picking]
    if not states:
        state = "draft"
    elif all(s == "cancel" for s in states):
        state = "cancel"
    elif all(s in CLOSED for s in states):
        state = "done"
    else:
        live = [s for s in states if s not in CLOSED]
        ready = {"assigned", "partially_available"}
        if rec.get("move_type") == "one":
            state = "assigned" if all(s == "assigned" for s in live) else "confirmed"
        else:
            state = "assigned" if ready & set(live) else "confirmed"
    if state != rec["state"]:
        store.update(
            "stock.picking", picking, {"state": state, "write_date": now(), "write_uid": env.uid}
        )


def refresh_order(env: Env, order_id: int) -> None:
    store = env.store
    pickings = [
        store.tables["stock.picking"][p] for p in store.lookup("stock.picking", "sale_id", order_id)
    ]
    lines = [
        store.tables["sale.order.line"][lid]
        for lid in store.lookup("sale.order.line", "order_id", order_id)
    ]
    if not pickings or all(p["state"] == "cancel" for p in pickings):
        status: str | bool = False
    elif all(p["state"] in CLOSED for p in pickings):
        status = "full"
    elif any(p["state"] == "done" for p in pickings):
        status = "partial" if any(line.get("qty_delivered") for line in lines) else "started"
    else:
        status = "pending"
    order = store.tables["sale.order"][order_id]
    if order.get("delivery_status", False) != status:
        store.update(
            "sale.order",
            order_id,
            {"delivery_status": status, "write_date": now(), "write_uid": env.uid},
        )


def reserve(env: Env, move_id: int, delta: float) -> None:
    """Change what a move holds in its source quant by `delta`, and its state to match."""
    store = env.store
    move = store.tables["stock.move"][move_id]
    quant = find_quant(env, move["product_id"], move["location_id"])
    rec = store.tables["stock.quant"][quant]
    reserved = max(0.0, rec.get("reserved_quantity", 0.0) + delta)
    store.update("stock.quant", quant, {"reserved_quantity": reserved, "write_date": now()})
    held = max(0.0, move.get("quantity", 0.0) + delta)
    need = move.get("product_uom_qty", 0.0)
    state = "assigned" if held >= need else "partially_available" if held > 0 else "confirmed"
    store.update("stock.move", move_id, {"quantity": held, "state": state, "write_date": now()})


def _move_before_write(env: Env, ids: list[int], vals: dict[str, Any]) -> None:
    if "quantity" not in vals:
        return
    moves = env.store.tables["stock.move"]
    for mid in ids:
        move = moves[mid]
        if move["state"] in CLOSED or not move.get("picking_id"):
            continue  # an inventory adjustment's move, say: it holds nothing
        reserve(env, mid, float(vals["quantity"] or 0.0) - move.get("quantity", 0.0))


def _move_after_write(env: Env, ids: list[int], vals: dict[str, Any]) -> None:
    moves = env.store.tables["stock.move"]
    for picking in {moves[m].get("picking_id") for m in ids}:
        if picking:
            refresh_picking(env, picking)


def button_validate(env: Env, model: str, ids: list[int]) -> Any:
    store = env.store
    pickings = store.tables["stock.picking"]
    missing = [pid for pid in ids if pid not in pickings]
    if missing:
        raise missing_error(model, missing, env.uid)
    todo = [pid for pid in ids if pickings[pid]["state"] not in CLOSED]
    moves = store.tables["stock.move"]
    short = []
    for pid in todo:
        live = [moves[m] for m in _moves(env, pid) if moves[m]["state"] not in CLOSED]
        if not any(m.get("quantity", 0.0) > 0 for m in live):
            raise user_error(NOTHING_TO_VALIDATE)
        if any(m.get("quantity", 0.0) < m["product_uom_qty"] for m in live):
            short.append(pid)
    if short and not env.context.get("skip_backorder"):
        return {
            "name": "Create Backorder?",
            "type": "ir.actions.act_window",
            "view_mode": "form",
            "res_model": "stock.backorder.confirmation",
            "views": [[False, "form"]],
            "target": "new",
            "context": {
                "button_validate_picking_ids": todo,
                "default_show_transfers": False,
                "default_pick_ids": [[4, pid] for pid in short],
            },
        }
    dropped = set(env.context.get("picking_ids_not_to_backorder") or [])
    for pid in todo:
        _done(env, pid, backorder=pid in short and pid not in dropped)
    return True


def _done(env: Env, picking: int, *, backorder: bool) -> None:
    store = env.store
    moves = store.tables["stock.move"]
    rest: list[int] = []
    for mid in _moves(env, picking):
        move = moves[mid]
        if move["state"] in CLOSED:
            continue
        done, demand = move.get("quantity", 0.0), move["product_uom_qty"]
        if done <= 0:
            rest.append(mid)
            continue
        quant = find_quant(env, move["product_id"], move["location_id"])
        rec = store.tables["stock.quant"][quant]
        store.update(
            "stock.quant",
            quant,
            {
                "quantity": rec.get("quantity", 0.0) - done,
                "reserved_quantity": max(0.0, rec.get("reserved_quantity", 0.0) - done),
                "write_date": now(),
            },
        )
        stamp = now()
        store.update(
            "stock.move",
            mid,
            {"state": "done", "product_uom_qty": done, "date": stamp, "write_date": stamp},
        )
        line = move.get("sale_line_id")
        if line:
            delivered = store.tables["sale.order.line"][line].get("qty_delivered", 0.0) + done
            store.update("sale.order.line", line, {"qty_delivered": delivered, "write_date": stamp})
        if demand > done:
            copy = {k: v for k, v in move.items() if k not in ("id", "quantity", "state")}
            copy.update({"product_uom_qty": demand - done, "quantity": 0.0, "state": "confirmed"})
            rest.append(store.insert("stock.move", copy))
    order = store.tables["stock.picking"][picking]["sale_id"]
    store.update(
        "stock.picking", picking, {"state": "done", "date_done": now(), "write_date": now()}
    )
    if rest:
        if backorder:
            target = open_picking(env, order, backorder_of=picking)
            for mid in rest:
                store.update("stock.move", mid, {"picking_id": target})
                _reserve_free(env, mid)
            refresh_picking(env, target)
        else:
            for mid in rest:
                reserve(env, mid, -moves[mid].get("quantity", 0.0))
                store.update("stock.move", mid, {"state": "cancel"})
    refresh_order(env, order)


def _reserve_free(env: Env, move_id: int) -> None:
    move = env.store.tables["stock.move"][move_id]
    quant_id = find_quant(env, move["product_id"], move["location_id"])
    quant = env.store.tables["stock.quant"][quant_id]
    free = max(0.0, quant.get("quantity", 0.0) - quant.get("reserved_quantity", 0.0))
    short = move["product_uom_qty"] - move.get("quantity", 0.0)
    reserve(env, move_id, min(free, short))


hooks.BEFORE_WRITE["stock.move"] = _move_before_write
hooks.AFTER_WRITE["stock.move"] = _move_after_write
