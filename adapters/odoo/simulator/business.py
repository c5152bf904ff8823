"""Business rules of the other models, after Odoo 17's `base`, `stock` and `product` (the sales
rules live in `sales`).

- stock.quant: counted through `inventory_quantity` + `action_apply_inventory` (or
  `inventory_quantity_auto_apply`, applied at once), which books the difference as a done move
  from/to Virtual Locations/Inventory adjustment. As in Odoo 17, with context `inventory_mode`
  a write of product/location is refused ("Quant's editing is restricted, you can't do this
  operation.") and so is a counting create with other fields; without it the ORM lets any
  field be written (`quantity` is readonly only in the views).
- product.template: creating one creates its variants (one, or one per attribute-value
  combination of its attribute lines); archiving it archives its variants; deleting a
  template's last variant deletes the template.
- res.partner: a `contact` needs a name; a contact created under a company copies its address.
"""

from __future__ import annotations

import itertools
from typing import Any

from adapters.odoo.simulator import hooks, writing
from adapters.odoo.simulator.errors import (
    missing_error,
    user_error,
    validation_error,
)
from adapters.odoo.simulator.store import Env, now

ADDRESS_FIELDS = ("street", "street2", "city", "zip", "country_id")


def _require(env: Env, model: str, ids: list[int]) -> None:
    missing = [rid for rid in ids if rid not in env.store.tables[model]]
    if missing:
        raise missing_error(model, missing, env.uid)


# -- res.partner ------------------------------------------------------------------------------


def _partner_before_create(env: Env, vals: dict[str, Any]) -> None:
    if vals.get("type", "contact") == "contact" and not vals.get("name"):
        raise validation_error("The operation cannot be completed: Contacts require a name")
    parent = env.store.tables["res.partner"].get(vals.get("parent_id") or 0)
    if (
        parent is not None
        and vals.get("type", "contact") == "contact"
        and not any(vals.get(f) for f in ADDRESS_FIELDS)
    ):
        for f in ADDRESS_FIELDS:
            vals[f] = parent.get(f, False)


def _partner_before_write(env: Env, ids: list[int], vals: dict[str, Any]) -> None:
    if "name" in vals and not vals["name"]:
        partners = env.store.tables["res.partner"]
        if any(vals.get("type", partners[p].get("type")) == "contact" for p in ids):
            raise validation_error("The operation cannot be completed: Contacts require a name")


# -- stock ----

_INVENTORY_FIELDS = frozenset(
    {"inventory_quantity", "inventory_quantity_auto_apply", "inventory_quantity_set"}
)
_QUANT_CREATE = frozenset(
    {"product_id", "location_id", "company_id", "in_date", *_INVENTORY_FIELDS}
)
_QUANT_FORBIDDEN = frozenset({"product_id", "location_id"})


def _quant_before_create(env: Env, vals: dict[str, Any]) -> None:
    counting = env.context.get("inventory_mode") and _INVENTORY_FIELDS & set(vals)
    if counting and set(vals) - _QUANT_CREATE:
        raise user_error("Quant's creation is restricted, you can't do this operation.")
    if "inventory_quantity" in vals:
        vals.setdefault("inventory_quantity_set", True)


def _quant_before_write(env: Env, ids: list[int], vals: dict[str, Any]) -> None:
    if env.context.get("inventory_mode") and _QUANT_FORBIDDEN & set(vals):
        raise user_error("Quant's editing is restricted, you can't do this operation.")
    if "inventory_quantity" in vals:
        vals.setdefault("inventory_quantity_set", True)


def _quant_apply_now(env: Env, ids: list[int], vals: dict[str, Any]) -> None:
    """`inventory_quantity_auto_apply`: count and apply in one go."""
    if "inventory_quantity_auto_apply" in vals:
        counted = float(vals["inventory_quantity_auto_apply"] or 0.0)
        for qid in ids:
            env.store.update(
                "stock.quant", qid, {"inventory_quantity": counted, "inventory_quantity_set": True}
            )
        quant_apply_inventory(env, "stock.quant", ids)


def _quant_created(env: Env, rid: int, vals: dict[str, Any]) -> None:
    _quant_apply_now(env, [rid], vals)


def quant_apply_inventory(env: Env, model: str, ids: list[int]) -> None:
    _require(env, model, ids)
    store = env.store
    inventory = min(
        lid
        for lid, rec in store.tables["stock.location"].items()
        if rec.get("usage") == "inventory"
    )
    for qid in ids:
        quant = store.tables["stock.quant"][qid]
        if not quant.get("inventory_quantity_set"):
            continue
        diff = quant.get("inventory_quantity", 0.0) - quant.get("quantity", 0.0)
        store.update(
            "stock.quant",
            qid,
            {
                "quantity": quant.get("inventory_quantity", 0.0),
                "inventory_quantity": 0.0,
                "inventory_quantity_set": False,
                "write_date": now(),
                "write_uid": env.uid,
            },
        )
        inside, outside = quant["location_id"], inventory
        writing.create(
            env,
            "stock.move",
            {
                "name": "Product Quantity Updated",
                "reference": "Product Quantity Updated",
                "product_id": quant["product_id"],
                "product_uom_qty": abs(diff),
                "quantity": abs(diff),
                "location_id": outside if diff > 0 else inside,
                "location_dest_id": inside if diff > 0 else outside,
                "state": "done",
            },
        )


# -- product ----------------------------------------------------------------------------------


def _template_after_create(env: Env, rid: int, vals: dict[str, Any]) -> None:
    if env.context.get("create_product_product") is False:
        return
    store = env.store
    per_line = []
    for line_id in sorted(store.lookup("product.template.attribute.line", "product_tmpl_id", rid)):
        line = store.tables["product.template.attribute.line"][line_id]
        ptavs = []
        for value in line.get("value_ids", []):
            value_rec = store.tables["product.attribute.value"][value]
            ptavs.append(
                writing.create(
                    env,
                    "product.template.attribute.value",
                    {
                        "name": value_rec["name"],
                        "product_attribute_value_id": value,
                        "attribute_line_id": line_id,
                        "product_tmpl_id": rid,
                        "attribute_id": line["attribute_id"],
                    },
                )
            )
        if ptavs:
            per_line.append(ptavs)
    combinations = list(itertools.product(*per_line)) if per_line else [()]
    code = store.tables["product.template"][rid].get("default_code")
    for combination in combinations:
        variant: dict[str, Any] = {
            "product_tmpl_id": rid,
            "product_template_attribute_value_ids": [[6, 0, list(combination)]],
        }
        if len(combinations) == 1 and code:
            variant["default_code"] = code
        writing.create(env, "product.product", variant)


def _template_after_write(env: Env, ids: list[int], vals: dict[str, Any]) -> None:
    if "active" in vals:
        variants = sorted(
            {v for t in ids for v in env.store.lookup("product.product", "product_tmpl_id", t)}
        )
        if variants:
            writing.write(env, "product.product", variants, {"active": bool(vals["active"])})


def _product_after_unlink(env: Env, ids: list[int], records: list[dict[str, Any]]) -> None:
    for template in {rec["product_tmpl_id"] for rec in records}:
        if template in env.store.tables["product.template"] and not env.store.lookup(
            "product.product", "product_tmpl_id", template
        ):
            writing.unlink(env, "product.template", [template])


hooks.BEFORE_CREATE.update(
    {"res.partner": _partner_before_create, "stock.quant": _quant_before_create}
)
hooks.AFTER_CREATE.update(
    {"product.template": _template_after_create, "stock.quant": _quant_created}
)
hooks.BEFORE_WRITE.update(
    {"res.partner": _partner_before_write, "stock.quant": _quant_before_write}
)
hooks.AFTER_WRITE.update(
    {"product.template": _template_after_write, "stock.quant": _quant_apply_now}
)
hooks.AFTER_UNLINK.update({"product.product": _product_after_unlink})
