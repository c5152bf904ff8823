"""Products and stock from Odoo: templates with their variants, option values and barcodes,
and per-warehouse quantities (on hand, reserved, incoming) read with a warehouse context."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.odoo.base import ALL, OdooBase
from adapters.odoo.errors import NAME
from adapters.odoo.mapping import (
    FORMAT,
    TEMPLATE_FIELDS,
    VARIANT_FIELDS,
    display,
    status_of,
    text,
    to_variant,
    when,
)
from contracts.backend import (
    LocationRecord,
    ProductQuery,
    ProductRecord,
    RecordPage,
    StockQuery,
    StockRecord,
)

_STATUS_DOMAIN = {
    "archived": [["active", "=", False]],
    "draft": [["active", "=", True], ["sale_ok", "=", False]],
    "active": [["active", "=", True], ["sale_ok", "=", True]],
}
_SEPARATOR = "\x1f"
_ATTRIBUTE_KEYS = {"size": "size", "color": "color", "colour": "color"}


class CatalogPart(OdooBase):
    async def list_products(self, query: ProductQuery) -> RecordPage[ProductRecord]:
        domain: list[Any] = [["default_code", "!=", False]]
        if query.status:
            domain += _STATUS_DOMAIN[query.status]
        if query.sku:
            domain.append(["product_variant_ids.default_code", "=", query.sku])
        if query.barcode:
            domain.append(["product_variant_ids.barcode", "=", query.barcode])
        if query.updated_since:
            since = query.updated_since.strftime(FORMAT)
            domain += ["|", ["write_date", ">=", since], ["create_date", ">=", since]]
        if query.cursor:
            domain.append(["default_code", ">", query.cursor])
        templates = await self._read(
            "product.template",
            domain,
            TEMPLATE_FIELDS,
            limit=query.limit + 1,
            order="default_code asc",
            context=ALL,
        )
        page, more = templates[: query.limit], len(templates) > query.limit
        return RecordPage(
            items=await self._products(page), next_cursor=page[-1]["default_code"] if more else None
        )

    async def get_product(self, key: str) -> ProductRecord | None:
        templates = await self._read(
            "product.template", [["default_code", "=", key]], TEMPLATE_FIELDS, limit=1, context=ALL
        )
        records = await self._products(templates)
        return records[0] if records else None

    async def find_skus(self, skus: Sequence[str]) -> set[str]:
        if not skus:
            return set()
        rows = await self._read(
            "product.product", [["default_code", "in", list(skus)]], ["default_code"], context=ALL
        )
        return {row["default_code"] for row in rows}

    async def _products(self, templates: list[dict[str, Any]]) -> list[ProductRecord]:
        if not templates:
            return []
        variants = await self._read(
            "product.product",
            [["product_tmpl_id", "in", [t["id"] for t in templates]]],
            VARIANT_FIELDS,
            order="id asc",
            context=ALL,
        )
        value_ids = sorted(
            {
                v
                for variant in variants
                for v in variant.get("product_template_attribute_value_ids") or []
            }
        )
        values = (
            await self._read(
                "product.template.attribute.value",
                [["id", "in", value_ids]],
                ["attribute_id", "name"],
                context=ALL,
            )
            if value_ids
            else []
        )
        option_of = {
            row["id"]: (
                _ATTRIBUTE_KEYS.get(
                    (display(row.get("attribute_id")) or "").lower(),
                    (display(row.get("attribute_id")) or "").lower(),
                ),
                str(row["name"]),
            )
            for row in values
        }
        by_template: dict[int, list[dict[str, Any]]] = {}
        for variant in variants:
            by_template.setdefault(variant["product_tmpl_id"][0], []).append(variant)
        currency = await self.currency()
        records = []
        for template in templates:
            mine = by_template.get(template["id"], [])
            canonical = [
                to_variant(
                    v,
                    dict(
                        option_of[i]
                        for i in v.get("product_template_attribute_value_ids") or []
                        if i in option_of
                    ),
                    currency,
                )
                for v in mine
            ]
            category = (display(template.get("categ_id")) or "").rsplit(" / ", 1)[-1]
            attributes = {
                "category": category,
                "material": text(template.get("x_material")),
                "season": text(template.get("x_season")),
            }
            records.append(
                ProductRecord(
                    key=template["default_code"],
                    title=template["name"],
                    description=text(template.get("description_sale")) or "",
                    brand=text(template.get("x_brand")),
                    status=status_of(template),  # type: ignore[arg-type]
                    attributes={k: v for k, v in attributes.items() if v},
                    variants=canonical,
                    external_ids={NAME: str(template["id"])},
                    updated_at=max(
                        [
                            when(template.get("write_date")),
                            *(when(v.get("write_date")) for v in mine),
                        ]
                    ),
                )
            )
        return records

    # -- inventory ---------------------------------------------------------------------------
    async def list_locations(self) -> list[LocationRecord]:
        return [
            LocationRecord(
                id=self.location_id(w["code"]),
                name=w["name"],
                kind="store" if self.location_id(w["code"]) in self._store_codes else "warehouse",
                external_ids={NAME: str(w["id"])},
            )
            for w in await self.warehouses()
        ]

    async def list_stock(self, query: StockQuery) -> RecordPage[StockRecord]:
        wanted = {self.warehouse_code(location) for location in query.location_ids}
        warehouses = [w for w in await self.warehouses() if not wanted or w["code"] in wanted]
        after = tuple((query.cursor or "").partition(_SEPARATOR)[::2])
        base: list[Any] = [["default_code", "!=", False]]
        if query.skus:
            base.append(["default_code", "in", list(query.skus)])
        bound: list[Any] | None = ["default_code", ">=", after[0]] if query.cursor else None
        rows: list[StockRecord] = []
        batch = max(10, query.limit)
        while warehouses and len(rows) <= query.limit:
            variants = await self._read(
                "product.product",
                base + ([bound] if bound else []),
                ["default_code"],
                limit=batch,
                order="default_code asc",
                context=ALL,
            )
            for record in await self._levels(variants, warehouses) if variants else []:
                if query.cursor and (record.sku, record.location_id) <= after:
                    continue
                if query.updated_since and record.updated_at < query.updated_since:
                    continue
                rows.append(record)
            if len(variants) < batch:
                break
            bound = ["default_code", ">", variants[-1]["default_code"]]
        page, more = rows[: query.limit], len(rows) > query.limit
        cursor = f"{page[-1].sku}{_SEPARATOR}{page[-1].location_id}" if more else None
        return RecordPage(items=page, next_cursor=cursor)

    async def _levels(
        self, variants: list[dict[str, Any]], warehouses: list[dict[str, Any]]
    ) -> list[StockRecord]:
        ids = [v["id"] for v in variants]
        levels: list[StockRecord] = []
        for warehouse in warehouses:
            quantities = await self._read(
                "product.product",
                [["id", "in", ids]],
                ["default_code", "qty_available", "free_qty", "incoming_qty"],
                context={**ALL, "warehouse": warehouse["id"]},
            )
            quants = await self._read(
                "stock.quant",
                [
                    ["product_id", "in", ids],
                    ["location_id", "child_of", warehouse["view_location_id"][0]],
                ],
                ["product_id", "write_date"],
            )
            changed: dict[int, Any] = {}
            for quant in quants:
                product = quant["product_id"][0]
                changed[product] = max(
                    changed.get(product, when(None)), when(quant.get("write_date"))
                )
            location = self.location_id(warehouse["code"])
            for row in quantities:
                on_hand = round(row.get("qty_available") or 0)
                reserved = max(0, on_hand - round(row.get("free_qty") or 0))
                incoming = round(row.get("incoming_qty") or 0)
                if not (on_hand or reserved or incoming):
                    continue  # nothing stocked, held or expected here
                levels.append(
                    StockRecord(
                        sku=row["default_code"],
                        location_id=location,
                        on_hand=on_hand,
                        reserved=reserved,
                        incoming=incoming,
                        safety_stock=0,
                        updated_at=changed.get(row["id"], when(None)),
                    )
                )
        levels.sort(key=lambda level: (level.sku, level.location_id))
        return levels
