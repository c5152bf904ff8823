"""Creating a tenant ready to serve, and (re)binding its domains to a backend.

A new tenant is bound to the sandbox with a data set of its own. A binding to any adapter is
checked before it is saved: the adapter is built from the given settings and must log in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.problems import InvalidRequest, NotFound, Unprocessable
from app.tenancy.bindings import BindingView
from app.tenancy.registry import DOMAINS, AdapterRegistry, UnknownAdapter
from app.tenancy.tenants import TenantView
from contracts.errors import BackendError

if TYPE_CHECKING:
    from app.services import Services

DEFAULT_ADAPTER = "sandbox"
SANDBOX_SHIELD = {"rate": 100_000, "burst": 10_000, "concurrency": 1_000}


async def provision_tenant(
    services: Services, tenant_id: str, name: str, channels: list[str] | None = None
) -> TenantView:
    view = await services.tenants.create_tenant(tenant_id, name, channels)
    # The sandbox answers from this process's database: its shield only stops runaway loops.
    settings = {"dataset": tenant_id, "shield": SANDBOX_SHIELD}
    await services.backends.provision(DEFAULT_ADAPTER, settings, {})
    await services.bindings.bind(tenant_id, list(DOMAINS), DEFAULT_ADAPTER, settings)
    return view


async def check_candidate(
    registry: AdapterRegistry,
    *,
    domains: list[str],
    adapter: str,
    settings: dict[str, Any],
    secrets: dict[str, str],
) -> None:
    """Refuse a binding whose adapter is unknown, whose settings are incomplete, or which
    cannot log in to its backend."""
    unknown_domains = sorted(set(domains) - set(DOMAINS))
    if unknown_domains or not domains:
        raise InvalidRequest(f"domains must be among {', '.join(DOMAINS)}")
    try:
        spec = registry.get(adapter)
    except UnknownAdapter:
        raise InvalidRequest(
            f"unknown adapter {adapter!r}; known: {', '.join(registry.names())}"
        ) from None
    missing = [key for key in spec.settings_keys if key not in settings]
    missing += [key for key in spec.secret_keys if not secrets.get(key)]
    if missing:
        raise InvalidRequest(f"adapter {adapter} needs: {', '.join(missing)}")
    if not set(domains) <= spec.domains:
        raise InvalidRequest(f"adapter {adapter} serves only {', '.join(sorted(spec.domains))}")
    try:
        candidate = spec.factory(settings, secrets, None)
    except (KeyError, ValueError, TypeError) as error:
        raise InvalidRequest(f"settings rejected by adapter {adapter}: {error}") from None
    try:
        await candidate.check()
    except BackendError as error:
        raise Unprocessable(
            f"adapter {adapter} could not log in to the backend: {error.message}"
        ) from None
    finally:
        await candidate.aclose()


async def rebind(
    services: Services,
    tenant_id: str,
    *,
    domains: list[str],
    adapter: str,
    settings: dict[str, Any],
    secrets: dict[str, str],
) -> list[BindingView]:
    """Bind `domains` of a tenant to `adapter` once the backend accepts these credentials."""
    if await services.tenants.get_tenant(tenant_id) is None:
        raise NotFound(f"no tenant {tenant_id}")
    await check_candidate(
        services.registry, domains=domains, adapter=adapter, settings=settings, secrets=secrets
    )
    views = await services.bindings.bind(tenant_id, domains, adapter, settings, secrets)
    services.backends.invalidate(tenant_id)
    await services.cache.invalidate(tenant_id, ["all"])
    return views
