"""`/admin/tenants/{tenant}/bindings`: which backend serves each domain of a tenant. Secrets go
in, never come out: a binding shows only the names of the secrets it holds."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get, put
from litestar.params import FromPath, JSONBody

from app.api.body import StrictBody
from app.api.deps import ServicesDep
from app.api.guards import requires
from app.api.openapi import ADMIN, problems
from app.problems import NotFound
from app.tenancy.bindings import BindingView
from app.tenancy.provisioning import rebind
from app.tenancy.registry import DOMAINS

Domain = Annotated[str, msgspec.Meta(pattern="^(" + "|".join(DOMAINS) + ")$")]


class BindingUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Bind `domains` (default: all four) to `adapter` with its settings and secrets.

    `settings` are the adapter's own (each adapter declares which; unknown keys and keys that
    look like secrets are refused) plus an optional `shield` object; `secrets` (e.g.
    `password`) are stored encrypted and never shown. A sandbox binding names a data set of
    the tenant's own: the tenant id, or `<tenant>:<label>`. `provision` sets the backend up
    first where the adapter can (the sandbox seeds the data set)."""

    adapter: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    domains: Annotated[list[Domain], msgspec.Meta(min_length=1, max_length=4)] | None = None
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    secrets: dict[str, str] = msgspec.field(default_factory=dict)
    provision: bool = False


class BindingOut(msgspec.Struct):
    domain: str
    adapter: str
    settings: dict[str, Any]
    secret_names: list[str]
    version: int


class BindingList(msgspec.Struct):
    data: list[BindingOut]


def _out(view: BindingView) -> BindingOut:
    return BindingOut(
        view.domain, view.adapter, view.settings, list(view.secret_names), view.version
    )


class BindingAdminController(Controller):
    path = "/admin/tenants/{tenant_id:str}/bindings"
    tags = ["Admin"]
    guards = [requires("admin")]

    @get(
        "/",
        operation_id="adminListBindings",
        summary="A tenant's backend bindings",
        responses=problems(*ADMIN),
    )
    async def list_bindings(self, services: ServicesDep, tenant_id: FromPath[str]) -> BindingList:
        if await services.tenants.get_tenant(tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id}")
        return BindingList([_out(view) for view in await services.bindings.views(tenant_id)])

    @put(
        "/",
        operation_id="adminPutBindings",
        summary="Bind domains of a tenant to a backend (checked by logging in first)",
        dto=StrictBody[BindingUpdate],
        return_dto=None,
        responses=problems(*ADMIN, 422),
    )
    async def put_bindings(
        self, services: ServicesDep, tenant_id: FromPath[str], data: JSONBody[BindingUpdate]
    ) -> BindingList:
        views = await rebind(
            services,
            tenant_id,
            domains=list(data.domains or DOMAINS),
            adapter=data.adapter,
            settings=data.settings,
            secrets=data.secrets,
            provision=data.provision,
        )
        return BindingList([_out(view) for view in views])
