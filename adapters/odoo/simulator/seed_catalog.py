"""The demo catalog as Odoo 17 product records (see `seed` for the layout)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from adapters._demo import DemoDataset
from adapters.odoo.simulator.store import DATETIME_FORMAT, Store


class Seeder(Protocol):
    store: Store

    def add(self, model: str, values: dict[str, Any], stamp: str | None = None) -> int: ...


def seed_catalog(seeder: Seeder, dataset: DemoDataset) -> dict[str, int]:
    """Categories, attributes, templates and variants; answers the variant id of each sku."""
    store = seeder.store
    root = seeder.add("product.category", {"name": "All"})
    categories: dict[str, int] = {}
    size = seeder.add("product.attribute", {"name": "Size", "sequence": 1, "display_type": "pills"})
    color = seeder.add(
        "product.attribute", {"name": "Color", "sequence": 2, "display_type": "color"}
    )
    values: dict[tuple[int, str], int] = {}

    def value(attribute: int, name: str) -> int:
        key = (attribute, name)
        if key not in values:
            sequence = sum(1 for a, _n in values if a == attribute)
            values[key] = seeder.add(
                "product.attribute.value",
                {"name": name, "attribute_id": attribute, "sequence": sequence},
            )
        return values[key]

    variant_of: dict[str, int] = {}
    for product in dataset.products:
        if product.category not in categories:
            categories[product.category] = seeder.add(
                "product.category", {"name": product.category, "parent_id": root}
            )
        stamp = product.updated_at.strftime(DATETIME_FORMAT)
        active = product.status != "archived"
        first = product.variants[0]
        template = seeder.add(
            "product.template",
            {
                "name": product.title,
                "default_code": product.code,
                "description_sale": product.description,
                "list_price": float(first.price),
                "sale_ok": product.status != "draft",
                "active": active,
                "categ_id": categories[product.category],
                "weight": first.weight_kg,
                "type": "product",
                "detailed_type": "product",
                "x_brand": product.brand,
                "x_material": product.attributes.get("material", False),
                "x_season": product.attributes.get("season", False),
            },
            stamp,
        )
        ptavs: dict[tuple[int, str], int] = {}
        for attribute, option in ((size, "size"), (color, "color")):
            names = list(dict.fromkeys(v.options[option] for v in product.variants))
            value_ids = [value(attribute, n) for n in names]
            line = seeder.add(
                "product.template.attribute.line",
                {
                    "product_tmpl_id": template,
                    "attribute_id": attribute,
                    "value_ids": value_ids,
                },
                stamp,
            )
            for name, value_id in zip(names, value_ids, strict=True):
                ptavs[(attribute, name)] = seeder.add(
                    "product.template.attribute.value",
                    {
                        "name": name,
                        "product_attribute_value_id": value_id,
                        "attribute_line_id": line,
                        "product_tmpl_id": template,
                        "attribute_id": attribute,
                    },
                    stamp,
                )
        for variant in product.variants:
            variant_of[variant.sku] = seeder.add(
                "product.product",
                {
                    "product_tmpl_id": template,
                    "default_code": variant.sku,
                    "barcode": variant.barcode,
                    "active": active,
                    "weight": variant.weight_kg,
                    "x_compare_at_price": float(variant.compare_at_price or Decimal(0)),
                    "product_template_attribute_value_ids": [
                        ptavs[(size, variant.options["size"])],
                        ptavs[(color, variant.options["color"])],
                    ],
                },
                stamp,
            )
    assert store.tables["product.product"]
    return variant_of
