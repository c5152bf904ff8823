"""`/v1/products`: the catalog, read from the tenant's backend."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import FromPath, FromQuery, QueryParameter

from app.api.deps import Ctx, ServicesDep, as_utc
from app.api.guards import requires
from app.api.openapi import GET_ONE, READ, problems
from app.api.responses import cached_response, read_key
from app.cache.tags import product_page_tags, product_tags
from app.paging import check_limit
from contracts.v1 import Product, ProductPage
from contracts.v1.products import ProductStatus

Limit = Annotated[int | None, QueryParameter(description="Page size, 1..200 (default 50).")]
Cursor = Annotated[
    str | None, QueryParameter(description="`next_cursor` of the previous page.", max_length=2048)
]


class ProductController(Controller):
    path = "/v1/products"
    tags = ["Products"]
    guards = [requires("products:read")]

    @get(
        "/",
        operation_id="listProducts",
        opt={"cache": "catalog", "scope": "products:read"},
        responses=problems(*READ),
        summary="List products",
    )
    async def list_products(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        ctx: Ctx,
        limit: Limit = None,
        cursor: Cursor = None,
        sku: Annotated[str | None, QueryParameter(max_length=64)] = None,
        barcode: Annotated[str | None, QueryParameter(max_length=64)] = None,
        status: FromQuery[ProductStatus | None] = None,
        updated_since: FromQuery[datetime | None] = None,
    ) -> Response[ProductPage]:
        http = services.settings.http
        size = check_limit(limit, http.default_page_size, http.max_page_size)
        since = as_utc(updated_since)

        async def load() -> ProductPage:
            return await services.catalog.list_products(
                ctx,
                limit=size,
                cursor=cursor,
                sku=sku,
                barcode=barcode,
                status=status,
                updated_since=since,
            )

        key = read_key(request, ctx.tenant_id, "catalog")
        cached = await services.cache.read(ctx.tenant_id, "catalog", key, load, product_page_tags)
        return cached_response(request, cached)

    @get(
        "/{product_id:str}",
        operation_id="getProduct",
        opt={"cache": "catalog", "scope": "products:read"},
        responses=problems(*GET_ONE),
        summary="Get a product",
    )
    async def get_product(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        ctx: Ctx,
        product_id: FromPath[str],
    ) -> Response[Product]:
        async def load() -> Product:
            return await services.catalog.get_product(ctx, product_id)

        key = read_key(request, ctx.tenant_id, "catalog")
        cached = await services.cache.read(ctx.tenant_id, "catalog", key, load, product_tags)
        return cached_response(request, cached)
