"""`/admin/tenants/{tenant}/cache/invalidate`: drop a tenant's cached answers by tag when a
change is known outside the gateway (a backend's change event): `sku:<SKU>`,
`location:<id>`, `product:<id>`, `customer:<id>`, `list:products` (and customers, inventory),
or `all`."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, post
from litestar.params import FromPath, JSONBody

from app.api.body import StrictBody
from app.api.deps import ServicesDep
from app.api.guards import requires
from app.api.openapi import ADMIN, problems
from app.problems import NotFound

Tag = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(all|list:(products|customers|inventory)|(sku|location|product|customer):\S{1,200})$"
    ),
]


class Invalidation(msgspec.Struct, forbid_unknown_fields=True):
    tags: Annotated[list[Tag], msgspec.Meta(min_length=1, max_length=500)]


class Invalidated(msgspec.Struct):
    removed: int


class CacheAdminController(Controller):
    path = "/admin/tenants/{tenant_id:str}/cache"
    tags = ["Admin"]
    guards = [requires("admin")]

    @post(
        "/invalidate",
        operation_id="adminInvalidateCache",
        summary="Drop the tenant's cached answers carrying any of these tags",
        dto=StrictBody[Invalidation],
        return_dto=None,
        status_code=200,
        responses=problems(*ADMIN),
    )
    async def invalidate(
        self, services: ServicesDep, tenant_id: FromPath[str], data: JSONBody[Invalidation]
    ) -> Invalidated:
        if await services.tenants.get_tenant(tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id}")
        return Invalidated(removed=await services.cache.invalidate(tenant_id, data.tags))
