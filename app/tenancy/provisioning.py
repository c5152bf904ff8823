"""Creating a tenant ready to serve: the tenant row, then its default backend binding (the
sandbox, with a data set of its own), provisioned."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.tenancy.registry import DOMAINS
from app.tenancy.tenants import TenantView

if TYPE_CHECKING:
    from app.services import Services

DEFAULT_ADAPTER = "sandbox"


async def provision_tenant(
    services: Services, tenant_id: str, name: str, channels: list[str] | None = None
) -> TenantView:
    view = await services.tenants.create_tenant(tenant_id, name, channels)
    settings = {"dataset": tenant_id}
    await services.backends.provision(DEFAULT_ADAPTER, settings, {})
    await services.bindings.bind(tenant_id, list(DOMAINS), DEFAULT_ADAPTER, settings)
    return view
