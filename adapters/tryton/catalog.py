"""Products and stock from Tryton: templates with their variants and barcodes, and quantities
per warehouse (on hand, reserved by assigned moves, incoming from suppliers)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.tryton.base import ALL, TrytonBase
from adapters.tryton.errors import NAME
from adapters.tryton.mapping import TEMPLATE_FIELDS, VARIANT_FIELDS, stamp, to_product
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
    "draft": [["active", "=", True], ["salable", "=", False]],
    "active": [["active", "=", True], ["salable", "=", True]],
}
_SEPARATOR = "\x1f"


class CatalogPart(TrytonBase):
    async def list_products(self, query: ProductQuery) -> RecordPage[ProductRecord]:
        domain: list[Any] = [["code", "!=", None]]
        if query.status:
            domain += _STATUS_DOMAIN[query.status]
        if query.sku:
            domain.append(["products.code", "=", query.sku])
        if query.barcode:
            domain.append(["products.identifiers.code", "=", query.barcode])
        if query.updated_since:
            domain.append(
                [
                    "OR",
                    ["write_date", ">=", query.updated_since],
                    ["create_date", ">=", query.updated_since],
                ]
            )
        if query.cursor:
            domain.append(["code", ">", query.cursor])
        templates = await self._read(
            "product.template",
            domain,
            TEMPLATE_FIELDS,
            limit=query.limit + 1,
            order=[["code", "ASC"]],
            context=ALL,
        )
        page, more = templates[: query.limit], len(templates) > query.limit
        records = await self._products(page)
        return RecordPage(items=records, next_cursor=page[-1]["code"] if more else None)

    async def get_product(self, key: str) -> ProductRecord | None:
        templates = await self._read(
            "product.template", [["code", "=", key]], TEMPLATE_FIELDS, context=ALL
        )
        records = await self._products(templates[:1])
        return records[0] if records else None

    async def find_skus(self, skus: Sequence[str]) -> set[str]:
        if not skus:
            return set()
        rows = await self._read(
            "product.product", [["code", "in", list(skus)]], ["code"], context=ALL
        )
        return {row["code"] for row in rows}

    async def _products(self, templates: list[dict[str, Any]]) -> list[ProductRecord]:
        if not templates:
            return []
        variants = await self._read(
            "product.product",
            [["template", "in", [t["id"] for t in templates]]],
            VARIANT_FIELDS,
            context=ALL,
        )
        identifiers = await self._read(
            "product.identifier",
            [["product", "in", [v["id"] for v in variants]], ["type", "=", "ean"]],
            ["product", "code"],
            context=ALL,
        )
        barcodes = {row["product"]: row["code"] for row in identifiers}
        by_template: dict[int, list[dict[str, Any]]] = {}
        for variant in variants:
            by_template.setdefault(variant["template"], []).append(variant)
        currency = await self.currency()
        return [to_product(t, by_template.get(t["id"], []), barcodes, currency) for t in templates]

    # -- inventory ---------------------------------------------------------------------------
    async def list_locations(self) -> list[LocationRecord]:
        return [
            LocationRecord(
                id=w["code"],
                name=w["name"],
                kind=self.location_kind(w["code"]),  # type: ignore[arg-type]
                external_ids={NAME: str(w["id"])},
            )
            for w in await self.warehouses()
        ]

    async def list_stock(self, query: StockQuery) -> RecordPage[StockRecord]:
        warehouses = [
            w
            for w in await self.warehouses()
            if not query.location_ids or w["code"] in query.location_ids
        ]
        after = tuple((query.cursor or "").partition(_SEPARATOR)[::2])
        base: list[Any] = [["code", "!=", None]]
        if query.skus:
            base.append(["code", "in", list(query.skus)])
        # Resume at the cursor's SKU (it may have locations left), then move on SKU by SKU.
        bound: list[Any] | None = ["code", ">=", after[0]] if query.cursor else None
        rows: list[StockRecord] = []
        batch = max(10, query.limit)
        while warehouses and len(rows) <= query.limit:
            variants = await self._read(
                "product.product",
                base + ([bound] if bound else []),
                ["code"],
                limit=batch,
                order=[["code", "ASC"]],
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
            bound = ["code", ">", variants[-1]["code"]]
        page, more = rows[: query.limit], len(rows) > query.limit
        cursor = f"{page[-1].sku}{_SEPARATOR}{page[-1].location_id}" if more else None
        return RecordPage(items=page, next_cursor=cursor)

    async def _levels(
        self, variants: list[dict[str, Any]], warehouses: list[dict[str, Any]]
    ) -> list[StockRecord]:
        ids = [v["id"] for v in variants]
        code_of = {v["id"]: v["code"] for v in variants}
        changed = await self._last_moves(ids)
        levels: list[StockRecord] = []
        for warehouse in warehouses:
            where = {"locations": [warehouse["id"]], **ALL}
            on_hand = await self._read(
                "product.product", [["id", "in", ids]], ["quantity"], context=where
            )
            free = await self._read(
                "product.product",
                [["id", "in", ids]],
                ["quantity"],
                context={**where, "stock_assign": True},
            )
            incoming = await self._read(
                "stock.move",
                [
                    ["product", "in", ids],
                    ["from_location.type", "=", "supplier"],
                    ["to_location", "child_of", [warehouse["id"]], "parent"],
                    ["state", "in", ["draft", "assigned"]],
                ],
                ["product", "quantity"],
            )
            free_of = {row["id"]: row["quantity"] or 0 for row in free}
            incoming_of: dict[int, float] = {}
            for move in incoming:
                incoming_of[move["product"]] = incoming_of.get(move["product"], 0) + (
                    move["quantity"] or 0
                )
            for row in on_hand:
                quantity = round(row["quantity"] or 0)
                reserved = max(0, quantity - round(free_of.get(row["id"], 0)))
                arriving = round(incoming_of.get(row["id"], 0))
                if not (quantity or reserved or arriving):
                    continue  # nothing stocked, held or expected here
                levels.append(
                    StockRecord(
                        sku=code_of[row["id"]],
                        location_id=warehouse["code"],
                        on_hand=quantity,
                        reserved=reserved,
                        incoming=arriving,
                        safety_stock=0,
                        updated_at=changed.get(row["id"], datetime(1970, 1, 1, tzinfo=UTC)),
                    )
                )
        levels.sort(key=lambda level: (level.sku, level.location_id))
        return levels

    async def _last_moves(self, product_ids: list[int]) -> dict[int, datetime]:
        """When each product's stock last moved (any warehouse)."""
        moves = await self._read(
            "stock.move", [["product", "in", product_ids]], ["product", "write_date", "create_date"]
        )
        latest: dict[int, datetime] = {}
        for move in moves:
            when = stamp(move)
            if when > latest.get(move["product"], datetime(1970, 1, 1, tzinfo=UTC)):
                latest[move["product"]] = when
        return latest
