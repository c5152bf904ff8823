"""Catalog reads: turns backend product records into v1 products with our ids."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import msgspec

from app.backend_calls import call_backend
from app.cache.reads import CachedReads
from app.context import CallContext
from app.paging import CursorCodec
from app.problems import NotFound
from app.publicids import PRODUCT, key_of, public_id
from app.tenancy.bindings import BackendResolver
from app.tenancy.shadow import ShadowReads
from contracts.backend import ProductQuery, ProductRecord
from contracts.v1 import Product, ProductPage
from contracts.v1.products import ProductStatus


def to_product(record: ProductRecord) -> Product:
    return Product(
        id=public_id(PRODUCT, record.key),
        title=record.title,
        description=record.description,
        brand=record.brand,
        status=record.status,
        attributes=record.attributes,
        variants=record.variants,
        external_ids=record.external_ids,
        updated_at=record.updated_at,
    )


SHADOW_SAMPLE = 10  # records of a listed page compared against a migration's candidate


class CatalogService:
    def __init__(
        self,
        backends: BackendResolver,
        cursors: CursorCodec,
        shadow: ShadowReads | None = None,
        cache: CachedReads | None = None,
    ) -> None:
        self._backends = backends
        self._cursors = cursors
        self._shadow = shadow
        self._cache = cache

    async def _observe(self, ctx: CallContext, products: list[Product]) -> None:
        if self._shadow is None or not products:
            return
        keys = {
            product.id: key
            for product in products[:SHADOW_SAMPLE]
            if (key := key_of(PRODUCT, product.id))
        }

        async def read(candidate: Any) -> dict[str, Any]:
            records = await asyncio.gather(*(candidate.get_product(key) for key in keys.values()))
            return {pid: to_product(r) if r else None for pid, r in zip(keys, records, strict=True)}

        await self._shadow.observe(
            ctx.tenant_id, "catalog", {p.id: p for p in products if p.id in keys}, read
        )

    async def list_products(
        self,
        ctx: CallContext,
        *,
        limit: int,
        cursor: str | None,
        sku: str | None = None,
        barcode: str | None = None,
        status: ProductStatus | None = None,
        updated_since: datetime | None = None,
    ) -> ProductPage:
        filters = {
            "sku": sku,
            "barcode": barcode,
            "status": status,
            "updated_since": updated_since.isoformat() if updated_since else None,
        }
        position = (
            self._cursors.decode(cursor, ctx.tenant_id, "products", filters) if cursor else None
        )
        backends = await self._backends.for_tenant(ctx.tenant_id)
        query = ProductQuery(
            sku=sku,
            barcode=barcode,
            status=status,
            updated_since=updated_since,
            limit=limit,
            cursor=position,
        )
        page = await call_backend(
            backends.catalog.list_products(query), backend=backends.names["catalog"]
        )
        next_cursor = (
            self._cursors.encode(ctx.tenant_id, "products", filters, page.next_cursor)
            if page.next_cursor
            else None
        )
        products = [to_product(record) for record in page.items]
        await self._observe(ctx, products)
        return ProductPage(data=products, next_cursor=next_cursor)

    async def get_product(self, ctx: CallContext, product_id: str) -> Product:
        key = key_of(PRODUCT, product_id)
        if key is None:
            raise NotFound(f"no product {product_id}")
        backends = await self._backends.for_tenant(ctx.tenant_id)
        record = await call_backend(
            backends.catalog.get_product(key), backend=backends.names["catalog"]
        )
        if record is None:
            raise NotFound(f"no product {product_id}")
        product = to_product(record)
        await self._observe(ctx, [product])
        return product

    async def unknown_skus(self, ctx: CallContext, skus: list[str]) -> list[str]:
        """The SKUs of `skus` the catalog does not know. A SKU known is remembered in the
        catalog cache (so taking an order asks the backend nothing, and still works from a
        stale answer while it is down); one not known is always asked again, so a product just
        added can be ordered at once."""
        if self._cache is None or not skus:
            return await self._find_unknown(ctx, skus)
        cache = self._cache

        async def known(sku: str) -> bool:
            async def load() -> bool:
                return not await self._find_unknown(ctx, [sku])

            key = CachedReads.key(ctx.tenant_id, "catalog", f"sku-known/{sku}", ())
            cached = await cache.read(ctx.tenant_id, "catalog", key, load, lambda _: [f"sku:{sku}"])
            return bool(msgspec.json.decode(cached.body))

        answers = await asyncio.gather(*(known(sku) for sku in skus))
        doubtful = [sku for sku, is_known in zip(skus, answers, strict=True) if not is_known]
        return await self._find_unknown(ctx, doubtful) if doubtful else []

    async def _find_unknown(self, ctx: CallContext, skus: list[str]) -> list[str]:
        backends = await self._backends.for_tenant(ctx.tenant_id)
        known = await call_backend(
            backends.catalog.find_skus(skus), backend=backends.names["catalog"]
        )
        return [sku for sku in skus if sku not in known]
