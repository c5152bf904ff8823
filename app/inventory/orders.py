"""The stock an order takes, in the intake's transaction: the reservation it cites, the holds it
adds, and whether the channel could promise it (app.inventory.holds says what counts)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import CallContext
from app.inventory.availability import ChannelRule, channel_availability, promisable
from app.inventory.holds import Short, held_now, lock_names, snapshot_time
from app.inventory.levels import SkuStock
from app.inventory.rules import AvailabilityRules
from app.problems import FieldError, Unprocessable
from app.store.database import lock_keys
from app.store.models import ReservationRow, StockHold
from app.store.types import utcnow


class OrderStock:
    def __init__(self, rules: AvailabilityRules) -> None:
        self._rules = rules

    async def consume(
        self,
        session: AsyncSession,
        ctx: CallContext,
        *,
        reservation_id: str,
        order_id: str,
        channel: str,
        skus: list[str],
    ) -> None:
        """In the intake's transaction: the order takes over the reservation it cites (422
        if it cannot be used), under the locks of its SKUs and the reservation's."""
        now = utcnow()
        reservation = await session.get(ReservationRow, reservation_id)
        if reservation is not None:
            skus = sorted({*skus, *(line["sku"] for line in reservation.lines)})
        await lock_keys(session, lock_names(ctx.tenant_id, skus))
        reservation = await session.scalar(
            select(ReservationRow)
            .where(ReservationRow.id == reservation_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if (
            reservation is None
            or reservation.status != "active"
            or reservation.expires_at <= now
            or reservation.channel != channel
        ):
            raise Unprocessable(
                f"reservation {reservation_id} cannot be used",
                errors=[
                    FieldError(
                        "reservation_id",
                        "unknown, expired, released or already used reservation, "
                        "or one made for another channel",
                    )
                ],
            )
        reservation.status = "consumed"
        reservation.order_id = order_id
        reservation.updated_at = now
        await session.flush()

    @staticmethod
    def holds(ctx: CallContext, order_id: str, lines: list[tuple[str, int]]) -> list[StockHold]:
        """The holds an order adds with itself: its stock, until the backend confirms it."""
        return [
            StockHold(tenant_id=ctx.tenant_id, sku=sku, quantity=quantity, order_id=order_id)
            for sku, quantity in lines
        ]

    async def shortages(
        self,
        session: AsyncSession,
        ctx: CallContext,
        *,
        order_id: str,
        channel: str,
        lines: list[tuple[str, int]],
        stock: dict[str, SkuStock] | None,
    ) -> list[Short]:
        """In the intake's transaction, the order and its holds already written: the lines
        the channel could not promise (the order is taken anyway: oversold). Only this step
        runs under the SKUs' locks, to the commit; everything the order writes was written
        before. `stock` None: the backend's stock is unknown just now, nothing is short."""
        if stock is None:
            return []
        skus = sorted({sku for sku, _ in lines})
        rule: ChannelRule = await self._rules.rule_for(ctx.tenant_id, channel, session)
        await lock_keys(session, lock_names(ctx.tenant_id, skus))
        held = await held_now(
            session, skus, utcnow(), snapshot_time(stock, skus), other_than=order_id
        )
        short: list[Short] = []
        for sku, quantity in lines:
            figure = channel_availability(stock[sku].levels, held[sku], rule)
            can = promisable(figure)
            if quantity > can:
                short.append(Short(sku, None, quantity, can))
            held[sku][None] += quantity
        return short

    async def shortages_of(
        self,
        session: AsyncSession,
        ctx: CallContext,
        orders: list[tuple[str, list[tuple[str, int]], dict[str, SkuStock] | None]],
    ) -> list[list[Short]]:
        """`shortages` for orders taken together (channel, lines, stock each), before any of
        them is written: their SKUs' locks taken once, each order counted after the ones
        before it."""
        known = [(channel, lines, stock) for channel, lines, stock in orders if stock]
        skus = sorted({sku for _, lines, _ in known for sku, _ in lines})
        if not skus:
            return [[] for _ in orders]
        rules = {
            channel: await self._rules.rule_for(ctx.tenant_id, channel, session)
            for channel in sorted({channel for channel, _, _ in known})
        }
        await lock_keys(session, lock_names(ctx.tenant_id, skus))
        since = min(
            (t for _, lines, stock in known if (t := snapshot_time(stock, [s for s, _ in lines]))),
            default=None,
        )
        held = await held_now(session, skus, utcnow(), since)
        answers: list[list[Short]] = []
        for channel, lines, stock in orders:
            short: list[Short] = []
            for sku, quantity in lines:
                if stock:
                    figure = channel_availability(stock[sku].levels, held[sku], rules[channel])
                    can = promisable(figure)
                    if quantity > can:
                        short.append(Short(sku, None, quantity, can))
                held[sku][None] += quantity
            answers.append(short)
        return answers
