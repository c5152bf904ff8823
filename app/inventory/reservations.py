"""Holding stock: reservations at checkout, and the orders that follow them.

Every decision to hold stock is taken inside one database transaction that first locks the
SKUs concerned (`lock_keys`: PostgreSQL advisory locks, so every replica queues on the same
lock; SQLite's single writer does the same), then sums what is held of them now and checks the
channel's figure (app.inventory.availability). Two reservations of the last unit can
therefore never both succeed, whichever replicas they reach.

What counts as held follows from the owner of each hold: a reservation while `active` and not
past `expires_at` (expiry needs no sweep to take effect), an order while the backend has not
confirmed it (`received`, `submitted`). The sweep that marks reservations `expired` only keeps
the counters and the table tidy.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import CallContext
from app.idempotency import IdempotencyClaim, IdempotencyStore, StoredResponse
from app.inventory.availability import ChannelRule, channel_availability, promisable
from app.inventory.levels import InventoryService, SkuStock
from app.inventory.rules import AvailabilityRules, InventoryFigures
from app.problems import (
    BackendUnavailableError,
    Conflict,
    FieldError,
    InsufficientStock,
    NotFound,
    Unprocessable,
)
from app.store.database import Database, lock_keys
from app.store.ids import new_id
from app.store.models import OrderRow, ReservationRow, StockHold
from app.store.types import utcnow
from app.tenancy.tenants import TenantDirectory
from contracts.v1.availability import (
    Availability,
    LocationAvailability,
    Reservation,
    ReservationCreate,
    ReservationLine,
)

log = logging.getLogger("gateway.inventory")

PENDING_ORDER_STATES = ("received", "submitted")
Held = dict[str, dict[str | None, int]]  # sku -> location (None: none) -> quantity held


def _lock_names(tenant_id: str, skus: Iterable[str]) -> list[str]:
    return [f"stock:{tenant_id}:{sku}" for sku in skus]


def to_reservation(row: ReservationRow) -> Reservation:
    return Reservation(
        id=row.id,
        channel=row.channel,
        status=row.status,  # type: ignore[arg-type]
        lines=[ReservationLine(**line) for line in row.lines],
        expires_at=row.expires_at,
        created_at=row.created_at,
        order_id=row.order_id,
    )


async def held_now(session: AsyncSession, skus: Sequence[str], now: datetime) -> Held:
    """What the gateway holds of `skus` now, per location, in the session's tenant."""
    held: Held = defaultdict(lambda: defaultdict(int))
    if not skus:
        return held
    rows = await session.execute(
        select(StockHold.sku, StockHold.location_id, func.sum(StockHold.quantity))
        .select_from(StockHold)
        .outerjoin(ReservationRow, ReservationRow.id == StockHold.reservation_id)
        .outerjoin(OrderRow, OrderRow.id == StockHold.order_id)
        .where(
            StockHold.sku.in_(list(skus)),
            or_(
                and_(ReservationRow.status == "active", ReservationRow.expires_at > now),
                OrderRow.status.in_(PENDING_ORDER_STATES),
            ),
        )
        .group_by(StockHold.sku, StockHold.location_id)
    )
    for sku, location_id, quantity in rows:
        held[sku][location_id] += int(quantity or 0)
    return held


@dataclass(frozen=True, slots=True)
class Short:
    sku: str
    location_id: str | None
    requested: int
    available: int


def shortage(item: Short) -> dict[str, Any]:
    return {
        "sku": item.sku,
        "location_id": item.location_id,
        "requested": item.requested,
        "available": item.available,
    }


class StockLedger:
    def __init__(
        self,
        db: Database,
        *,
        inventory: InventoryService,
        rules: AvailabilityRules,
        figures: InventoryFigures,
        idempotency: IdempotencyStore,
        tenants: TenantDirectory,
    ) -> None:
        self._db = db
        self._inventory = inventory
        self._rules = rules
        self._figures = figures
        self._idempotency = idempotency
        self._tenants = tenants

    async def check_channel(self, ctx: CallContext, channel: str) -> None:
        channels = await self._tenants.channels(ctx.tenant_id)
        if channel not in channels:
            raise Unprocessable(
                f"unknown channel {channel!r}",
                errors=[FieldError("channel", "must be one of: " + ", ".join(channels))],
            )

    async def stock_or_none(self, ctx: CallContext, skus: list[str]) -> dict[str, SkuStock] | None:
        """The backend's stock of `skus` (cached), or None when it cannot be had just now."""
        try:
            return await self._inventory.stock_for(ctx, skus)
        except BackendUnavailableError:
            return None

    # -- what a channel may promise -------------------------------------------------------------

    async def availability(
        self, ctx: CallContext, skus: list[str], channel: str
    ) -> list[Availability]:
        await self.check_channel(ctx, channel)
        stock = await self._inventory.stock_for(ctx, skus)
        rule = await self._rules.rule_for(ctx.tenant_id, channel)
        async with self._db.session(ctx.tenant_id) as session:
            held = await held_now(session, skus, utcnow())
        answers = []
        for sku in skus:
            figure = channel_availability(stock[sku].levels, held[sku], rule)
            answers.append(
                Availability(
                    sku=sku,
                    channel=channel,
                    available=figure.available,
                    locations=[
                        LocationAvailability(location_id=location, available=available)
                        for location, available in sorted(figure.locations.items())
                    ],
                    as_of=stock[sku].as_of if stock[sku].levels else None,
                )
            )
        return answers

    # -- reservations ---------------------------------------------------------------------------

    async def reserve(
        self,
        ctx: CallContext,
        data: ReservationCreate,
        claim: IdempotencyClaim,
        render: Callable[[Reservation], StoredResponse],
    ) -> StoredResponse:
        await self.check_channel(ctx, data.channel)
        skus = sorted({line.sku for line in data.lines})
        stock = await self._inventory.stock_for(ctx, skus)
        now = utcnow()
        short: list[Short] = []
        async with self._db.session(ctx.tenant_id, write=True) as session:
            # The rule before the lock: as little as possible runs while others wait.
            rule = await self._rules.rule_for(ctx.tenant_id, data.channel, session)
            await lock_keys(session, _lock_names(ctx.tenant_id, skus))
            held = await held_now(session, skus, now)
            for line in data.lines:
                figure = channel_availability(stock[line.sku].levels, held[line.sku], rule)
                can = promisable(figure, line.location_id)
                if line.quantity > can:
                    short.append(Short(line.sku, line.location_id, line.quantity, can))
                held[line.sku][line.location_id] += line.quantity
            if not short:
                row = ReservationRow(
                    id=new_id("res"),
                    tenant_id=ctx.tenant_id,
                    channel=data.channel,
                    status="active",
                    lines=[
                        {
                            "sku": line.sku,
                            "quantity": line.quantity,
                            "location_id": line.location_id,
                        }
                        for line in data.lines
                    ],
                    expires_at=now + timedelta(seconds=data.ttl_seconds),
                    correlation_id=ctx.correlation_id,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                session.add_all(
                    StockHold(
                        tenant_id=ctx.tenant_id,
                        sku=line.sku,
                        location_id=line.location_id,
                        quantity=line.quantity,
                        reservation_id=row.id,
                    )
                    for line in data.lines
                )
                await self._figures.add(
                    session, ctx.tenant_id, data.channel, "reservations_created"
                )
                await session.flush()
                response = render(to_reservation(row))
                await self._idempotency.complete(claim, response, session)
        if short:
            await self._figures.add_alone(ctx.tenant_id, data.channel, "reservations_refused")
            raise InsufficientStock(
                "not enough stock for " + ", ".join(sorted({s.sku for s in short})),
                extra={"short": [shortage(item) for item in short]},
            )
        return response

    async def get(self, ctx: CallContext, reservation_id: str) -> Reservation:
        async with self._db.session(ctx.tenant_id) as session:
            row = await session.get(ReservationRow, reservation_id)
        if row is None:
            raise NotFound(f"no reservation {reservation_id}")
        if row.status == "active" and row.expires_at <= utcnow():
            row.status = "expired"  # what it is, swept or not
        return to_reservation(row)

    async def release(self, ctx: CallContext, reservation_id: str) -> None:
        """Give the stock back. Releasing a released or expired reservation changes nothing;
        one an order has consumed belongs to the order (409)."""
        now = utcnow()
        async with self._db.session(ctx.tenant_id, write=True) as session:
            row = await session.scalar(
                select(ReservationRow).where(ReservationRow.id == reservation_id).with_for_update()
            )
            if row is None:
                raise NotFound(f"no reservation {reservation_id}")
            if row.status == "consumed":
                raise Conflict(
                    f"reservation {reservation_id} was consumed by order {row.order_id}",
                    extra={"order_id": row.order_id},
                )
            if row.status != "active":
                return
            expired = row.expires_at <= now
            row.status = "expired" if expired else "released"
            row.updated_at = now
            name = "reservations_expired" if expired else "reservations_released"
            await self._figures.add(session, ctx.tenant_id, row.channel, name)

    # -- orders ---------------------------------------------------------------------------------

    async def hold_for_order(
        self,
        session: AsyncSession,
        ctx: CallContext,
        *,
        order_id: str,
        channel: str,
        lines: list[tuple[str, int]],
        reservation_id: str | None,
        stock: dict[str, SkuStock] | None,
    ) -> tuple[list[Short], list[StockHold]]:
        """In the intake's transaction, before the order is added: consume the cited
        reservation, and return the lines the channel could not promise (the order is taken
        anyway: oversold) with the holds the caller adds with the order, which keep its stock
        until the backend confirms it. `stock` None: the backend's stock is unknown just now,
        so nothing can be called oversold."""
        now = utcnow()
        skus = sorted({sku for sku, _ in lines})
        reservation: ReservationRow | None = None
        if reservation_id is not None:
            reservation = await session.get(ReservationRow, reservation_id)
            if reservation is not None:
                skus = sorted({*skus, *(line["sku"] for line in reservation.lines)})
        await lock_keys(session, _lock_names(ctx.tenant_id, skus))
        if reservation_id is not None:
            reservation = await session.scalar(
                select(ReservationRow)
                .where(ReservationRow.id == reservation_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            usable = (
                reservation is not None
                and reservation.status == "active"
                and reservation.expires_at > now
                and reservation.channel == channel
            )
            if not usable:
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
            assert reservation is not None
            reservation.status = "consumed"
            reservation.order_id = order_id
            reservation.updated_at = now
            await self._figures.add(session, ctx.tenant_id, channel, "reservations_consumed")
            await session.flush()
        short: list[Short] = []
        if stock is not None:
            rule: ChannelRule = await self._rules.rule_for(ctx.tenant_id, channel, session)
            held = await held_now(session, skus, now)
            for sku, quantity in lines:
                figure = channel_availability(stock[sku].levels, held[sku], rule)
                can = promisable(figure)
                if quantity > can:
                    short.append(Short(sku, None, quantity, can))
                held[sku][None] += quantity
        if short:
            await self._figures.add(session, ctx.tenant_id, channel, "orders_oversold")
        holds = [
            StockHold(tenant_id=ctx.tenant_id, sku=sku, quantity=quantity, order_id=order_id)
            for sku, quantity in lines
        ]
        return short, holds

    # -- upkeep ---------------------------------------------------------------------------------

    async def expire_due(self) -> int:
        """Mark reservations past their time `expired` and count them; drop holds that no
        longer count. Returns how many reservations expired."""
        now = utcnow()
        async with self._db.session(write=True) as session:
            expired = (
                await session.execute(
                    update(ReservationRow)
                    .where(ReservationRow.status == "active", ReservationRow.expires_at <= now)
                    .values(status="expired", updated_at=now)
                    .returning(ReservationRow.tenant_id, ReservationRow.channel)
                    .execution_options(synchronize_session=False)
                )
            ).all()
            for (tenant_id, channel), count in Counter(expired).items():
                await self._figures.add(session, tenant_id, channel, "reservations_expired", count)
            await session.execute(
                delete(StockHold)
                .where(
                    or_(
                        StockHold.reservation_id.in_(
                            select(ReservationRow.id).where(ReservationRow.status != "active")
                        ),
                        StockHold.order_id.in_(
                            select(OrderRow.id).where(OrderRow.status.not_in(PENDING_ORDER_STATES))
                        ),
                    )
                )
                .execution_options(synchronize_session=False)
            )
        if expired:
            log.info("reservations expired", extra={"count": len(expired)})
        return len(expired)
