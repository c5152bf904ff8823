"""Backend bindings per tenant and the resolver that serves live adapters for them.

A binding says which adapter serves one domain of a tenant, with its settings; secrets are
encrypted at rest and never leave this module in clear except into the adapter factory.
Adapter instances are shared by every domain bound to the same backend configuration.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Any, cast

import msgspec
from sqlalchemy import select

from adapters._http import default_transport
from app.crypto import SecretBox
from app.shield.policy import policy_from
from app.shield.proxy import ShieldedBackend
from app.shield.service import ShieldRegistry
from app.shield.transport import ShieldedTransport
from app.store.database import Database
from app.store.models import BackendBinding
from app.tenancy.registry import DOMAINS, AdapterRegistry, Provisionable
from contracts.errors import PermanentBackendError
from contracts.ports import (
    BackendLifecycle,
    CatalogBackend,
    CustomersBackend,
    InventoryBackend,
    OrdersBackend,
)


@dataclass(frozen=True, slots=True)
class BindingView:
    """A binding as it may be shown: never its secrets, only which secret names are set."""

    domain: str
    adapter: str
    settings: dict[str, Any]
    secret_names: tuple[str, ...]
    version: int


class NoBinding(LookupError):
    """The tenant has no backend bound for a domain."""


@dataclass(frozen=True, slots=True)
class TenantBackends:
    catalog: CatalogBackend
    inventory: InventoryBackend
    orders: OrdersBackend
    customers: CustomersBackend
    names: dict[str, str]
    # Identity of each domain's backend configuration (adapter + settings), see `target_of`.
    targets: dict[str, str]


def target_of(adapter: str, settings: dict[str, Any]) -> str:
    """A stable identity for one backend configuration; secrets are not part of it, so a
    rotated password is still the same backend."""
    # The shield's settings tune how the backend is protected; they do not make it another one.
    identity = {key: value for key, value in settings.items() if key != "shield"}
    encoded = msgspec.json.encode([adapter, identity], order="sorted")
    return hashlib.sha256(encoded).hexdigest()[:32]


class BindingStore:
    def __init__(self, db: Database, box: SecretBox, registry: AdapterRegistry) -> None:
        self._db = db
        self._box = box
        self._registry = registry

    async def views(self, tenant_id: str) -> list[BindingView]:
        async with self._db.session(tenant_id) as session:
            rows = (
                await session.scalars(select(BackendBinding).order_by(BackendBinding.domain))
            ).all()
        return [self._view(row) for row in rows]

    async def load(self, tenant_id: str) -> dict[str, tuple[BindingView, dict[str, str]]]:
        """Every binding of a tenant with its decrypted secrets (for the resolver only)."""
        async with self._db.session(tenant_id) as session:
            rows = (await session.scalars(select(BackendBinding))).all()
        return {row.domain: (self._view(row), self._secrets(row)) for row in rows}

    async def bind(
        self,
        tenant_id: str,
        domains: list[str],
        adapter: str,
        settings: dict[str, Any],
        secrets: dict[str, str] | None = None,
    ) -> list[BindingView]:
        self._registry.get(adapter)  # unknown adapters fail before anything is written
        encrypted = self.encrypt_secrets(tenant_id, secrets or {})
        async with self._db.session(tenant_id, write=True) as session:
            existing = {
                row.domain: row
                for row in (
                    await session.scalars(
                        select(BackendBinding).where(BackendBinding.domain.in_(domains))
                    )
                ).all()
            }
            for domain in domains:
                row = existing.get(domain)
                if row is None:
                    session.add(
                        BackendBinding(
                            tenant_id=tenant_id,
                            domain=domain,
                            adapter=adapter,
                            settings=settings,
                            secrets_encrypted=encrypted,
                        )
                    )
                else:
                    row.adapter = adapter
                    row.settings = settings
                    row.secrets_encrypted = encrypted
                    row.version += 1
        return [view for view in await self.views(tenant_id) if view.domain in domains]

    async def snapshot(self, tenant_id: str) -> dict[str, dict[str, Any]]:
        """Each domain's binding as stored (secrets still encrypted), to restore it later."""
        async with self._db.session(tenant_id) as session:
            rows = (await session.scalars(select(BackendBinding))).all()
        return {
            row.domain: {
                "adapter": row.adapter,
                "settings": dict(row.settings),
                "secrets_encrypted": row.secrets_encrypted,
            }
            for row in rows
        }

    async def restore(
        self, tenant_id: str, snapshot: dict[str, dict[str, Any]], session: Any
    ) -> None:
        """Put bindings back as `snapshot` has them, inside the caller's transaction."""
        rows = {row.domain: row for row in (await session.scalars(select(BackendBinding))).all()}
        for domain, saved in snapshot.items():
            row = rows.get(domain)
            if row is None:
                session.add(
                    BackendBinding(
                        tenant_id=tenant_id,
                        domain=domain,
                        adapter=saved["adapter"],
                        settings=saved["settings"],
                        secrets_encrypted=saved["secrets_encrypted"],
                    )
                )
                continue
            row.adapter = saved["adapter"]
            row.settings = saved["settings"]
            row.secrets_encrypted = saved["secrets_encrypted"]
            row.version += 1

    def encrypt_secrets(self, tenant_id: str, secrets: dict[str, str]) -> str | None:
        return (
            self._box.encrypt(msgspec.json.encode(secrets), f"binding:{tenant_id}")
            if secrets
            else None
        )

    def decrypt_secrets(self, tenant_id: str, encrypted: str | None) -> dict[str, str]:
        if not encrypted:
            return {}
        return cast(
            dict[str, str],
            msgspec.json.decode(self._box.decrypt(encrypted, f"binding:{tenant_id}")),
        )

    def _secrets(self, row: BackendBinding) -> dict[str, str]:
        return self.decrypt_secrets(row.tenant_id, row.secrets_encrypted)

    def _view(self, row: BackendBinding) -> BindingView:
        names = tuple(sorted(self._secrets(row))) if row.secrets_encrypted else ()
        return BindingView(row.domain, row.adapter, dict(row.settings), names, row.version)


class BackendResolver:
    """Live adapters per tenant. Bindings are re-read at most every `ttl` seconds, so a change
    made through another replica is picked up without a restart."""

    def __init__(
        self,
        store: BindingStore,
        registry: AdapterRegistry,
        ttl: float = 5.0,
        shields: ShieldRegistry | None = None,
    ) -> None:
        self._store = store
        self._registry = registry
        self._shields = shields
        self._ttl = ttl
        self._instances: dict[str, BackendLifecycle] = {}
        self._tenants: dict[str, tuple[float, TenantBackends]] = {}
        self._lock = asyncio.Lock()

    async def for_tenant(self, tenant_id: str, *, fresh: bool = False) -> TenantBackends:
        """The tenant's adapters; `fresh` re-reads the bindings (the worker does, so no order
        goes to a backend a cut-over has just replaced)."""
        cached = self._tenants.get(tenant_id)
        if not fresh and cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        async with self._lock:
            backends = await self._build(tenant_id)
            self._tenants[tenant_id] = (time.monotonic(), backends)
            return backends

    def invalidate(self, tenant_id: str) -> None:
        self._tenants.pop(tenant_id, None)

    def resolved(self) -> dict[str, TenantBackends]:
        """The tenants this process has served, with their backends as last resolved."""
        return {tenant_id: backends for tenant_id, (_, backends) in self._tenants.items()}

    async def instance(
        self, adapter: str, settings: dict[str, Any], secrets: dict[str, str]
    ) -> BackendLifecycle:
        """The shared adapter for one backend configuration, behind that backend's shield,
        built on first use."""
        fingerprint = hashlib.sha256(
            msgspec.json.encode([adapter, settings, secrets], order="sorted")
        ).hexdigest()
        instance = self._instances.get(fingerprint)
        if instance is None:
            spec = self._registry.get(adapter)
            try:
                typed, typed_secrets = spec.parse(settings, secrets)
                policy = policy_from(settings)
            except msgspec.ValidationError as error:
                # Saved before bindings were validated: an operator must bind it again.
                raise PermanentBackendError(
                    f"the stored {adapter} binding is not valid ({error}); bind it again",
                    backend=adapter,
                ) from None
            shield = (
                self._shields.shield(target_of(adapter, settings), adapter, policy)
                if self._shields is not None
                else None
            )
            if shield is not None and spec.metered == "requests":
                instance = spec.factory(
                    typed, typed_secrets, ShieldedTransport(default_transport(), shield)
                )
            else:
                instance = spec.factory(typed, typed_secrets, None)
                if shield is not None:
                    instance = ShieldedBackend(instance, shield)
            self._instances[fingerprint] = instance
        return instance

    async def provision(
        self, adapter: str, settings: dict[str, Any], secrets: dict[str, str]
    ) -> None:
        instance = await self.instance(adapter, settings, secrets)
        if isinstance(instance, Provisionable):
            await instance.provision()

    async def _build(self, tenant_id: str) -> TenantBackends:
        bindings = await self._store.load(tenant_id)
        missing = [domain for domain in DOMAINS if domain not in bindings]
        if missing:
            raise NoBinding(f"tenant {tenant_id} has no backend for {', '.join(missing)}")
        live: dict[str, Any] = {}
        for domain, (view, secrets) in bindings.items():
            live[domain] = await self.instance(view.adapter, view.settings, secrets)
        return TenantBackends(
            catalog=cast(CatalogBackend, live["catalog"]),
            inventory=cast(InventoryBackend, live["inventory"]),
            orders=cast(OrdersBackend, live["orders"]),
            customers=cast(CustomersBackend, live["customers"]),
            names={domain: view.adapter for domain, (view, _) in bindings.items()},
            targets={
                domain: target_of(view.adapter, view.settings)
                for domain, (view, _) in bindings.items()
            },
        )

    async def aclose(self) -> None:
        for instance in self._instances.values():
            await instance.aclose()
        self._instances.clear()
        self._tenants.clear()
