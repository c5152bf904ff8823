"""Cancelling an order at a channel's request (`POST /v1/orders/{id}/cancel`).

Allowed in received, submitted, accepted and allocated; refused (409) from partially shipped
on. An order no attempt has gone out for is cancelled at once (200) and never posted. Every
other order is cancelled in the backend through one `order.cancel` outbox entry (202): a
posted order, and an order whose post may have reached the backend without our knowing (a
post under way, one that timed out and waits for its retry, a worker killed after the backend's
answer, a dead letter). Such an order stays where it is until the backend has cancelled it, or
said it never had it; the backend may also refuse, which the order's events record.

At most one `order.cancel` is pending per order: whoever finds a sale that must go (this
module, a delivery that lands after a cancel, the feed) asks through `request_backend_cancel`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import CallContext
from app.orders.events import record_note, record_transition
from app.orders.states import CANCELLABLE
from app.orders.views import to_order
from app.problems import Conflict, NotFound
from app.store.database import Database
from app.store.ids import new_id
from app.store.models import OrderRow, OutboxEntry
from app.store.types import utcnow
from contracts.v1 import Order

SUBMIT, CANCEL = "order.submit", "order.cancel"


async def pending_cancel(session: AsyncSession, order_id: str) -> OutboxEntry | None:
    return await session.scalar(
        select(OutboxEntry)
        .where(
            OutboxEntry.subject_id == order_id,
            OutboxEntry.kind == CANCEL,
            OutboxEntry.state == "pending",
        )
        .limit(1)
    )


async def request_backend_cancel(
    session: AsyncSession, order: OrderRow, correlation_id: str
) -> bool:
    """Queue the backend cancel of `order` unless one is already pending (then False). A dead
    one is revived rather than doubled: one order, one cancel to tell the backend."""
    if await pending_cancel(session, order.id) is not None:
        return False
    dead = await session.scalar(
        select(OutboxEntry)
        .where(
            OutboxEntry.subject_id == order.id,
            OutboxEntry.kind == CANCEL,
            OutboxEntry.state == "dead",
        )
        .limit(1)
    )
    if dead is not None:
        dead.state, dead.attempts, dead.available_at = "pending", 0, utcnow()
        dead.lease_owner = dead.lease_expires_at = None
        order.dead_lettered = False
        return True
    session.add(
        OutboxEntry(
            id=new_id("obx"),
            tenant_id=order.tenant_id,
            kind=CANCEL,
            subject_id=order.id,
            state="pending",
            correlation_id=correlation_id,
        )
    )
    return True


def may_have_reached_backend(submit: OutboxEntry) -> bool:
    """An attempt was made (`attempts` counts claims; a replay resets it but keeps the
    target the last attempt went to): its outcome is not ours to assume."""
    return submit.attempts > 0 or submit.last_target is not None


class OrderCancellation:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def cancel(self, ctx: CallContext, order_id: str) -> tuple[bool, Order]:
        """Returns (done now, order): done now when no backend has to be told."""
        async with self._db.session(ctx.tenant_id, write=True) as session:
            order = await session.scalar(
                select(OrderRow).where(OrderRow.id == order_id).with_for_update()
            )
            if order is None:
                raise NotFound(f"no order {order_id}")
            if order.status == "cancelled":
                return True, to_order(order)
            if order.status not in CANCELLABLE:
                raise Conflict(
                    f"order {order_id} is {order.status}; orders can be cancelled while "
                    + ", ".join(sorted(CANCELLABLE))
                )
            if await pending_cancel(session, order_id) is not None:
                return False, to_order(order)  # asked before; the backend has not answered yet
            if order.status == "received" and await self._cancel_unposted(session, ctx, order):
                return True, to_order(order)
            record_note(
                session,
                order,
                "order.cancel_requested",
                cause="channel",
                correlation_id=ctx.correlation_id,
                detail={"posted": order.status != "received"},
            )
            await request_backend_cancel(session, order, ctx.correlation_id)
            return False, to_order(order)

    async def _cancel_unposted(
        self, session: AsyncSession, ctx: CallContext, order: OrderRow
    ) -> bool:
        """Cancel a received order here and now when no attempt to post it was ever made; else
        stop further attempts (the backend cancel covers whatever the last one did) and False.
        The submit entries are locked first: a worker's claim skips a locked entry, and one
        that claimed first is seen with its lease."""
        submits = list(
            (
                await session.scalars(
                    select(OutboxEntry)
                    .where(
                        OutboxEntry.subject_id == order.id,
                        OutboxEntry.kind == SUBMIT,
                    )
                    .with_for_update()
                )
            ).all()
        )
        now = utcnow()
        in_flight = any(
            e.state == "pending" and e.lease_expires_at is not None and e.lease_expires_at > now
            for e in submits
        )
        if not in_flight and not any(may_have_reached_backend(e) for e in submits):
            for entry in submits:
                if entry.state != "done":
                    entry.state, entry.done_at = "done", now  # it will never be posted
                    entry.lease_owner = entry.lease_expires_at = None
            record_transition(
                session,
                order,
                "cancelled",
                cause="channel",
                correlation_id=ctx.correlation_id,
                detail={"before_posting": True},
            )
            return True
        for entry in submits:
            if entry.state == "dead":
                # Its delivery is moot now: no operator should replay it.
                entry.state, entry.done_at = "done", now
                entry.last_error = f"{entry.last_error or ''} (the channel cancelled)"[:2000]
                order.dead_lettered = False
            elif entry.state == "pending" and not in_flight:
                entry.state, entry.done_at = "done", now  # never retried after the cancel
                entry.lease_owner = entry.lease_expires_at = None
            # A post under way keeps its entry: its worker finishes it, and the backend cancel
            # waits for that (see OutboxWorker._cancel).
        return False
