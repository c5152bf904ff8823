"""The adapter registry: adapter names to factories. Only the composition root
(`app.bootstrap`) registers concrete adapters; everything else asks the registry by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from contracts.ports import BackendLifecycle

DOMAINS: tuple[str, ...] = ("catalog", "inventory", "orders", "customers")

# (settings, secrets, transport): adapters speaking HTTP send every request through the given
# httpx transport (the composition passes the backend's shield); in-process ones ignore it.
AdapterFactory = Callable[[Mapping[str, Any], Mapping[str, str], Any], BackendLifecycle]


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
    settings_keys: tuple[str, ...] = ()
    secret_keys: tuple[str, ...] = ()
    # "requests": shielded per HTTP request through the transport; "calls": per port call.
    metered: str = "calls"


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
