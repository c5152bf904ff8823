"""Creating a tenant ready to serve, and (re)binding its domains to a backend.

A new tenant is bound to the sandbox with a data set of its own. A binding to any adapter is
checked before it is saved: its settings and secrets must fit what the adapter declares (see
`binding_rules`), then the adapter is built from them and must log in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from app.problems import FieldError, InvalidRequest, NotFound, Unprocessable
from app.tenancy.binding_rules import accepted_spec
from app.tenancy.bindings import BindingView
from app.tenancy.registry import DOMAINS, AdapterRegistry, AdapterSpec
from app.tenancy.tenants import TenantView
from contracts.errors import BackendError

if TYPE_CHECKING:
    from app.services import Services

DEFAULT_ADAPTER = "sandbox"
SANDBOX_SHIELD = {"rate": 100_000, "burst": 10_000, "concurrency": 1_000}


def sandbox_settings(tenant_id: str) -> dict[str, Any]:
    """The binding every new tenant starts with: the sandbox data set named after it."""
    # The sandbox answers from this process's database: its shield only stops runaway loops.
    return {"dataset": tenant_id, "shield": dict(SANDBOX_SHIELD)}


async def provision_tenant(
    services: Services, tenant_id: str, name: str, channels: list[str] | None = None
) -> TenantView:
    view = await services.tenants.create_tenant(tenant_id, name, channels)
    settings = sandbox_settings(tenant_id)
    await services.backends.provision(DEFAULT_ADAPTER, settings, {})
    await services.bindings.bind(tenant_id, list(DOMAINS), DEFAULT_ADAPTER, settings)
    return view


def _accepted(
    registry: AdapterRegistry,
    *,
    tenant_id: str,
    domains: list[str],
    adapter: str,
    settings: dict[str, Any],
    secrets: dict[str, str],
) -> AdapterSpec:
    unknown_domains = sorted(set(domains) - set(DOMAINS))
    if unknown_domains or not domains:
        raise InvalidRequest(
            f"domains must be among {', '.join(DOMAINS)}",
            errors=[FieldError("domains", f"each one of {', '.join(DOMAINS)}")],
        )
    spec = accepted_spec(
        registry, tenant_id=tenant_id, adapter=adapter, settings=settings, secrets=secrets
    )
    if not set(domains) <= spec.domains:
        raise InvalidRequest(
            f"adapter {adapter} serves only {', '.join(sorted(spec.domains))}",
            errors=[FieldError("domains", f"{adapter} serves {', '.join(sorted(spec.domains))}")],
        )
    return spec


async def _logs_in(spec: AdapterSpec, settings: dict[str, Any], secrets: dict[str, str]) -> None:
    try:
        candidate = spec.build(settings, secrets, None)
    except (KeyError, ValueError, TypeError, msgspec.ValidationError) as error:
        # The schema accepted them, so this is the adapter's own refusal; still the input's.
        raise InvalidRequest(
            f"settings rejected by adapter {spec.name}: {error}",
            errors=[FieldError("settings", str(error))],
        ) from None
    try:
        await candidate.check()
    except BackendError as error:
        detail = f"adapter {spec.name} could not log in to the backend: {error.message}"
        # An in-process backend's only "login" is whether its partition exists.
        field = f"settings.{spec.tenant_partition}" if spec.tenant_partition else None
        raise Unprocessable(
            detail, errors=[FieldError(field, error.message)] if field else None
        ) from None
    finally:
        await candidate.aclose()


async def check_candidate(
    registry: AdapterRegistry,
    *,
    tenant_id: str,
    domains: list[str],
    adapter: str,
    settings: dict[str, Any],
    secrets: dict[str, str],
) -> None:
    """Refuse a binding of `tenant_id` whose adapter is unknown, whose settings or secrets do
    not fit the adapter (400, naming each field), or which cannot log in to its backend
    (422)."""
    spec = _accepted(
        registry,
        tenant_id=tenant_id,
        domains=domains,
        adapter=adapter,
        settings=settings,
        secrets=secrets,
    )
    await _logs_in(spec, settings, secrets)


async def rebind(
    services: Services,
    tenant_id: str,
    *,
    domains: list[str],
    adapter: str,
    settings: dict[str, Any],
    secrets: dict[str, str],
    provision: bool = False,
) -> list[BindingView]:
    """Bind `domains` of a tenant to `adapter` once the backend accepts these credentials.
    `provision` first sets the backend up where the adapter can (the sandbox seeds the named
    data set with the demo data), once the settings are known to be acceptable."""
    if await services.tenants.get_tenant(tenant_id) is None:
        raise NotFound(f"no tenant {tenant_id}")
    spec = _accepted(
        services.registry,
        tenant_id=tenant_id,
        domains=domains,
        adapter=adapter,
        settings=settings,
        secrets=secrets,
    )
    if provision:
        await services.backends.provision(adapter, settings, secrets)
    await _logs_in(spec, settings, secrets)
    views = await services.bindings.bind(tenant_id, domains, adapter, settings, secrets)
    services.backends.invalidate(tenant_id)
    await services.cache.invalidate(tenant_id, ["all"])
    return views
