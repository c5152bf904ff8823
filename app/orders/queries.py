"""Reading orders and their events, always through a tenant-scoped session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.context import CallContext
from app.orders.views import to_event, to_order
from app.paging import CursorCodec
from app.problems import NotFound
from app.store.database import Database
from app.store.models import OrderEventRow, OrderRow
from contracts.v1 import Order, OrderEvent, OrderPage


class OrderQueries:
    def __init__(self, db: Database, cursors: CursorCodec) -> None:
        self._db = db
        self._cursors = cursors

    async def list_orders(
        self,
        ctx: CallContext,
        *,
        limit: int,
        cursor: str | None,
        status: str | None = None,
        channel: str | None = None,
        external_reference: str | None = None,
        updated_since: datetime | None = None,
    ) -> OrderPage:
        filters = {
            "status": status,
            "channel": channel,
            "external_reference": external_reference,
            "updated_since": updated_since.isoformat() if updated_since else None,
        }
        query = select(OrderRow)
        if cursor:
            query = query.where(
                OrderRow.id < self._cursors.decode(cursor, ctx.tenant_id, "orders", filters)
            )
        if status:
            query = query.where(OrderRow.status == status)
        if channel:
            query = query.where(OrderRow.channel == channel)
        if external_reference:
            query = query.where(OrderRow.external_reference == external_reference)
        if updated_since:
            query = query.where(OrderRow.updated_at >= updated_since)
        query = query.order_by(OrderRow.id.desc()).limit(limit + 1)
        async with self._db.session(ctx.tenant_id) as session:
            rows = list((await session.scalars(query)).all())
        page, more = rows[:limit], len(rows) > limit
        next_cursor = (
            self._cursors.encode(ctx.tenant_id, "orders", filters, page[-1].id) if more else None
        )
        return OrderPage(data=[to_order(row) for row in page], next_cursor=next_cursor)

    async def get_order(self, ctx: CallContext, order_id: str) -> Order:
        async with self._db.session(ctx.tenant_id) as session:
            row = await session.scalar(select(OrderRow).where(OrderRow.id == order_id))
        if row is None:
            raise NotFound(f"no order {order_id}")
        return to_order(row)

    async def list_events(self, ctx: CallContext, order_id: str) -> list[OrderEvent]:
        async with self._db.session(ctx.tenant_id) as session:
            exists = await session.scalar(select(OrderRow.id).where(OrderRow.id == order_id))
            if exists is None:
                raise NotFound(f"no order {order_id}")
            rows = (
                await session.scalars(
                    select(OrderEventRow)
                    .where(OrderEventRow.order_id == order_id)
                    .order_by(OrderEventRow.sequence)
                )
            ).all()
        return [to_event(row) for row in rows]
