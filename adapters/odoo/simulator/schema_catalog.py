"""Catalog models: product.template, its attribute lines and values, and product.product (which
`_inherits` product.template, so every template field is readable, searchable and writable on
the variant too)."""

from __future__ import annotations

from adapters.odoo.simulator import compute as c
from adapters.odoo.simulator.fields import (
    ModelDef,
    boolean,
    char,
    computed,
    floating,
    many2many,
    many2one,
    one2many,
    selection,
    text,
)
from adapters.odoo.simulator.store import Env

PRODUCT_TYPES = (("consu", "Consumable"), ("service", "Service"), ("product", "Storable Product"))


def _variant_count(env: Env, tid: int) -> int:
    return len(env.get("product.template", tid, "product_variant_ids"))


def _first_variant(env: Env, tid: int) -> int | bool:
    variants = env.get("product.template", tid, "product_variant_ids")
    return variants[0] if variants else False


def _template_currency(env: Env, _tid: int) -> int | bool:
    company = env.store.tables["res.company"].get(1)
    return company["currency_id"] if company else False


def _price_extra(env: Env, pid: int) -> float:
    ptavs = env.store.tables["product.template.attribute.value"]
    rec = env.store.tables["product.product"][pid]
    return float(
        sum(ptavs[v].get("price_extra", 0.0) for v in rec["product_template_attribute_value_ids"])
    )


def _code(env: Env, pid: int) -> str | bool:
    return env.store.tables["product.product"][pid].get("default_code") or False


def catalog_models() -> list[ModelDef]:
    template = ModelDef(
        "product.template",
        "Product",
        {
            "name": char("Name", required=True),
            "sequence": floating("Sequence", default=1.0),
            "default_code": char("Internal Reference"),
            "description": text("Description"),
            "description_sale": text("Sales Description"),
            "type": selection("Product Type", PRODUCT_TYPES, default="consu", required=True),
            "detailed_type": selection("Product Type", PRODUCT_TYPES, default="consu"),
            "categ_id": many2one("product.category", "Product Category", required=True, default=1),
            "list_price": floating("Sales Price", default=1.0),
            "standard_price": floating("Cost"),
            "currency_id": computed(
                "many2one", "Currency", _template_currency, relation="res.currency"
            ),
            "weight": floating("Weight"),
            "volume": floating("Volume"),
            "sale_ok": boolean("Can be Sold", default=True),
            "purchase_ok": boolean("Can be Purchased", default=True),
            "uom_id": many2one("uom.uom", "Unit of Measure", required=True, default=1),
            "company_id": many2one("res.company", "Company"),
            "active": boolean("Active", default=True),
            "priority": selection("Favorite", (("0", "Normal"), ("1", "Favorite")), default="0"),
            "invoice_policy": selection(
                "Invoicing Policy",
                (("order", "Ordered quantities"), ("delivery", "Delivered quantities")),
                default="order",
            ),
            "product_variant_ids": one2many("product.product", "product_tmpl_id", "Products"),
            "product_variant_id": computed(
                "many2one", "Product", _first_variant, relation="product.product"
            ),
            "product_variant_count": computed("integer", "# Product Variants", _variant_count),
            "attribute_line_ids": one2many(
                "product.template.attribute.line", "product_tmpl_id", "Product Attributes"
            ),
            "qty_available": computed("float", "Quantity On Hand", c.template_qty("qty_available")),
            "virtual_available": computed(
                "float", "Forecasted Quantity", c.template_qty("virtual_available")
            ),
            "incoming_qty": computed("float", "Incoming", c.template_qty("incoming_qty")),
            "outgoing_qty": computed("float", "Outgoing", c.template_qty("outgoing_qty")),
            "x_brand": char("Brand"),
            "x_material": char("Material"),
            "x_season": char("Season"),
        },
        order="priority desc, name, id",
        name_search=("name", "default_code"),
        indexed=("default_code",),
        display=c.template_display,
    )
    line = ModelDef(
        "product.template.attribute.line",
        "Product Template Attribute Line",
        {
            "product_tmpl_id": many2one(
                "product.template", "Product Template", required=True, ondelete="cascade"
            ),
            "attribute_id": many2one(
                "product.attribute", "Attribute", required=True, ondelete="restrict"
            ),
            "value_ids": many2many("product.attribute.value", "Values"),
            "product_template_value_ids": one2many(
                "product.template.attribute.value", "attribute_line_id", "Product Attribute Values"
            ),
            "sequence": floating("Sequence", default=10.0),
            "active": boolean("Active", default=True),
        },
        order="sequence, attribute_id, id",
        rec_name=None,
        display=lambda env, rid: str(
            env.store.tables["product.attribute"][
                env.store.tables["product.template.attribute.line"][rid]["attribute_id"]
            ]["name"]
        ),
    )
    ptav = ModelDef(
        "product.template.attribute.value",
        "Product Template Attribute Value",
        {
            "name": char("Value"),
            "product_attribute_value_id": many2one(
                "product.attribute.value", "Attribute Value", required=True, ondelete="cascade"
            ),
            "attribute_line_id": many2one(
                "product.template.attribute.line",
                "Attribute Line",
                required=True,
                ondelete="cascade",
            ),
            "product_tmpl_id": many2one("product.template", "Product Template"),
            "attribute_id": many2one("product.attribute", "Attribute"),
            "price_extra": floating("Value Price Extra"),
            "html_color": char("HTML Color Index"),
            "ptav_active": boolean("Active", default=True),
        },
        order="attribute_line_id, product_attribute_value_id, id",
        indexed=("product_tmpl_id",),
        display=c.attribute_value_display("product.template.attribute.value"),
    )
    product = ModelDef(
        "product.product",
        "Product Variant",
        {
            "product_tmpl_id": many2one(
                "product.template", "Product Template", required=True, ondelete="cascade"
            ),
            "default_code": char("Internal Reference"),
            "code": computed("char", "Reference", _code),
            "barcode": char("Barcode"),
            "active": boolean("Active", default=True),
            "product_template_attribute_value_ids": many2many(
                "product.template.attribute.value", "Attribute Values"
            ),
            "lst_price": computed("float", "Sales Price", c.lst_price),
            "price_extra": computed("float", "Variant Price Extra", _price_extra),
            "weight": floating("Weight"),
            "volume": floating("Volume"),
            "x_compare_at_price": floating("Compare-at Price"),
            "qty_available": computed("float", "Quantity On Hand", c.product_qty("qty_available")),
            "virtual_available": computed(
                "float", "Forecasted Quantity", c.product_qty("virtual_available")
            ),
            "free_qty": computed("float", "Free To Use Quantity", c.product_qty("free_qty")),
            "incoming_qty": computed("float", "Incoming", c.product_qty("incoming_qty")),
            "outgoing_qty": computed("float", "Outgoing", c.product_qty("outgoing_qty")),
            "stock_quant_ids": one2many("stock.quant", "product_id", "Stock Quants"),
            "stock_move_ids": one2many("stock.move", "product_id", "Stock Moves"),
        },
        order="priority desc, default_code, name, id",
        name_search=("default_code", "name", "barcode"),
        inherits=("product.template", "product_tmpl_id"),
        indexed=("default_code", "barcode", "product_tmpl_id"),
        display=c.product_display,
    )
    return [template, line, ptav, product]
