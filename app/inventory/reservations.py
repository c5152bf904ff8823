"""Holding stock: reservations at checkout, and the orders that follow them.

Every decision to hold stock is taken inside one database transaction that first locks the
SKUs concerned (`lock_keys`: PostgreSQL advisory locks, so every replica queues on the same
lock; SQLite's single writer does the same), then sums what is held of them now
(app.inventory.holds) and checks the channel's figure (app.inventory.availability). Two
reservations of the last unit can therefore never both succeed, whichever replicas they reach.
Nothing shared by other SKUs is written under those locks: the figures of what reservations
came to are counted from the reservations themselves (app.inventory.rules.InventoryFigures),
a refused one kept as a row of its own.

The backend's stock is read before the transaction, at checkout priority (a channel is
waiting on it, ahead of browsing: app.shield.policy).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from app.context import CallContext
from app.idempotency import IdempotencyClaim, IdempotencyStore, StoredResponse
from app.inventory.availability import channel_availability, promisable
from app.inventory.holds import (
    Short,
    finished_holds,
    held_now,
    lock_names,
    shortage,
    snapshot_time,
)
from app.inventory.levels import InventoryService, SkuStock
from app.inventory.orders import OrderStock
from app.inventory.rules import AvailabilityRules
from app.problems import (
    BackendUnavailableError,
    Conflict,
    FieldError,
    GatewayError,
    InsufficientStock,
    NotFound,
    Unprocessable,
)
from app.shield.policy import priority
from app.store.database import Database, lock_keys
from app.store.ids import new_id
from app.store.models import ReservationRow, StockHold
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

# How long a stock read at checkout may wait for the backend's budget before it is refused
# (503 + Retry-After): a shopper is waiting, but not for ever.
CHECKOUT_PATIENCE = 2.0
REFUSED = "refused"  # a reservation asked for and refused: counted, never holding or shown


class _Refused(Exception):
    def __init__(self, short: list[Short]) -> None:
        super().__init__("short")
        self.short = short


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


class StockLedger:
    def __init__(
        self,
        db: Database,
        *,
        inventory: InventoryService,
        rules: AvailabilityRules,
        idempotency: IdempotencyStore,
        tenants: TenantDirectory,
    ) -> None:
        self._db = db
        self._inventory = inventory
        self._rules = rules
        self._idempotency = idempotency
        self._tenants = tenants
        self.orders = OrderStock(rules)

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

    async def _checkout_stock(self, ctx: CallContext, skus: list[str]) -> dict[str, SkuStock]:
        with priority("checkout", patience=CHECKOUT_PATIENCE):
            return await self._inventory.stock_for(ctx, skus)

    # -- what a channel may promise -------------------------------------------------------------

    async def availability(
        self, ctx: CallContext, skus: list[str], channel: str
    ) -> list[Availability]:
        await self.check_channel(ctx, channel)
        stock = await self._checkout_stock(ctx, skus)
        rule = await self._rules.rule_for(ctx.tenant_id, channel)
        async with self._db.session(ctx.tenant_id) as session:
            held = await held_now(session, skus, utcnow(), snapshot_time(stock, skus))
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
        refuse: Callable[[GatewayError], StoredResponse],
    ) -> StoredResponse:
        """Reserve, or refuse for want of stock (409, `refuse` renders it); either answer is
        stored with the key, so a repeat replays it."""
        await self.check_channel(ctx, data.channel)
        skus = sorted({line.sku for line in data.lines})
        stock = await self._checkout_stock(ctx, skus)
        now = utcnow()
        lines = [
            {"sku": line.sku, "quantity": line.quantity, "location_id": line.location_id}
            for line in data.lines
        ]
        try:
            async with self._db.session(ctx.tenant_id, write=True) as session:
                replay = await self._idempotency.claim_in(session, claim)
                if replay is not None:
                    return replay
                # The rule before the lock: as little as possible runs while others wait.
                rule = await self._rules.rule_for(ctx.tenant_id, data.channel, session)
                await lock_keys(session, lock_names(ctx.tenant_id, skus))
                held = await held_now(session, skus, now, snapshot_time(stock, skus))
                short: list[Short] = []
                for line in data.lines:
                    figure = channel_availability(stock[line.sku].levels, held[line.sku], rule)
                    can = promisable(figure, line.location_id)
                    if line.quantity > can:
                        short.append(Short(line.sku, line.location_id, line.quantity, can))
                    held[line.sku][line.location_id] += line.quantity
                if short:
                    raise _Refused(short)  # ends the locked transaction, having written nothing
                row = self._row(
                    ctx, data.channel, "active", lines, now=now, ttl_seconds=data.ttl_seconds
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
                await session.flush()
                response = render(to_reservation(row))
                await self._idempotency.complete(claim, response, session)
            return response
        except _Refused as refused:
            short = refused.short
        # The refusal is recorded (counted, and stored with the key) outside the SKUs' locks.
        async with self._db.session(ctx.tenant_id, write=True) as session:
            replay = await self._idempotency.claim_in(session, claim)
            if replay is not None:
                return replay
            session.add(self._row(ctx, data.channel, REFUSED, lines, now=now, ttl_seconds=0))
            response = refuse(
                InsufficientStock(
                    "not enough stock for " + ", ".join(sorted({s.sku for s in short})),
                    extra={"short": [shortage(item) for item in short]},
                )
            )
            await session.flush()
            await self._idempotency.complete(claim, response, session)
        return response

    @staticmethod
    def _row(
        ctx: CallContext,
        channel: str,
        status: str,
        lines: list[dict[str, Any]],
        *,
        now: datetime,
        ttl_seconds: int,
    ) -> ReservationRow:
        return ReservationRow(
            id=new_id("res"),
            tenant_id=ctx.tenant_id,
            channel=channel,
            status=status,
            lines=lines,
            expires_at=now + timedelta(seconds=ttl_seconds),
            correlation_id=ctx.correlation_id,
            created_at=now,
            updated_at=now,
        )

    async def get(self, ctx: CallContext, reservation_id: str) -> Reservation:
        async with self._db.session(ctx.tenant_id) as session:
            row = await session.get(ReservationRow, reservation_id)
        if row is None or row.status == REFUSED:
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
            if row is None or row.status == REFUSED:
                raise NotFound(f"no reservation {reservation_id}")
            if row.status == "consumed":
                raise Conflict(
                    f"reservation {reservation_id} was consumed by order {row.order_id}",
                    extra={"order_id": row.order_id},
                )
            if row.status != "active":
                return
            row.status = "expired" if row.expires_at <= now else "released"
            row.updated_at = now

    # -- upkeep ---------------------------------------------------------------------------------

    async def expire_due(self) -> int:
        """Mark reservations past their time `expired`; drop holds that no longer count.
        Returns how many reservations expired."""
        now = utcnow()
        async with self._db.session(write=True) as session:
            expired = (
                await session.execute(
                    update(ReservationRow)
                    .where(ReservationRow.status == "active", ReservationRow.expires_at <= now)
                    .values(status="expired", updated_at=now)
                    .returning(ReservationRow.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
            await session.execute(
                delete(StockHold)
                .where(finished_holds(now))
                .execution_options(synchronize_session=False)
            )
        if expired:
            log.info("reservations expired", extra={"count": len(expired)})
        return len(expired)
