"""The adapter registry: adapter names to factories and the settings each adapter declares. Only
the composition root (`app.bootstrap`) registers concrete adapters; everything else asks the
registry by name.

A binding's settings are checked here against the adapter's own schema (a msgspec Struct the
adapter declares, knowing nothing of tenants) before anything is saved or built; see
`app.tenancy.binding_rules` for what the gateway adds to it (the shield, secrets kept apart,
sandbox data sets tied to their tenant).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import msgspec

from contracts.ports import BackendLifecycle

DOMAINS: tuple[str, ...] = ("catalog", "inventory", "orders", "customers")

# (settings, secrets, transport): the adapter's validated settings and secrets (instances of
# the spec's schemas; secrets None when the adapter takes none). Adapters speaking HTTP send
# every request through the given httpx transport (the composition passes the backend's
# shield); in-process ones ignore it.
AdapterFactory = Callable[[Any, Any, Any], BackendLifecycle]


@runtime_checkable
class Provisionable(Protocol):
    """An adapter that prepares its backend for a new binding (the sandbox seeds its data)."""

    async def provision(self) -> None: ...


@dataclass(frozen=True, slots=True)
class AdapterSpec:
    name: str
    factory: AdapterFactory
    domains: frozenset[str]
    description: str
    # The adapter's connection settings and secrets, as msgspec Structs it declares.
    settings_schema: type[msgspec.Struct]
    secrets_schema: type[msgspec.Struct] | None = None
    # A setting naming this binding's own part of a backend shared by every tenant (the
    # sandbox's `dataset`): a tenant may name only its own (see binding_rules).
    tenant_partition: str | None = None
    # "requests": shielded per HTTP request through the transport; "calls": per port call.
    metered: str = "calls"

    @property
    def settings_keys(self) -> tuple[str, ...]:
        return tuple(field.encode_name for field in msgspec.structs.fields(self.settings_schema))

    @property
    def secret_keys(self) -> tuple[str, ...]:
        if self.secrets_schema is None:
            return ()
        return tuple(field.encode_name for field in msgspec.structs.fields(self.secrets_schema))

    def parse(self, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[Any, Any]:
        """Settings (the shield's object aside, it is not the adapter's) and secrets as the
        adapter's schemas; raises msgspec.ValidationError if they do not fit."""
        own = {key: value for key, value in settings.items() if key != "shield"}
        typed = msgspec.convert(own, self.settings_schema)
        typed_secrets = (
            msgspec.convert(dict(secrets), self.secrets_schema) if self.secrets_schema else None
        )
        return typed, typed_secrets

    def build(
        self, settings: Mapping[str, Any], secrets: Mapping[str, str], transport: Any
    ) -> BackendLifecycle:
        """The adapter for settings already accepted."""
        typed, typed_secrets = self.parse(settings, secrets)
        return self.factory(typed, typed_secrets, transport)


class UnknownAdapter(LookupError):
    pass


class AdapterRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, AdapterSpec] = {}

    def register(self, spec: AdapterSpec) -> None:
        self._specs[spec.name] = spec

    def get(self, name: str) -> AdapterSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownAdapter(name) from None

    def names(self) -> list[str]:
        return sorted(self._specs)
