"""Leases on outbox entries: a worker's claim of an entry is its owner name and the attempt
number the claim gave it. A claim is re-checked (and extended) before each delivery and right
before the post, kept alive by a heartbeat while its batch is worked through, and finished only
where it still holds: a worker whose lease lapsed and was taken over writes nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.orders.cancel import SUBMIT
from app.settings import WorkerSettings
from app.store.database import Database
from app.store.models import OrderRow, OutboxEntry
from app.store.types import utcnow

log = logging.getLogger("gateway.worker")


@dataclass(frozen=True, slots=True)
class Claim:
    entry_id: str
    tenant_id: str
    order_id: str
    attempts: int
    correlation_id: str
    last_target: str | None = None
    kind: str = SUBMIT


def _rows(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class LeasedDeliveries:
    _db: Database
    _settings: WorkerSettings
    name: str

    def _held(self, claim: Claim) -> Any:
        """The entry as this claim left it: still ours, this attempt, not finished."""
        return update(OutboxEntry).where(
            OutboxEntry.id == claim.entry_id,
            OutboxEntry.lease_owner == self.name,
            OutboxEntry.attempts == claim.attempts,
            OutboxEntry.state == "pending",
        )

    def _lease_until(self) -> datetime:
        return utcnow() + timedelta(seconds=self._settings.lease_seconds)

    async def _renew(self, claim: Claim, **values: Any) -> bool:
        """Check the lease is still ours and extend it; False when another has the entry."""
        async with self._db.session(claim.tenant_id, write=True) as session:
            return await self._renew_in(session, claim, **values)

    async def _renew_in(self, session: AsyncSession, claim: Claim, **values: Any) -> bool:
        result = await session.execute(
            self._held(claim)
            .values(lease_expires_at=self._lease_until(), **values)
            .execution_options(synchronize_session=False)
        )
        if _rows(result) != 1:
            log.info("lease lost; leaving the entry", extra={"entry": claim.entry_id})
            return False
        return True

    async def _aim(self, claim: Claim, target: str) -> bool:
        """Record which backend this attempt goes to before it goes there (and re-check the
        lease right before the post)."""
        return await self._renew(claim, last_target=target)

    async def _extend(self, tenant_entries: Iterable[tuple[str, str]]) -> None:
        """Heartbeat: keep the leases of the entries this worker still holds."""
        by_tenant: dict[str, list[str]] = {}
        for tenant_id, entry_id in tenant_entries:
            by_tenant.setdefault(tenant_id, []).append(entry_id)
        for tenant_id, ids in by_tenant.items():
            async with self._db.session(tenant_id, write=True) as session:
                await session.execute(
                    update(OutboxEntry)
                    .where(
                        OutboxEntry.id.in_(ids),
                        OutboxEntry.lease_owner == self.name,
                        OutboxEntry.state == "pending",
                    )
                    .values(lease_expires_at=self._lease_until())
                    .execution_options(synchronize_session=False)
                )

    async def _postpone(self, claim: Claim, seconds: float = 0.5) -> None:
        """Put the entry back untried (a backend switch, or a cancel waiting for its post)."""
        async with self._db.session(claim.tenant_id, write=True) as session:
            await self._postpone_in(session, claim, seconds)

    async def _postpone_in(self, session: AsyncSession, claim: Claim, seconds: float = 0.5) -> None:
        await session.execute(
            self._held(claim)
            .values(
                lease_owner=None,
                lease_expires_at=None,
                attempts=OutboxEntry.attempts - 1,  # waiting is not an attempt
                available_at=utcnow() + timedelta(seconds=seconds),
            )
            .execution_options(synchronize_session=False)
        )

    async def _finish(self, claim: Claim, state: str) -> None:
        async with self._db.session(claim.tenant_id, write=True) as session:
            await self._take(session, claim, state)

    async def _locked_order(self, session: AsyncSession, claim: Claim) -> OrderRow | None:
        return await session.scalar(
            select(OrderRow).where(OrderRow.id == claim.order_id).with_for_update()
        )

    async def _take(
        self,
        session: AsyncSession,
        claim: Claim,
        state: str,
        *,
        available_at: datetime | None = None,
        error: str | None = None,
    ) -> bool:
        """Finish this claim of the entry, first thing in the outcome's transaction; False
        (nothing written) when the claim is no longer this worker's."""
        values: dict[str, Any] = {"state": state, "lease_owner": None, "lease_expires_at": None}
        if state == "done":
            values["done_at"] = utcnow()
        if available_at is not None:
            values["available_at"] = available_at
        if error is not None:
            values["last_error"] = error[:2000]
        result = await session.execute(
            self._held(claim).values(**values).execution_options(synchronize_session=False)
        )
        if _rows(result) != 1:
            log.info(
                "lease lost; outcome dropped",
                extra={"entry": claim.entry_id, "order_id": claim.order_id, "state": state},
            )
            return False
        return True

    async def claim(self, limit: int) -> list[Claim]:
        """Take up to `limit` due entries. The ids are chosen first, then updated, in one
        transaction: as one `UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP
        LOCKED)` PostgreSQL may run the sub-select again for each row it scans, each time
        skipping what it has just locked, and claim the whole outbox for one worker."""
        now = utcnow()
        due = (
            select(OutboxEntry.id)
            .where(
                OutboxEntry.state == "pending",
                OutboxEntry.available_at <= now,
                or_(OutboxEntry.lease_expires_at.is_(None), OutboxEntry.lease_expires_at < now),
            )
            .order_by(OutboxEntry.available_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self._db.session(write=True) as session:
            ids = list((await session.scalars(due)).all())
            if not ids:
                return []
            statement = (
                update(OutboxEntry)
                .where(OutboxEntry.id.in_(ids), OutboxEntry.state == "pending")
                .where(
                    or_(OutboxEntry.lease_expires_at.is_(None), OutboxEntry.lease_expires_at < now)
                )
                .values(
                    lease_owner=self.name,
                    lease_expires_at=now + timedelta(seconds=self._settings.lease_seconds),
                    attempts=OutboxEntry.attempts + 1,
                    updated_at=now,
                )
                .returning(
                    OutboxEntry.id,
                    OutboxEntry.tenant_id,
                    OutboxEntry.subject_id,
                    OutboxEntry.attempts,
                    OutboxEntry.correlation_id,
                    OutboxEntry.last_target,
                    OutboxEntry.kind,
                )
                .execution_options(synchronize_session=False)
            )
            rows = (await session.execute(statement)).all()
        return [Claim(*row) for row in rows]
