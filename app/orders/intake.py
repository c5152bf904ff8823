"""Order intake: validate a channel's order (app.orders.validation), then store it, its
`received` event, its holds, its outbox entry and the idempotency record in one transaction,
shared with the other orders this process is taking at the moment (app.orders.batch). The ERP
is not called on this path beyond best-effort checks (SKUs, customer, stock, all cached): its
slowness or outage never fails intake."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.catalog.service import CatalogService
from app.context import CallContext
from app.customers.service import CustomerService
from app.idempotency import IdempotencyClaim, IdempotencyStore, StoredResponse
from app.inventory.holds import shortage
from app.inventory.reservations import StockLedger
from app.orders.batch import IntakeBatcher, Taken, outbox_entry
from app.orders.events import record_note, record_received
from app.orders.validation import check_placed_at, compute_lines, compute_totals
from app.orders.views import to_order
from app.problems import (
    BackendUnavailableError,
    Conflict,
    FieldError,
    NotFound,
    Unprocessable,
)
from app.shield.policy import priority
from app.store.database import Database
from app.store.ids import new_id
from app.store.models import OrderRow
from app.tenancy.tenants import TenantDirectory
from contracts.v1 import Order, OrderCreate

log = logging.getLogger("gateway.orders")

SUBMIT = "order.submit"


class OrderIntake:
    def __init__(
        self,
        db: Database,
        *,
        catalog: CatalogService,
        customers: CustomerService,
        idempotency: IdempotencyStore,
        tenants: TenantDirectory,
        ledger: StockLedger,
        on_accepted: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._tenants = tenants
        self._ledger = ledger
        self._catalog = catalog
        self._customers = customers
        self._idempotency = idempotency
        self._on_accepted = on_accepted
        self._batcher = IntakeBatcher(db, idempotency, ledger, self._store_one)

    async def accept(
        self,
        ctx: CallContext,
        data: OrderCreate,
        claim: IdempotencyClaim,
        render: Callable[[Order], StoredResponse],
    ) -> StoredResponse:
        """Validate and store the order; returns the response `render` made, which is also
        what a replay of the same key will get."""
        placed_at = check_placed_at(data.placed_at)
        lines, currency = compute_lines(data)
        totals = compute_totals(data, lines, currency)
        await self._check_channel(ctx, data.channel)
        unverified: list[str] = []
        # Validating an order is checkout, never browsing; but a channel is waiting, and an
        # order is accepted unverified rather than held up by a busy or broken backend.
        with priority("checkout", patience=1.0):
            customer = await self._resolve_customer(ctx, data, unverified)
            await self._check_skus(ctx, data, unverified)
            stock = await self._ledger.stock_or_none(ctx, sorted({line.sku for line in lines}))
            if stock is None:
                unverified.append("stock")

        order = OrderRow(
            id=new_id("ord"),
            tenant_id=ctx.tenant_id,
            status="received",
            channel=data.channel,
            external_reference=data.external_reference,
            customer=customer,
            lines=msgspec.to_builtins(lines),
            shipping_address=msgspec.to_builtins(data.shipping_address),
            billing_address=msgspec.to_builtins(data.billing_address)
            if data.billing_address
            else None,
            totals=msgspec.to_builtins(totals),
            reservation_id=data.reservation_id,
            placed_at=placed_at,
            external_ids={},
            dead_lettered=False,
            correlation_id=ctx.correlation_id,
            event_count=0,
        )
        item = Taken(
            ctx=ctx,
            claim=claim,
            order=order,
            received={"unverified": unverified} if unverified else None,
            lines=[(line.sku, line.quantity) for line in lines],
            stock=stock,
            render=render,
        )
        # An order citing a reservation is taken alone (it must first consume it); the
        # others are stored with whatever else this process is taking meanwhile.
        if data.reservation_id is not None:
            response = await self._store_one(item)
        else:
            response = await self._batcher.store(item)
        self._on_accepted()
        return response

    async def _store_one(self, item: Taken) -> StoredResponse:
        """Store one order in a transaction of its own."""
        ctx, order, claim = item.ctx, item.order, item.claim
        try:
            async with self._db.session(ctx.tenant_id, write=True) as session:
                # The key first: claimed with the order, in this transaction (a repeat of a
                # request that finished replays its answer; one still running is 409).
                replay = await self._idempotency.claim_in(session, claim)
                if replay is not None:
                    return replay
                skus = sorted({sku for sku, _ in item.lines})
                if order.reservation_id is not None:
                    await self._ledger.orders.consume(
                        session,
                        ctx,
                        reservation_id=order.reservation_id,
                        order_id=order.id,
                        channel=order.channel,
                        skus=skus,
                    )
                session.add(order)
                # One flush inserts the order before its event (the unit of work follows the
                # foreign key), with the event count already set: no UPDATE after the INSERT.
                record_received(session, order, item.received)
                session.add_all(self._ledger.orders.holds(ctx, order.id, item.lines))
                session.add(outbox_entry(ctx, order.id))
                await session.flush()
                response = item.render(to_order(order))
                await self._idempotency.complete(claim, response, session)
                # Last, under the SKUs' locks until the commit: could the channel promise it?
                # If not, the order is taken all the same (the customer has paid), noted.
                short = await self._ledger.orders.shortages(
                    session,
                    ctx,
                    order_id=order.id,
                    channel=order.channel,
                    lines=item.lines,
                    stock=item.stock,
                )
                if short:
                    record_note(
                        session,
                        order,
                        "order.oversold",
                        cause="channel",
                        correlation_id=ctx.correlation_id,
                        detail={"lines": [shortage(s) for s in short]},
                    )
                    await session.flush()
                    response = item.render(to_order(order))
                    await self._idempotency.complete(claim, response, session)
        except IntegrityError:
            existing = await self._find_by_reference(ctx, order.channel, order.external_reference)
            if existing is None:
                raise
            raise Conflict(
                f"order {order.external_reference} of channel {order.channel} "
                f"was already received as {existing}",
                extra={"existing_id": existing},
            ) from None
        return response

    async def _check_channel(self, ctx: CallContext, channel: str) -> None:
        channels = await self._tenants.channels(ctx.tenant_id)
        if channel not in channels:
            raise Unprocessable(
                f"unknown channel {channel!r}",
                errors=[FieldError("channel", "must be one of: " + ", ".join(channels))],
            )

    async def _resolve_customer(
        self, ctx: CallContext, data: OrderCreate, unverified: list[str]
    ) -> dict[str, Any]:
        ref = data.customer
        snapshot: dict[str, Any] = {
            "id": ref.id,
            "email": ref.email,
            "first_name": ref.first_name,
            "last_name": ref.last_name,
            "phone": ref.phone,
        }
        if ref.id is None:
            return snapshot  # matched by e-mail, or created, when the order is posted
        try:
            customer = await self._customers.get_customer(ctx, ref.id)
        except NotFound:
            raise Unprocessable(
                f"no customer {ref.id}", errors=[FieldError("customer.id", "unknown customer")]
            ) from None
        except BackendUnavailableError:
            unverified.append("customer")
            return snapshot
        snapshot.update(
            email=customer.email,
            first_name=customer.first_name,
            last_name=customer.last_name,
            phone=ref.phone or customer.phone,
        )
        return snapshot

    async def _check_skus(self, ctx: CallContext, data: OrderCreate, unverified: list[str]) -> None:
        skus = list(dict.fromkeys(line.sku for line in data.lines))
        try:
            unknown = await self._catalog.unknown_skus(ctx, skus)
        except BackendUnavailableError:
            unverified.append("skus")
            return
        if unknown:
            raise Unprocessable(
                "unknown SKUs: " + ", ".join(unknown),
                errors=[
                    FieldError(f"lines[{index}].sku", f"unknown SKU {line.sku}")
                    for index, line in enumerate(data.lines)
                    if line.sku in unknown
                ],
            )

    async def _find_by_reference(
        self, ctx: CallContext, channel: str, reference: str
    ) -> str | None:
        async with self._db.session(ctx.tenant_id) as session:
            return await session.scalar(
                select(OrderRow.id).where(
                    OrderRow.channel == channel, OrderRow.external_reference == reference
                )
            )
