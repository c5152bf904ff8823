"""Recording order events. Every status change goes through `record_transition`, which checks
the state machine; `record_note` adds an event that changes no status (a failed attempt)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.orders.states import can_transition, event_type
from app.store.ids import new_id
from app.store.models import OrderEventRow, OrderRow
from app.store.types import utcnow


def _append(
    session: AsyncSession,
    order: OrderRow,
    *,
    type_: str,
    status: str,
    previous_status: str | None,
    cause: str,
    correlation_id: str,
    backend_reference: str | None = None,
    detail: dict[str, Any] | None = None,
) -> OrderEventRow:
    order.event_count += 1
    event = OrderEventRow(
        id=new_id("evt"),
        tenant_id=order.tenant_id,
        order_id=order.id,
        sequence=order.event_count,
        type=type_,
        status=status,
        previous_status=previous_status,
        cause=cause,
        correlation_id=correlation_id,
        backend_reference=backend_reference,
        detail=detail,
        occurred_at=utcnow(),
    )
    session.add(event)
    return event


def record_received(session: AsyncSession, order: OrderRow, detail: dict[str, Any] | None) -> None:
    _append(
        session,
        order,
        type_="order.received",
        status="received",
        previous_status=None,
        cause="channel",
        correlation_id=order.correlation_id,
        detail=detail,
    )


def record_transition(
    session: AsyncSession,
    order: OrderRow,
    target: str,
    *,
    cause: str,
    correlation_id: str,
    backend_reference: str | None = None,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Move `order` to `target` with an event; False (and nothing written) when the state
    machine does not allow it."""
    if not can_transition(order.status, target):
        return False
    previous = order.status
    order.status = target
    order.updated_at = utcnow()
    _append(
        session,
        order,
        type_=event_type(target),
        status=target,
        previous_status=previous,
        cause=cause,
        correlation_id=correlation_id,
        backend_reference=backend_reference,
        detail=detail,
    )
    return True


def record_note(
    session: AsyncSession,
    order: OrderRow,
    type_: str,
    *,
    cause: str,
    correlation_id: str,
    detail: dict[str, Any] | None = None,
) -> None:
    order.updated_at = utcnow()
    _append(
        session,
        order,
        type_=type_,
        status=order.status,
        previous_status=None,
        cause=cause,
        correlation_id=correlation_id,
        detail=detail,
    )
