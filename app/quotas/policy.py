"""Quota policies: how many requests of a route class a tenant (all its clients together) and
each single client may make per window. Defaults come from settings; a tenant may override
any of them (admin API)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

ROUTE_CLASSES = ("read", "write", "token")
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


def rules_for(
    config: QuotaConfig, route_class: str, tenant_id: str | None, client_id: str
) -> list[Rule]:
    limits: ClassLimits = getattr(config, route_class) or ClassLimits()
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
