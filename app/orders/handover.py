"""Order delivery across a backend switch (a tenant's migration cut-over or rollback).

While a switch is under way the tenant's orders wait. An order whose last attempt went to
another backend configuration (its outcome unknown: a time-out, a crash) is first looked up
there, so it is never posted to a second backend after reaching the first.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.database import Database
from app.store.models import TenantMigration
from app.tenancy.bindings import BackendResolver, BindingStore, target_of
from contracts.backend import SaleReceipt
from contracts.ports import OrdersBackend


async def is_switching(session: AsyncSession) -> bool:
    """Whether the session's tenant has a backend switch under way."""
    found = await session.scalar(
        select(TenantMigration.id).where(TenantMigration.state == "switching").limit(1)
    )
    return found is not None


async def find_elsewhere(
    db: Database,
    bindings: BindingStore,
    backends: BackendResolver,
    tenant_id: str,
    *,
    target: str,
    reference: str,
) -> tuple[str, SaleReceipt] | None:
    """The sale for `reference` in the backend configuration `target`, if that backend is one
    a migration of this tenant knows and it has the sale; (adapter name, receipt)."""
    async with db.session(tenant_id) as session:
        migrations = (await session.scalars(select(TenantMigration))).all()
    for migration in migrations:
        for config in (migration.target, *migration.source.values()):
            if target_of(config["adapter"], config["settings"]) != target:
                continue
            secrets = bindings.decrypt_secrets(tenant_id, config.get("secrets_encrypted"))
            previous = await backends.instance(config["adapter"], config["settings"], secrets)
            if not isinstance(previous, OrdersBackend):
                return None
            receipt = await previous.get_order(reference)
            return (config["adapter"], receipt) if receipt is not None else None
    return None
