"""`/admin/tenants/{tenant}/shield`: the shields of the backends a tenant is bound to, with
their policy (from the binding's `shield` settings) and their state across replicas: breaker,
calls in flight, tokens left, a pause the backend asked for, whether checkout is waiting."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get
from litestar.params import FromPath

from app.api.deps import ServicesDep
from app.api.guards import requires
from app.api.openapi import ADMIN, problems
from app.problems import NotFound
from app.shield.policy import policy_from
from app.tenancy.bindings import target_of


class ShieldState(msgspec.Struct):
    domains: list[str]
    state: dict[str, Any]


class ShieldList(msgspec.Struct):
    data: list[ShieldState]


class ShieldAdminController(Controller):
    path = "/admin/tenants/{tenant_id:str}/shield"
    tags = ["Admin"]
    guards = [requires("admin")]

    @get(
        "/",
        operation_id="adminGetShields",
        summary="The tenant's backend shields and their state",
        responses=problems(*ADMIN),
    )
    async def shields(self, services: ServicesDep, tenant_id: FromPath[str]) -> ShieldList:
        if await services.tenants.get_tenant(tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id}")
        by_target: dict[str, tuple[list[str], Any]] = {}
        for view in await services.bindings.views(tenant_id):
            target = target_of(view.adapter, view.settings)
            domains, _ = by_target.setdefault(target, ([], None))
            domains.append(view.domain)
            shield = services.shields.shield(target, view.adapter, policy_from(view.settings))
            by_target[target] = (domains, shield)
        return ShieldList(
            [ShieldState(domains, await shield.state()) for domains, shield in by_target.values()]
        )
