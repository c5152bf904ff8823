"""Moving a tenant from one backend to another while its channels keep calling.

`start` checks the candidate (it must log in), snapshots the current bindings and begins
shadowing: reads keep being served by the current backend and are also sent to the candidate
in the background (see `app.tenancy.shadow`). `cutover` switches the bindings in one
transaction after pausing order delivery for the tenant and waiting until no delivery is in
flight, so each order is posted exactly once, to one backend. `rollback` restores the snapshot
the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select, update

from app.problems import Conflict, NotFound
from app.store.database import Database
from app.store.ids import new_id
from app.store.models import MigrationTally, OutboxEntry, TenantMigration
from app.store.types import utcnow
from app.tenancy.bindings import BackendResolver, BindingStore, target_of
from app.tenancy.migration_state import ACTIVE, ActiveMigration, MigrationStates
from app.tenancy.parity import parity
from app.tenancy.provisioning import check_candidate
from app.tenancy.registry import DOMAINS, AdapterRegistry
from app.tenancy.tenants import TenantDirectory

SHADOWED_DOMAINS = ("catalog", "inventory", "customers")


class MigrationService:
    def __init__(
        self,
        db: Database,
        tenants: TenantDirectory,
        registry: AdapterRegistry,
        bindings: BindingStore,
        backends: BackendResolver,
        *,
        states: MigrationStates | None = None,
        drain_timeout: float = 120.0,
        on_switch: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self._on_switch = on_switch
        self._db = db
        self._tenants = tenants
        self._registry = registry
        self._bindings = bindings
        self._backends = backends
        self.states = states or MigrationStates(db)
        self._drain_timeout = drain_timeout

    async def start(
        self,
        tenant_id: str,
        *,
        adapter: str,
        settings: dict[str, Any],
        secrets: dict[str, str],
        domains: list[str] | None = None,
        sample_rate: float = 1.0,
    ) -> dict[str, Any]:
        if await self._tenants.get_tenant(tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id}")
        chosen = list(domains or DOMAINS)
        await check_candidate(
            self._registry,
            tenant_id=tenant_id,
            domains=chosen,
            adapter=adapter,
            settings=settings,
            secrets=secrets,
        )
        snapshot = await self._bindings.snapshot(tenant_id)
        async with self._db.session(tenant_id, write=True) as session:
            running = await session.scalar(
                select(TenantMigration.id).where(TenantMigration.state.in_(ACTIVE))
            )
            if running:
                raise Conflict(f"migration {running} is still running; cut over or roll back first")
            migration = TenantMigration(
                id=new_id("mig"),
                tenant_id=tenant_id,
                state="shadowing",
                domains=chosen,
                source=snapshot,
                target={
                    "adapter": adapter,
                    "settings": settings,
                    "secrets_encrypted": self._bindings.encrypt_secrets(tenant_id, secrets),
                },
                sample_rate=max(0.0, min(1.0, sample_rate)),
            )
            session.add(migration)
            await session.flush()
            for domain in SHADOWED_DOMAINS:
                if domain in chosen:
                    session.add(MigrationTally(migration_id=migration.id, domain=domain))
        await self.states.changed(tenant_id)
        return await self.report(tenant_id)

    async def active(self, tenant_id: str) -> ActiveMigration | None:
        """The tenant's running migration, from the snapshot every replica keeps (no query of
        its own; see `app.tenancy.migration_state`)."""
        return await self.states.get(tenant_id)

    async def cutover(self, tenant_id: str) -> dict[str, Any]:
        return await self._switch(tenant_id, to="target")

    async def rollback(self, tenant_id: str) -> dict[str, Any]:
        return await self._switch(tenant_id, to="source")

    async def _switch(self, tenant_id: str, *, to: str) -> dict[str, Any]:
        allowed = ("shadowing",) if to == "target" else ("shadowing", "cut_over")
        async with self._db.session(tenant_id, write=True) as session:
            migration = await session.scalar(
                select(TenantMigration).order_by(TenantMigration.started_at.desc()).limit(1)
            )
            if migration is None:
                raise NotFound(f"tenant {tenant_id} has no migration")
            if migration.state not in allowed:
                action = "cut over" if to == "target" else "roll back"
                raise Conflict(f"migration {migration.id} is {migration.state}; cannot {action}")
            previous_state = migration.state
            migration.state = "switching"  # the worker stops claiming this tenant's orders
            migration_id = migration.id
        await self.states.changed(tenant_id)  # shadow reads stop on every replica
        try:
            await self._drain(tenant_id)
            async with self._db.session(tenant_id, write=True) as session:
                migration = await session.scalar(
                    select(TenantMigration).where(TenantMigration.id == migration_id)
                )
                assert migration is not None
                if to == "target":
                    snapshot = {domain: dict(migration.target) for domain in migration.domains}
                    migration.state = "cut_over"
                    migration.switched_at = utcnow()
                else:
                    snapshot = dict(migration.source)
                    migration.state = "rolled_back"
                    migration.rolled_back_at = utcnow()
                await self._bindings.restore(tenant_id, snapshot, session)
        except BaseException:
            async with self._db.session(tenant_id, write=True) as session:
                await session.execute(
                    update(TenantMigration)
                    .where(TenantMigration.id == migration_id)
                    .values(state=previous_state)
                )
            raise
        finally:
            await self.states.changed(tenant_id)
            self._backends.invalidate(tenant_id)
        if self._on_switch is not None:
            await self._on_switch(tenant_id)  # answers cached from the other backend go
        return await self.report(tenant_id)

    async def _drain(self, tenant_id: str) -> None:
        """Wait until no delivery of this tenant holds a lease (new claims are paused)."""
        deadline = time.monotonic() + self._drain_timeout
        while True:
            async with self._db.session(tenant_id) as session:
                leased = await session.scalar(
                    select(func.count())
                    .select_from(OutboxEntry)
                    .where(OutboxEntry.state == "pending", OutboxEntry.lease_expires_at > utcnow())
                )
            if not leased:
                return
            if time.monotonic() > deadline:
                raise Conflict("order deliveries are still in flight; try the switch again")
            await asyncio.sleep(0.1)

    async def report(self, tenant_id: str) -> dict[str, Any]:
        async with self._db.session(tenant_id) as session:
            migration = await session.scalar(
                select(TenantMigration).order_by(TenantMigration.started_at.desc()).limit(1)
            )
            if migration is None:
                raise NotFound(f"tenant {tenant_id} has no migration")
            domains = await parity(session, migration)
        sources = {domain: saved["adapter"] for domain, saved in migration.source.items()}
        return {
            "id": migration.id,
            "tenant_id": tenant_id,
            "state": migration.state,
            "domains": list(migration.domains),
            "current": sources
            if migration.state != "cut_over"
            else dict.fromkeys(migration.domains, migration.target["adapter"]),
            "source": sources,
            "target": migration.target["adapter"],
            "target_id": target_of(migration.target["adapter"], migration.target["settings"]),
            "sample_rate": migration.sample_rate,
            "started_at": migration.started_at,
            "switched_at": migration.switched_at,
            "rolled_back_at": migration.rolled_back_at,
            "parity": domains,
        }


def source_config(migration_row: TenantMigration, target: str) -> dict[str, Any] | None:
    """The stored backend configuration (source or candidate) whose identity is `target`."""
    candidates = [migration_row.target, *migration_row.source.values()]
    for config in candidates:
        if target_of(config["adapter"], config["settings"]) == target:
            return dict(config)
    return None
