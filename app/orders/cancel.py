"""Cancelling an order at a channel's request (`POST /v1/orders/{id}/cancel`).

Allowed in received, submitted, accepted and allocated; refused (409) from partially shipped
on. An order not yet posted is cancelled at once and never posted afterwards. A posted order
is cancelled in the backend through the outbox (answer 202): the backend may still refuse,
and says so in the order's events.
"""

from __future__ import annotations

from sqlalchemy import select

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
            entries = list(
                (
                    await session.scalars(
                        select(OutboxEntry).where(OutboxEntry.subject_id == order_id)
                    )
                ).all()
            )
            now = utcnow()
            if order.status == "received":
                submit = next(
                    (e for e in entries if e.kind == SUBMIT and e.state == "pending"), None
                )
                in_flight = (
                    submit is not None
                    and submit.lease_expires_at is not None
                    and submit.lease_expires_at > now
                )
                record_transition(
                    session,
                    order,
                    "cancelled",
                    cause="channel",
                    correlation_id=ctx.correlation_id,
                    detail={"before_posting": not in_flight},
                )
                if submit is not None and not in_flight:
                    submit.state, submit.done_at = "done", now  # it will never be posted
                if not in_flight:
                    return True, to_order(order)
                # A worker is posting it right now: cancel it in the backend too, once posted.
            elif any(e.kind == CANCEL and e.state == "pending" for e in entries):
                return False, to_order(order)
            else:
                record_note(
                    session,
                    order,
                    "order.cancel_requested",
                    cause="channel",
                    correlation_id=ctx.correlation_id,
                )
            session.add(
                OutboxEntry(
                    id=new_id("obx"),
                    tenant_id=ctx.tenant_id,
                    kind=CANCEL,
                    subject_id=order_id,
                    state="pending",
                    correlation_id=ctx.correlation_id,
                )
            )
            return False, to_order(order)
