"""Stored orders and events as v1 resources."""

from __future__ import annotations

import msgspec

from app.store.models import OrderEventRow, OrderRow
from contracts.v1 import Address, Order, OrderEvent, OrderLine, OrderTotals
from contracts.v1.orders import OrderCustomer


def to_order(row: OrderRow) -> Order:
    return Order(
        id=row.id,
        status=row.status,  # type: ignore[arg-type]
        channel=row.channel,
        external_reference=row.external_reference,
        customer=msgspec.convert(row.customer, OrderCustomer),
        lines=msgspec.convert(row.lines, list[OrderLine]),
        shipping_address=msgspec.convert(row.shipping_address, Address),
        billing_address=msgspec.convert(row.billing_address, Address)
        if row.billing_address
        else None,
        totals=msgspec.convert(row.totals, OrderTotals),
        reservation_id=row.reservation_id,
        placed_at=row.placed_at,
        backend_reference=row.backend_reference,
        external_ids=dict(row.external_ids),
        dead_lettered=row.dead_lettered,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def to_event(row: OrderEventRow) -> OrderEvent:
    return OrderEvent(
        id=row.id,
        order_id=row.order_id,
        type=row.type,
        status=row.status,  # type: ignore[arg-type]
        previous_status=row.previous_status,  # type: ignore[arg-type]
        cause=row.cause,  # type: ignore[arg-type]
        correlation_id=row.correlation_id,
        backend_reference=row.backend_reference,
        detail=row.detail,
        occurred_at=row.occurred_at,
    )
