"""Sales models: sale.order and sale.order.line (Odoo 17 `sale` + `sale_stock` field names)."""

from __future__ import annotations

from typing import Any

from adapters.odoo.simulator import compute as c
from adapters.odoo.simulator import sales as b
from adapters.odoo.simulator.fields import (
    ModelDef,
    boolean,
    char,
    computed,
    datetime_,
    floating,
    html,
    integer,
    many2one,
    one2many,
    selection,
    text,
)
from adapters.odoo.simulator.pickings import DELIVERY_STATUSES
from adapters.odoo.simulator.store import Env, now

ORDER_STATES = (
    ("draft", "Quotation"),
    ("sent", "Quotation Sent"),
    ("sale", "Sales Order"),
    ("cancel", "Cancelled"),
)


def _default_warehouse(env: Env) -> int | bool:
    warehouses = env.store.tables["stock.warehouse"]
    active = [(w.get("sequence", 10), wid) for wid, w in warehouses.items() if w.get("active")]
    return min(active)[1] if active else False


def _order_currency(env: Env, _oid: int) -> int | bool:
    company = env.store.tables["res.company"].get(1)
    return company["currency_id"] if company else False


def _zero(_env: Env, _rid: int) -> float:
    return 0.0


def _line_state(env: Env, lid: int) -> str:
    order = env.store.tables["sale.order.line"][lid]["order_id"]
    return str(env.store.tables["sale.order"][order]["state"])


def _line_partner(env: Env, lid: int) -> int:
    order = env.store.tables["sale.order.line"][lid]["order_id"]
    return int(env.store.tables["sale.order"][order]["partner_id"])


def _line_template(env: Env, lid: int) -> int | bool:
    pid = env.store.tables["sale.order.line"][lid].get("product_id")
    return env.store.tables["product.product"][pid]["product_tmpl_id"] if pid else False


def _line_currency(env: Env, _lid: int) -> Any:
    return _order_currency(env, 0)


def sale_models() -> list[ModelDef]:
    order = ModelDef(
        "sale.order",
        "Sales Order",
        {
            "name": char("Order Reference", required=True, default="New"),
            "partner_id": many2one("res.partner", "Customer", required=True),
            "partner_invoice_id": many2one("res.partner", "Invoice Address", required=True),
            "partner_shipping_id": many2one("res.partner", "Delivery Address", required=True),
            "client_order_ref": char("Customer Reference"),
            "origin": char("Source Document"),
            "date_order": datetime_("Order Date", required=True, default=lambda env: now()),
            "commitment_date": datetime_("Delivery Date"),
            "state": selection("Status", ORDER_STATES, default="draft"),
            "locked": boolean("Locked"),
            "order_line": one2many("sale.order.line", "order_id", "Order Lines"),
            "amount_untaxed": computed("monetary", "Untaxed Amount", c.order_amount),
            "amount_tax": computed("monetary", "Taxes", _zero),
            "amount_total": computed("monetary", "Total", c.order_amount),
            "currency_id": computed(
                "many2one", "Currency", _order_currency, relation="res.currency"
            ),
            "company_id": many2one("res.company", "Company", required=True, default=1),
            "user_id": many2one("res.users", "Salesperson", default=lambda env: env.uid),
            "warehouse_id": many2one(
                "stock.warehouse", "Warehouse", required=True, default=_default_warehouse
            ),
            "picking_policy": selection(
                "Shipping Policy",
                (("direct", "As soon as possible"), ("one", "When all products are ready")),
                default="direct",
                required=True,
            ),
            "note": html("Terms and conditions"),
            "picking_ids": one2many("stock.picking", "sale_id", "Transfers"),
            # Stored and recomputed as deliveries are validated (see `pickings`).
            "delivery_status": selection(
                "Delivery Status", DELIVERY_STATUSES, readonly=True, default=False
            ),
        },
        order="date_order desc, id desc",
        name_search=("name", "client_order_ref"),
        indexed=("name", "client_order_ref", "partner_id"),
        methods={
            "action_confirm": b.sale_confirm,
            "action_cancel": b.sale_cancel,
            "action_draft": b.sale_draft,
        },
    )
    line = ModelDef(
        "sale.order.line",
        "Sales Order Line",
        {
            "order_id": many2one(
                "sale.order", "Order Reference", required=True, ondelete="cascade"
            ),
            "sequence": integer("Sequence", default=10),
            "name": text("Description", required=True),
            "product_id": many2one("product.product", "Product", ondelete="restrict"),
            "product_template_id": computed(
                "many2one", "Product Template", _line_template, relation="product.template"
            ),
            "product_uom_qty": floating("Quantity", default=1.0, required=True),
            "product_uom": many2one("uom.uom", "Unit of Measure", default=1),
            "price_unit": floating("Unit Price", required=True),
            "discount": floating("Discount (%)"),
            "price_subtotal": computed("monetary", "Subtotal", c.line_subtotal),
            "price_tax": computed("float", "Total Tax", _zero),
            "price_total": computed("monetary", "Total", c.line_subtotal),
            "display_type": selection(
                "Display Type", (("line_section", "Section"), ("line_note", "Note"))
            ),
            "state": computed("selection", "Order Status", _line_state, selection=ORDER_STATES),
            "order_partner_id": computed(
                "many2one", "Customer", _line_partner, relation="res.partner"
            ),
            "currency_id": computed(
                "many2one", "Currency", _line_currency, relation="res.currency"
            ),
            "qty_delivered": floating("Delivery Quantity"),
            "qty_invoiced": floating("Invoiced Quantity"),
            "customer_lead": floating("Lead Time"),
            "move_ids": one2many("stock.move", "sale_line_id", "Stock Moves"),
            "company_id": many2one("res.company", "Company", default=1),
        },
        order="order_id, sequence, id",
        indexed=("order_id",),
        display=c.sale_line_display,
    )
    return [order, line]
