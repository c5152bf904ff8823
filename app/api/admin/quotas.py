"""`/admin/tenants/{tenant}/quotas`: the tenant's quotas per route class (read, write, token),
for the tenant as a whole and for each of its clients. Unset limits use the defaults."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get, put
from litestar.params import FromPath, JSONBody

from app.api.body import StrictBody
from app.api.deps import ServicesDep
from app.api.guards import requires
from app.api.openapi import ADMIN, problems
from app.problems import InvalidRequest, NotFound
from app.quotas.policy import QuotaConfig


def _validated(config: QuotaConfig) -> QuotaConfig:
    for route_class in ("read", "write", "token"):
        for scope in ("tenant", "client"):
            limits = getattr(config, route_class)
            limit = getattr(limits, scope) if limits is not None else None
            if limit is not None and not (
                1 <= limit.quota <= 10_000_000 and 1 <= limit.window <= 86_400
            ):
                raise InvalidRequest(
                    f"{route_class}.{scope}: quota 1..10000000, window 1..86400 seconds"
                )
    return config


class QuotaAdminController(Controller):
    path = "/admin/tenants/{tenant_id:str}/quotas"
    tags = ["Admin"]
    guards = [requires("admin")]

    @get(
        "/",
        operation_id="adminGetQuotas",
        summary="The tenant's effective quotas",
        responses=problems(*ADMIN),
    )
    async def get_quotas(self, services: ServicesDep, tenant_id: FromPath[str]) -> QuotaConfig:
        if await services.tenants.get_tenant(tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id}")
        return await services.quotas.config(tenant_id)

    @put(
        "/",
        operation_id="adminPutQuotas",
        summary="Override the tenant's quotas (unset limits keep the defaults)",
        dto=StrictBody[QuotaConfig],
        return_dto=None,
        responses=problems(*ADMIN),
    )
    async def put_quotas(
        self, services: ServicesDep, tenant_id: FromPath[str], data: JSONBody[QuotaConfig]
    ) -> QuotaConfig:
        if await services.tenants.get_tenant(tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id}")
        overrides: dict[str, Any] = msgspec.to_builtins(_validated(data))
        return await services.quotas.set_overrides(tenant_id, overrides)
