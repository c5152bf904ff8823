"""What becomes of an outbox delivery: recorded where it went before it goes, delivered,
rejected by the backend, retried later with backoff, dead-lettered, or postponed while the
tenant's backend is being switched. Every outcome is one transaction with the order's events
and releases the worker's lease; a worker that lost its lease changes nothing."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update

from app.orders.events import record_note, record_transition
from app.publicids import CUSTOMER, public_id
from app.settings import WorkerSettings
from app.store.database import Database
from app.store.ids import new_id
from app.store.models import OrderRow, OutboxEntry
from app.store.types import utcnow
from contracts.backend import SaleReceipt
from contracts.errors import BusinessRejection

log = logging.getLogger("gateway.worker")


@dataclass(frozen=True, slots=True)
class Claim:
    entry_id: str
    tenant_id: str
    order_id: str
    attempts: int
    correlation_id: str
    last_target: str | None = None
    kind: str = "order.submit"


class DeliveryOutcomes:
    _db: Database
    _settings: WorkerSettings
    name: str

    async def _aim(self, claim: Claim, target: str) -> None:
        """Record which backend this attempt goes to before it goes there."""
        async with self._db.session(claim.tenant_id, write=True) as session:
            await session.execute(
                update(OutboxEntry)
                .where(OutboxEntry.id == claim.entry_id, OutboxEntry.lease_owner == self.name)
                .values(last_target=target)
                .execution_options(synchronize_session=False)
            )

    async def _postpone(self, claim: Claim) -> None:
        async with self._db.session(claim.tenant_id, write=True) as session:
            await session.execute(
                update(OutboxEntry)
                .where(OutboxEntry.id == claim.entry_id, OutboxEntry.lease_owner == self.name)
                .values(
                    lease_owner=None,
                    lease_expires_at=None,
                    attempts=OutboxEntry.attempts - 1,  # waiting for a switch is not an attempt
                    available_at=utcnow() + timedelta(seconds=0.5),
                )
                .execution_options(synchronize_session=False)
            )

    async def _delivered(
        self, claim: Claim, backend: str, receipt: SaleReceipt, customer_key: str | None
    ) -> None:
        async with self._db.session(claim.tenant_id, write=True) as session:
            order = await session.scalar(select(OrderRow).where(OrderRow.id == claim.order_id))
            if order is None:
                return
            order.backend = backend
            order.backend_reference = receipt.backend_reference
            order.external_ids = {**order.external_ids, **receipt.external_ids}
            if customer_key and not order.customer.get("id"):
                order.customer = {**order.customer, "id": public_id(CUSTOMER, customer_key)}
            detail = {
                "backend": backend,
                "attempt": claim.attempts,
                "existing_sale": not receipt.created,
            }
            if order.status == "cancelled":
                # The channel cancelled while this post was on its way: undo it in the backend.
                record_note(
                    session,
                    order,
                    "order.posted_after_cancel",
                    cause="worker",
                    correlation_id=claim.correlation_id,
                    detail=detail,
                )
                session.add(
                    OutboxEntry(
                        id=new_id("obx"),
                        tenant_id=claim.tenant_id,
                        kind="order.cancel",
                        subject_id=order.id,
                        state="pending",
                        correlation_id=claim.correlation_id,
                    )
                )
            record_transition(
                session,
                order,
                "submitted",
                cause="worker",
                correlation_id=claim.correlation_id,
                backend_reference=receipt.backend_reference,
                detail=detail,
            )
            if receipt.status not in ("received", "submitted"):
                record_transition(
                    session,
                    order,
                    receipt.status,
                    cause="backend",
                    correlation_id=claim.correlation_id,
                    backend_reference=receipt.backend_reference,
                )
            await self._finish_in(session, claim, "done")
        log.info("order delivered", extra={"order_id": claim.order_id, "backend": backend})

    async def _noted(self, claim: Claim, event: str, detail: dict[str, Any]) -> None:
        async with self._db.session(claim.tenant_id, write=True) as session:
            order = await session.scalar(select(OrderRow).where(OrderRow.id == claim.order_id))
            if order is not None:
                record_note(
                    session,
                    order,
                    event,
                    cause="backend",
                    correlation_id=claim.correlation_id,
                    detail=detail,
                )
            await self._finish_in(session, claim, "done")

    async def _cancelled(self, claim: Claim, receipt: SaleReceipt | None) -> None:
        async with self._db.session(claim.tenant_id, write=True) as session:
            order = await session.scalar(select(OrderRow).where(OrderRow.id == claim.order_id))
            if order is not None:
                record_transition(
                    session,
                    order,
                    "cancelled",
                    cause="backend" if receipt else "worker",
                    correlation_id=claim.correlation_id,
                    backend_reference=receipt.backend_reference if receipt else None,
                    detail=None if receipt else {"reason": "the backend never had it"},
                )
            await self._finish_in(session, claim, "done")

    async def _rejected(self, claim: Claim, error: BusinessRejection) -> None:
        async with self._db.session(claim.tenant_id, write=True) as session:
            order = await session.scalar(select(OrderRow).where(OrderRow.id == claim.order_id))
            if order is not None:
                record_transition(
                    session,
                    order,
                    "rejected",
                    cause="backend",
                    correlation_id=claim.correlation_id,
                    detail={"reasons": error.reasons, "backend": error.backend},
                )
            await self._finish_in(session, claim, "done")
        log.info("order rejected by backend", extra={"order_id": claim.order_id})

    async def _retry_later(self, claim: Claim, error: BaseException) -> None:
        if claim.attempts >= self._settings.max_attempts:
            await self._dead_letter(
                claim, f"retries exhausted after {claim.attempts} attempts: {error}"
            )
            return
        delay = min(
            self._settings.backoff_max, self._settings.backoff_base * 2 ** (claim.attempts - 1)
        )
        delay = random.uniform(delay / 2, delay)  # noqa: S311 - jitter, not security
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            delay = max(delay, float(retry_after))
        next_at = utcnow() + timedelta(seconds=delay)
        async with self._db.session(claim.tenant_id, write=True) as session:
            order = await session.scalar(select(OrderRow).where(OrderRow.id == claim.order_id))
            if order is not None:
                record_note(
                    session,
                    order,
                    "order.delivery_failed",
                    cause="worker",
                    correlation_id=claim.correlation_id,
                    detail={
                        "attempt": claim.attempts,
                        "error": type(error).__name__,
                        "message": str(error)[:500],
                        "next_attempt_at": next_at.isoformat(),
                    },
                )
            await self._finish_in(session, claim, "pending", available_at=next_at, error=str(error))

    async def _dead_letter(self, claim: Claim, reason: str) -> None:
        async with self._db.session(claim.tenant_id, write=True) as session:
            order = await session.scalar(select(OrderRow).where(OrderRow.id == claim.order_id))
            if order is not None:
                order.dead_lettered = True
                record_note(
                    session,
                    order,
                    "order.dead_lettered",
                    cause="worker",
                    correlation_id=claim.correlation_id,
                    detail={"reason": reason[:1000], "attempts": claim.attempts},
                )
            await self._finish_in(session, claim, "dead", error=reason)
        log.warning("order dead-lettered", extra={"order_id": claim.order_id})

    async def _finish(self, claim: Claim, state: str) -> None:
        async with self._db.session(claim.tenant_id, write=True) as session:
            await self._finish_in(session, claim, state)

    async def _finish_in(
        self,
        session: Any,
        claim: Claim,
        state: str,
        *,
        available_at: datetime | None = None,
        error: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": state, "lease_owner": None, "lease_expires_at": None}
        if state == "done":
            values["done_at"] = utcnow()
        if available_at is not None:
            values["available_at"] = available_at
        if error is not None:
            values["last_error"] = error[:2000]
        await session.execute(
            update(OutboxEntry)
            .where(and_(OutboxEntry.id == claim.entry_id, OutboxEntry.lease_owner == self.name))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
