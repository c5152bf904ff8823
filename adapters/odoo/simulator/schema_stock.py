"""Inventory models: stock.warehouse, stock.location, stock.quant, stock.move and stock.picking
(Odoo 17)."""

from __future__ import annotations

from adapters.odoo.simulator import business as b
from adapters.odoo.simulator import compute as c
from adapters.odoo.simulator import pickings as p
from adapters.odoo.simulator.fields import (
    ModelDef,
    boolean,
    char,
    computed,
    datetime_,
    floating,
    integer,
    many2one,
    one2many,
    selection,
)
from adapters.odoo.simulator.store import Env, now

LOCATION_USAGES = (
    ("supplier", "Vendor Location"),
    ("view", "View"),
    ("internal", "Internal Location"),
    ("customer", "Customer Location"),
    ("inventory", "Inventory Loss"),
    ("production", "Production"),
    ("transit", "Transit Location"),
)
MOVE_STATES = (
    ("draft", "New"),
    ("waiting", "Waiting Another Move"),
    ("confirmed", "Waiting Availability"),
    ("partially_available", "Partially Available"),
    ("assigned", "Available"),
    ("done", "Done"),
    ("cancel", "Cancelled"),
)


def _quant_available(env: Env, qid: int) -> float:
    rec = env.store.tables["stock.quant"][qid]
    return float(rec.get("quantity", 0.0) - rec.get("reserved_quantity", 0.0))


def _quant_warehouse(env: Env, qid: int) -> int | bool:
    return c.location_warehouse(env, env.store.tables["stock.quant"][qid]["location_id"])


def _quant_template(env: Env, qid: int) -> int:
    pid = env.store.tables["stock.quant"][qid]["product_id"]
    return int(env.store.tables["product.product"][pid]["product_tmpl_id"])


def _move_qty(env: Env, mid: int) -> float:
    return float(env.store.tables["stock.move"][mid].get("product_uom_qty", 0.0))


def stock_models() -> list[ModelDef]:
    warehouse = ModelDef(
        "stock.warehouse",
        "Warehouse",
        {
            "name": char("Warehouse", required=True),
            "code": char("Short Name", required=True, size=5),
            "active": boolean("Active", default=True),
            "company_id": many2one("res.company", "Company", required=True, default=1),
            "partner_id": many2one("res.partner", "Address"),
            "view_location_id": many2one("stock.location", "View Location", required=True),
            "lot_stock_id": many2one("stock.location", "Location Stock", required=True),
            "sequence": integer("Sequence", default=10),
            "reception_steps": selection(
                "Incoming Shipments",
                (
                    ("one_step", "Receive goods directly (1 step)"),
                    ("two_steps", "Receive goods in input and then stock (2 steps)"),
                    ("three_steps", "Receive goods in input, then quality and then stock"),
                ),
                default="one_step",
            ),
            "delivery_steps": selection(
                "Outgoing Shipments",
                (
                    ("ship_only", "Deliver goods directly (1 step)"),
                    ("pick_ship", "Send goods in output and then deliver (2 steps)"),
                    ("pick_pack_ship", "Pack goods, send goods in output and then deliver"),
                ),
                default="ship_only",
            ),
        },
        order="sequence,id",
        name_search=("name", "code"),
        indexed=("code", "view_location_id"),
    )
    location = ModelDef(
        "stock.location",
        "Inventory Locations",
        {
            "name": char("Location Name", required=True),
            "complete_name": computed("char", "Full Location Name", c.location_complete_name),
            "usage": selection("Location Type", LOCATION_USAGES, default="internal", required=True),
            "location_id": many2one("stock.location", "Parent Location", ondelete="cascade"),
            "child_ids": one2many("stock.location", "location_id", "Contains"),
            "warehouse_id": computed(
                "many2one", "Warehouse", c.location_warehouse, relation="stock.warehouse"
            ),
            "barcode": char("Barcode"),
            "company_id": many2one("res.company", "Company"),
            "scrap_location": boolean("Is a Scrap Location?"),
            "active": boolean("Active", default=True),
        },
        order="complete_name, id",
        rec_name="complete_name",
        name_search=("complete_name", "barcode"),
        parent_name="location_id",
        indexed=("barcode",),
    )
    quant = ModelDef(
        "stock.quant",
        "Quants",
        {
            "product_id": many2one(
                "product.product", "Product", required=True, ondelete="restrict"
            ),
            "product_tmpl_id": computed(
                "many2one", "Product Template", _quant_template, relation="product.template"
            ),
            "location_id": many2one(
                "stock.location", "Location", required=True, ondelete="restrict"
            ),
            "warehouse_id": computed(
                "many2one", "Warehouse", _quant_warehouse, relation="stock.warehouse"
            ),
            "quantity": floating("Quantity", readonly=True),
            "reserved_quantity": floating("Reserved Quantity", readonly=True),
            "available_quantity": computed("float", "Available Quantity", _quant_available),
            "inventory_quantity": floating("Counted Quantity"),
            "inventory_quantity_set": boolean("Inventory Quantity Set"),
            "inventory_quantity_auto_apply": floating("Inventoried Quantity"),
            "in_date": datetime_("Incoming Date", default=lambda env: now()),
            "company_id": many2one("res.company", "Company", default=1),
        },
        rec_name=None,
        indexed=("product_id", "location_id"),
        display=c.quant_display,
        methods={"action_apply_inventory": b.quant_apply_inventory},
    )
    move = ModelDef(
        "stock.move",
        "Stock Move",
        {
            "name": char("Description", required=True),
            "reference": char("Reference"),
            "origin": char("Source Document"),
            "sequence": integer("Sequence", default=10),
            "product_id": many2one("product.product", "Product", required=True),
            "product_uom_qty": floating("Demand", required=True),
            "product_qty": computed("float", "Real Quantity", _move_qty),
            "quantity": floating("Quantity"),
            "product_uom": many2one("uom.uom", "UoM", default=1),
            "location_id": many2one("stock.location", "Source Location", required=True),
            "location_dest_id": many2one("stock.location", "Destination Location", required=True),
            "state": selection("Status", MOVE_STATES, default="draft"),
            "date": datetime_("Date Scheduled", default=lambda env: now()),
            "partner_id": many2one("res.partner", "Destination Address"),
            "warehouse_id": many2one("stock.warehouse", "Warehouse"),
            "sale_line_id": many2one("sale.order.line", "Sale Line"),
            "picking_id": many2one("stock.picking", "Transfer"),
            "company_id": many2one("res.company", "Company", default=1),
        },
        order="sequence, id",
        indexed=("product_id", "sale_line_id", "picking_id"),
        display=c.move_display,
    )
    picking = ModelDef(
        "stock.picking",
        "Transfer",
        {
            "name": char("Reference", default="/"),
            "origin": char("Source Document"),
            "partner_id": many2one("res.partner", "Contact"),
            "sale_id": many2one("sale.order", "Sales Order"),
            "backorder_id": many2one("stock.picking", "Back Order of"),
            "picking_type_code": selection(
                "Type of Operation",
                (("incoming", "Receipt"), ("outgoing", "Delivery"), ("internal", "Internal")),
            ),
            "move_type": selection(
                "Shipping Policy",
                (("direct", "As soon as possible"), ("one", "When all products are ready")),
                default="direct",
            ),
            "location_id": many2one("stock.location", "Source Location", required=True),
            "location_dest_id": many2one("stock.location", "Destination Location", required=True),
            "state": selection("Status", p.PICKING_STATES, default="draft", readonly=True),
            "scheduled_date": datetime_("Scheduled Date", default=lambda env: now()),
            "date_done": datetime_("Date of Transfer", readonly=True),
            "move_ids": one2many("stock.move", "picking_id", "Stock Moves"),
            "company_id": many2one("res.company", "Company", default=1),
        },
        order="scheduled_date asc, id desc",
        indexed=("sale_id", "name"),
        methods={"button_validate": p.button_validate},
    )
    return [warehouse, location, quant, move, picking]
