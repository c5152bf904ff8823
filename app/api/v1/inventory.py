"""`/v1/inventory`: stock levels per SKU and location."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery, QueryParameter

from app.api.deps import Ctx, ServicesDep, as_utc
from app.api.guards import requires
from app.api.openapi import READ, problems
from app.api.responses import cached_response, read_key
from app.api.v1.products import Cursor, Limit
from app.cache.tags import inventory_page_tags
from app.paging import check_limit
from app.problems import InvalidParameter
from contracts.v1 import InventoryLevelPage


class InventoryController(Controller):
    path = "/v1/inventory"
    tags = ["Inventory"]
    guards = [requires("inventory:read")]

    @get(
        "/",
        operation_id="listInventoryLevels",
        opt={"cache": "inventory", "scope": "inventory:read"},
        responses=problems(*READ),
        summary="Stock levels per SKU and location",
    )
    async def list_levels(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        ctx: Ctx,
        limit: Limit = None,
        cursor: Cursor = None,
        sku: Annotated[
            list[str] | None, QueryParameter(description="Repeat for several SKUs (at most 100).")
        ] = None,
        location: Annotated[
            list[str] | None, QueryParameter(description="Location ids; repeat for several.")
        ] = None,
        updated_since: FromQuery[datetime | None] = None,
    ) -> Response[InventoryLevelPage]:
        skus, locations = sku or [], location or []
        if len(skus) > 100 or len(locations) > 50:
            raise InvalidParameter("at most 100 sku and 50 location values per request")
        http = services.settings.http
        size = check_limit(limit, http.default_page_size, http.max_page_size)
        since = as_utc(updated_since)

        async def load() -> InventoryLevelPage:
            return await services.inventory.list_levels(
                ctx, limit=size, cursor=cursor, skus=skus, locations=locations, updated_since=since
            )

        def tags(page: InventoryLevelPage) -> list[str]:
            return inventory_page_tags(page, skus, locations)

        key = read_key(request, ctx.tenant_id, "inventory")
        cached = await services.cache.read(ctx.tenant_id, "inventory", key, load, tags)
        return cached_response(request, cached)
