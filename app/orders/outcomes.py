"""What becomes of an outbox delivery: recorded where it went before it goes, delivered,
rejected by the backend, retried later with backoff, dead-lettered, or postponed while the
tenant's backend is being switched. Every outcome is one transaction with the order's events
and releases the worker's lease.

A worker that lost its lease changes nothing: each outcome first locks the order (the same
order of locks as a cancel takes), then finishes the entry only where this worker still holds
this claim (`LeasedDeliveries._take`); no row updated means another worker or the channel's
cancel has the entry now, and the transaction ends without touching the order or its events.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.orders.cancel import CANCEL, SUBMIT, pending_cancel, request_backend_cancel
from app.orders.events import record_note, record_transition
from app.orders.leases import Claim, LeasedDeliveries
from app.publicids import CUSTOMER, public_id
from app.store.models import OutboxEntry
from app.store.types import utcnow
from contracts.backend import SaleReceipt
from contracts.errors import BusinessRejection

log = logging.getLogger("gateway.worker")


class DeliveryOutcomes(LeasedDeliveries):
    async def _delivered(
        self, claim: Claim, backend: str, receipt: SaleReceipt, customer_key: str | None
    ) -> bool:
        async with self._db.session(claim.tenant_id, write=True) as session:
            order = await self._locked_order(session, claim)
            if not await self._take(session, claim, "done") or order is None:
                return False
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
                # Cancelled as never posted while this post was on its way: undo it in the
                # backend (unless that is already asked: the backend is told once).
                record_note(
                    session,
                    order,
                    "order.posted_after_cancel",
                    cause="worker",
                    correlation_id=claim.correlation_id,
                    detail=detail,
                )
                await request_backend_cancel(session, order, claim.correlation_id)
                return True
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
        log.info("order delivered", extra={"order_id": claim.order_id, "backend": backend})
        return True

    async def _cancel_refused(self, claim: Claim, error: BusinessRejection) -> None:
        async with self._db.session(claim.tenant_id, write=True) as session:
            order = await self._locked_order(session, claim)
            if not await self._take(session, claim, "done") or order is None:
                return
            detail = {"reasons": error.reasons, "backend": error.backend}
            record_note(
                session,
                order,
                "order.cancel_refused",
                cause="backend",
                correlation_id=claim.correlation_id,
                detail=detail,
            )
            if order.status == "received":
                # The backend has a sale it will not cancel (shipped, say) of an order whose
                # post we stopped: resume the delivery, which finds that sale and moves on.
                await session.execute(
                    update(OutboxEntry)
                    .where(OutboxEntry.subject_id == order.id, OutboxEntry.kind == SUBMIT)
                    .values(state="pending", available_at=utcnow(), done_at=None)
                    .execution_options(synchronize_session=False)
                )

    async def _cancelled(self, claim: Claim, receipt: SaleReceipt | None) -> None:
        async with self._db.session(claim.tenant_id, write=True) as session:
            order = await self._locked_order(session, claim)
            if not await self._take(session, claim, "done") or order is None:
                return
            reference = receipt.backend_reference if receipt else None
            if receipt is not None and order.backend_reference is None:
                order.backend_reference = reference
            if order.status == "cancelled":
                if receipt is not None:  # a sale that landed after we had cancelled
                    record_note(
                        session,
                        order,
                        "order.late_sale_cancelled",
                        cause="backend",
                        correlation_id=claim.correlation_id,
                        detail={"backend_reference": reference},
                    )
                return
            record_transition(
                session,
                order,
                "cancelled",
                cause="backend" if receipt else "worker",
                correlation_id=claim.correlation_id,
                backend_reference=reference,
                detail=None if receipt else {"reason": "the backend never had it"},
            )

    async def _rejected(self, claim: Claim, error: BusinessRejection) -> None:
        async with self._db.session(claim.tenant_id, write=True) as session:
            order = await self._locked_order(session, claim)
            if not await self._take(session, claim, "done") or order is None:
                return
            record_transition(
                session,
                order,
                "rejected",
                cause="backend",
                correlation_id=claim.correlation_id,
                detail={"reasons": error.reasons, "backend": error.backend},
            )
        log.info("order rejected by backend", extra={"order_id": claim.order_id})

    def next_delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter (half to all of base * 2^(attempt-1), capped), never
        sooner than the backend's Retry-After."""
        delay = min(self._settings.backoff_max, self._settings.backoff_base * 2 ** (attempt - 1))
        delay = random.uniform(delay / 2, delay)  # noqa: S311 - jitter, not security
        return max(delay, float(retry_after)) if retry_after else delay

    async def _retry_later(self, claim: Claim, error: BaseException) -> None:
        if claim.attempts >= self._settings.max_attempts:
            await self._dead_letter(
                claim, f"retries exhausted after {claim.attempts} attempts: {error}"
            )
            return
        next_at = utcnow() + timedelta(
            seconds=self.next_delay(claim.attempts, getattr(error, "retry_after", None))
        )
        async with self._db.session(claim.tenant_id, write=True) as session:
            order = await self._locked_order(session, claim)
            stop = await self._cancel_supersedes(session, claim)
            state = "done" if stop else "pending"
            if not await self._take(session, claim, state, available_at=next_at, error=str(error)):
                return
            if order is not None:
                detail: dict[str, Any] = {
                    "attempt": claim.attempts,
                    "error": type(error).__name__,
                    "message": str(error)[:500],
                }
                if stop:
                    detail["stopped"] = "the order's cancel goes to the backend instead"
                else:
                    detail["next_attempt_at"] = next_at.isoformat()
                record_note(
                    session,
                    order,
                    "order.delivery_failed",
                    cause="worker",
                    correlation_id=claim.correlation_id,
                    detail=detail,
                )

    async def _dead_letter(self, claim: Claim, reason: str) -> None:
        async with self._db.session(claim.tenant_id, write=True) as session:
            order = await self._locked_order(session, claim)
            if await self._cancel_supersedes(session, claim):
                # The channel cancelled meanwhile: its backend cancel settles this order.
                if await self._take(session, claim, "done", error=reason) and order is not None:
                    record_note(
                        session,
                        order,
                        "order.delivery_failed",
                        cause="worker",
                        correlation_id=claim.correlation_id,
                        detail={"reason": reason[:1000], "stopped": "cancel pending"},
                    )
                return
            if not await self._take(session, claim, "dead", error=reason):
                return
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
        log.warning("order dead-lettered", extra={"order_id": claim.order_id})

    async def _cancel_supersedes(self, session: AsyncSession, claim: Claim) -> bool:
        return claim.kind != CANCEL and await pending_cancel(session, claim.order_id) is not None
