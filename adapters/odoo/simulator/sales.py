"""Sales rules after Odoo 17's `sale` and `sale_stock`.

sale.order: the name comes from the sequence ("S00001", ...); invoice and delivery addresses
default to the customer's `invoice` / `delivery` contacts, else the customer. `action_confirm`
refuses orders not in draft/sent ("Some orders are not in a state requiring confirmation.") and
lines without a product, sets state `sale` and `date_order` = now, and for storable products
creates a delivery stock.move from the order warehouse's stock location to Partners/Customers,
reserving what is free in that location's quant (`reserved_quantity`; the move is `assigned`,
`partially_available` or `confirmed`). `action_cancel` on an order that is not a draft answers
the "Cancel ..." wizard action WITHOUT cancelling, unless the context has
`disable_cancel_warning: true` (Odoo 17 `_show_cancel_wizard`); cancelling releases the
reservations and cancels the moves. `action_draft` resets cancelled/sent orders. A sent or
confirmed order cannot be deleted; a confirmed order's lines cannot be deleted. Changing a
confirmed line's quantity or product re-plans its delivery move.

sale.order.line: description and unit price default to the product's display name (+ sales
description) and `lst_price`. Simulator rule (not in stock Odoo, which only filters the product
in the form view): a product with `sale_ok` False is refused with a ValidationError.
"""

from __future__ import annotations

from typing import Any

from adapters.odoo.simulator import hooks, writing
from adapters.odoo.simulator.compute import product_display
from adapters.odoo.simulator.errors import (
    VALUE_ERROR,
    OdooError,
    missing_error,
    user_error,
    validation_error,
)
from adapters.odoo.simulator.reservations import launch_stock, release_line
from adapters.odoo.simulator.store import Env, now

CANCEL_WIZARD_VIEW_ID = 1094
CANCEL_MAIL_TEMPLATE_ID = 37


def _touch(env: Env, model: str, rid: Any) -> None:
    if rid in env.store.tables[model]:
        env.store.update(model, rid, {"write_date": now(), "write_uid": env.uid})


def _require(env: Env, model: str, ids: list[int]) -> None:
    missing = [rid for rid in ids if rid not in env.store.tables[model]]
    if missing:
        raise missing_error(model, missing, env.uid)


def address_of(env: Env, partner: int, kind: str) -> int:
    """`res.partner.address_get`: the first `kind` contact of the commercial entity."""
    partners = env.store.tables["res.partner"]
    for child in sorted(env.store.lookup("res.partner", "parent_id", partner)):
        rec = partners[child]
        if rec.get("type") == kind and rec.get("active", True):
            return child
    return partner


# -- sale.order -------------------------------------------------------------------------------


def _order_before_create(env: Env, vals: dict[str, Any]) -> None:
    if not vals.get("name") or vals.get("name") == "New":
        vals["name"] = f"S{env.store.next_sequence('sale.order'):05d}"
    partner = vals.get("partner_id")
    if isinstance(partner, int) and partner in env.store.tables["res.partner"]:
        vals.setdefault("partner_invoice_id", address_of(env, partner, "invoice"))
        vals.setdefault("partner_shipping_id", address_of(env, partner, "delivery"))


def _order_before_write(env: Env, ids: list[int], vals: dict[str, Any]) -> None:
    partner = vals.get("partner_id")
    if isinstance(partner, int) and partner in env.store.tables["res.partner"]:
        vals.setdefault("partner_invoice_id", address_of(env, partner, "invoice"))
        vals.setdefault("partner_shipping_id", address_of(env, partner, "delivery"))


def _order_before_unlink(env: Env, ids: list[int]) -> None:
    for oid in ids:
        if env.store.tables["sale.order"][oid]["state"] not in ("draft", "cancel"):
            raise user_error(
                "You can not delete a sent quotation or a confirmed sales order."
                " You must first cancel it."
            )


def sale_confirm(env: Env, model: str, ids: list[int]) -> bool:
    _require(env, model, ids)
    orders = env.store.tables["sale.order"]
    lines = env.store.tables["sale.order.line"]
    for oid in ids:
        if orders[oid]["state"] not in ("draft", "sent"):
            raise user_error("Some orders are not in a state requiring confirmation.")
        for lid in env.store.lookup("sale.order.line", "order_id", oid):
            if not lines[lid].get("display_type") and not lines[lid].get("product_id"):
                raise user_error("A line on these orders missing a product, you cannot confirm it.")
    writing.write(env, "sale.order", ids, {"state": "sale", "date_order": now()})
    for oid in ids:
        launch_stock(env, sorted(env.store.lookup("sale.order.line", "order_id", oid)))
    return True


def sale_cancel(env: Env, model: str, ids: list[int]) -> Any:
    _require(env, model, ids)
    orders = env.store.tables["sale.order"]
    if any(orders[oid].get("locked") for oid in ids):
        raise user_error("You cannot cancel a locked order. Please unlock it first.")
    show_wizard = not env.context.get("disable_cancel_warning") and any(
        orders[oid]["state"] != "draft" for oid in ids
    )
    if show_wizard:
        if len(ids) != 1:
            shown = ", ".join(str(i) for i in ids)
            raise OdooError(VALUE_ERROR, f"Expected singleton: sale.order({shown})")
        state = orders[ids[0]]["state"]
        type_name = "Quotation" if state in ("draft", "sent", "cancel") else "Sales Order"
        return {
            "name": f"Cancel {type_name}",
            "view_mode": "form",
            "res_model": "sale.order.cancel",
            "view_id": CANCEL_WIZARD_VIEW_ID,
            "type": "ir.actions.act_window",
            "context": {
                "default_template_id": CANCEL_MAIL_TEMPLATE_ID,
                "default_order_id": ids[0],
                "mark_so_as_canceled": True,
                "default_email_layout_xmlid": (
                    "mail.mail_notification_layout_with_responsible_signature"
                ),
                "model_description": type_name,
            },
            "target": "new",
        }
    for oid in ids:
        for lid in env.store.lookup("sale.order.line", "order_id", oid):
            release_line(env, lid)
    return writing.write(env, "sale.order", ids, {"state": "cancel"})


def sale_draft(env: Env, model: str, ids: list[int]) -> bool:
    _require(env, model, ids)
    orders = env.store.tables["sale.order"]
    todo = [oid for oid in ids if orders[oid]["state"] in ("cancel", "sent")]
    return writing.write(env, "sale.order", todo, {"state": "draft"}) if todo else True


# -- sale.order.line --------------------------------------------------------------------------


def _check_sellable(env: Env, product: Any) -> None:
    products = env.store.tables["product.product"]
    if isinstance(product, int) and product in products:
        template = env.store.tables["product.template"][products[product]["product_tmpl_id"]]
        if not template.get("sale_ok", True):
            raise validation_error(
                f"The product {product_display(env, product)!r} cannot be sold"
                ' ("Can be Sold" is unchecked).'
            )


def _line_before_create(env: Env, vals: dict[str, Any]) -> None:
    product = vals.get("product_id")
    _check_sellable(env, product)
    products = env.store.tables["product.product"]
    if isinstance(product, int) and product in products:
        template = env.store.tables["product.template"][products[product]["product_tmpl_id"]]
        if not vals.get("name"):
            name = product_display(env, product)
            if template.get("description_sale"):
                name = f"{name}\n{template['description_sale']}"
            vals["name"] = name
        if "price_unit" not in vals:
            vals["price_unit"] = env.get("product.product", product, "lst_price")
        vals.setdefault("product_uom", template.get("uom_id") or 1)


def _line_after_create(env: Env, rid: int, vals: dict[str, Any]) -> None:
    order = env.store.tables["sale.order.line"][rid]["order_id"]
    _touch(env, "sale.order", order)
    if env.store.tables["sale.order"][order]["state"] == "sale":
        launch_stock(env, [rid])


def _line_before_write(env: Env, ids: list[int], vals: dict[str, Any]) -> None:
    if "product_id" in vals:
        _check_sellable(env, vals["product_id"])


def _line_after_write(env: Env, ids: list[int], vals: dict[str, Any]) -> None:
    lines = env.store.tables["sale.order.line"]
    for oid in {lines[lid]["order_id"] for lid in ids}:
        _touch(env, "sale.order", oid)
    if "product_uom_qty" in vals or "product_id" in vals:
        for lid in ids:
            if env.store.tables["sale.order"][lines[lid]["order_id"]]["state"] == "sale":
                release_line(env, lid)
                launch_stock(env, [lid])


def _line_before_unlink(env: Env, ids: list[int]) -> None:
    lines = env.store.tables["sale.order.line"]
    orders = env.store.tables["sale.order"]
    if any(orders[lines[lid]["order_id"]]["state"] == "sale" for lid in ids):
        raise user_error(
            "Once a sales order is confirmed, you can't remove one of its lines (we need to"
            " track if something gets invoiced or delivered).\nSet the quantity to 0 instead."
        )


def _line_after_unlink(env: Env, ids: list[int], records: list[dict[str, Any]]) -> None:
    for oid in {rec["order_id"] for rec in records}:
        _touch(env, "sale.order", oid)


hooks.BEFORE_CREATE.update(
    {"sale.order": _order_before_create, "sale.order.line": _line_before_create}
)
hooks.AFTER_CREATE.update({"sale.order.line": _line_after_create})
hooks.BEFORE_WRITE.update(
    {"sale.order": _order_before_write, "sale.order.line": _line_before_write}
)
hooks.AFTER_WRITE.update({"sale.order.line": _line_after_write})
hooks.BEFORE_UNLINK.update(
    {"sale.order": _order_before_unlink, "sale.order.line": _line_before_unlink}
)
hooks.AFTER_UNLINK.update({"sale.order.line": _line_after_unlink})
