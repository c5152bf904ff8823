"""Quota policies: how many requests of a route class a tenant (all its clients together) and
each single client may make per window. Defaults come from settings; a tenant may override
any of them (admin API).

Route classes: `read` and `write` (`/v1`, by method), `token` (`POST /oauth/token`, per
client) and `admin` (the operator API under `/admin`, per client: operators belong to no
tenant, so no tenant can override it; settings may, as `"admin"` in the defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

ROUTE_CLASSES = ("read", "write", "token")
ADMIN = "admin"
SCOPES = ("tenant", "client")


class Limit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`quota` requests per `window` seconds."""

    quota: int
    window: int


class ClassLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    tenant: Limit | None = None
    client: Limit | None = None


class QuotaConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    read: ClassLimits | None = None
    write: ClassLimits | None = None
    token: ClassLimits | None = None


DEFAULTS = QuotaConfig(
    read=ClassLimits(tenant=Limit(quota=6000, window=60), client=Limit(quota=3000, window=60)),
    write=ClassLimits(tenant=Limit(quota=1200, window=60), client=Limit(quota=600, window=60)),
    token=ClassLimits(client=Limit(quota=60, window=60)),
)
ADMIN_DEFAULTS = ClassLimits(client=Limit(quota=3000, window=60))


@dataclass(frozen=True, slots=True)
class Rule:
    """One limit applied to one request: `name` is what the headers call it."""

    name: str
    key: str
    quota: int
    window: int


def merged(overrides: dict[str, Any] | None, base_config: QuotaConfig = DEFAULTS) -> QuotaConfig:
    """`base_config` with overrides laid over it, class by class and limit by limit."""
    if not overrides:
        return base_config
    given = msgspec.convert(overrides, QuotaConfig)
    classes = {}
    for route_class in ROUTE_CLASSES:
        base: ClassLimits = getattr(base_config, route_class) or ClassLimits()
        mine: ClassLimits = getattr(given, route_class) or ClassLimits()
        classes[route_class] = ClassLimits(
            tenant=mine.tenant or base.tenant, client=mine.client or base.client
        )
    return QuotaConfig(**classes)


def admin_limits(overrides: dict[str, Any] | None) -> ClassLimits:
    """The admin class's limits: per client only, whatever the settings say of tenants."""
    given = msgspec.convert(overrides, ClassLimits) if overrides else ClassLimits()
    return ClassLimits(client=given.client or ADMIN_DEFAULTS.client)


def rules_for(
    config: QuotaConfig | ClassLimits, route_class: str, tenant_id: str | None, client_id: str
) -> list[Rule]:
    """The rules of one request; `config` is a tenant's configuration, or the limits of one
    class (`admin`)."""
    limits: ClassLimits = (
        config if isinstance(config, ClassLimits) else getattr(config, route_class)
    ) or ClassLimits()
    rules = []
    if tenant_id is not None and limits.tenant is not None:
        rules.append(
            Rule(
                "tenant", f"{route_class}:t:{tenant_id}", limits.tenant.quota, limits.tenant.window
            )
        )
    if limits.client is not None:
        rules.append(
            Rule(
                "client", f"{route_class}:c:{client_id}", limits.client.quota, limits.client.window
            )
        )
    return rules
