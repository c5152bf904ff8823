"""Order intake: validate a channel's order, then store it, its `received` event, its outbox
entry and the idempotency record in one transaction. The ERP is not called on this path
beyond best-effort checks (SKUs, customer): its slowness or outage never fails intake."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
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
from app.orders.events import record_note, record_received
from app.orders.views import to_order
from app.problems import (
    BackendUnavailableError,
    Conflict,
    FieldError,
    InvalidRequest,
    NotFound,
    Unprocessable,
)
from app.shield.policy import priority
from app.store.database import Database
from app.store.ids import new_id
from app.store.models import OrderRow, OutboxEntry
from app.tenancy.tenants import TenantDirectory
from contracts.v1 import Money, Order, OrderCreate, OrderLine, OrderTotals

log = logging.getLogger("gateway.orders")

SUBMIT = "order.submit"


# Amounts are decimal strings of at most 15 integer digits (contracts.v1.common.AmountStr).
MAX_AMOUNT = Decimal(10) ** 15
EARLIEST_PLACED_AT = datetime(2000, 1, 1, tzinfo=UTC)
PLACED_AT_LEEWAY = timedelta(days=1)


def _bounded(value: Decimal, field: str) -> Decimal:
    if abs(value) >= MAX_AMOUNT:
        raise Unprocessable(
            f"{field} is too large", errors=[FieldError(field, "amounts must stay below 10^15")]
        )
    return value


def check_placed_at(placed_at: datetime) -> datetime:
    """`placed_at` in UTC, within 2000-01-01 .. now + 1 day."""
    problem = InvalidRequest(
        "placed_at is out of range",
        errors=[
            FieldError("placed_at", "must be an RFC 3339 time between 2000-01-01 and tomorrow")
        ],
    )
    if placed_at.tzinfo is None:
        raise InvalidRequest(
            "placed_at needs a UTC offset",
            errors=[FieldError("placed_at", "RFC 3339 with offset, e.g. Z")],
        )
    try:
        value = placed_at.astimezone(UTC)
    except OverflowError:
        raise problem from None
    if not EARLIEST_PLACED_AT <= value <= datetime.now(UTC) + PLACED_AT_LEEWAY:
        raise problem
    return value


def _minor_units_errors(money: Money | None, field: str) -> list[FieldError]:
    if money is None or money.fits_currency():
        return []
    return [
        FieldError(
            f"{field}.amount",
            f"{money.currency} has {money.minor_units} decimal places; {money.amount} has more",
        )
    ]


def compute_lines(data: OrderCreate) -> tuple[list[OrderLine], str]:
    currencies = {line.unit_price.currency for line in data.lines}
    if len(currencies) != 1:
        raise Unprocessable(
            "all lines of an order must be priced in one currency",
            errors=[FieldError("lines", "mixed currencies: " + ", ".join(sorted(currencies)))],
        )
    currency = currencies.pop()
    errors = [
        error
        for index, line in enumerate(data.lines)
        for error in _minor_units_errors(line.unit_price, f"lines[{index}].unit_price")
    ]
    if errors:
        raise Unprocessable("a price has more decimals than its currency", errors=errors)
    lines = [
        OrderLine(
            sku=line.sku,
            quantity=line.quantity,
            unit_price=line.unit_price,
            line_total=Money.of(
                _bounded(line.unit_price.value * line.quantity, f"lines[{index}].unit_price"),
                currency,
            ),
        )
        for index, line in enumerate(data.lines)
    ]
    return lines, currency


TOTALS_FIELDS = ("subtotal", "shipping", "tax", "discount", "total")


def compute_totals(data: OrderCreate, lines: list[OrderLine], currency: str) -> OrderTotals:
    """The totals sent, checked against the lines, or computed from them. `total` is
    `subtotal + shipping - discount`, plus `tax` where prices exclude it (either is taken)."""
    subtotal = _bounded(sum((line.line_total.value for line in lines), Decimal(0)), "lines")
    if data.totals is None:
        money = Money.of(subtotal, currency)
        return OrderTotals(subtotal=money, total=money)
    totals = data.totals
    given = {name: getattr(totals, name) for name in TOTALS_FIELDS}
    errors = [
        FieldError(f"totals.{name}", f"must be in {currency}, like the lines")
        for name, money in given.items()
        if money is not None and money.currency != currency
    ]
    if errors:
        raise Unprocessable("totals must be in the currency of the lines", errors=errors)
    errors = [
        error
        for name, money in given.items()
        for error in _minor_units_errors(money, f"totals.{name}")
    ]
    errors += [
        FieldError(f"totals.{name}", "must not be negative")
        for name, money in given.items()
        if money is not None and money.value < 0
    ]
    if errors:
        raise Unprocessable("totals are not valid amounts", errors=errors)
    value = {
        name: money.value if money is not None else Decimal(0) for name, money in given.items()
    }
    if value["subtotal"] != subtotal:
        errors.append(
            FieldError(
                "totals.subtotal",
                f"must be the sum of the line totals, {Money.of(subtotal, currency).amount}",
            )
        )
    without_tax = value["subtotal"] + value["shipping"] - value["discount"]
    if value["total"] not in (without_tax, without_tax + value["tax"]):
        errors.append(
            FieldError(
                "totals.total",
                "must be subtotal + shipping - discount (+ tax where prices exclude it)",
            )
        )
    if errors:
        raise Unprocessable("totals do not add up", errors=errors)
    return totals


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
        try:
            async with self._db.session(ctx.tenant_id, write=True) as session:
                # The key first: claimed with the order, in this transaction (a repeat of a
                # request that finished replays its answer; one still running is 409).
                replay = await self._idempotency.claim_in(session, claim)
                if replay is not None:
                    return replay
                order_lines = [(line.sku, line.quantity) for line in lines]
                skus = sorted({line.sku for line in lines})
                if data.reservation_id is not None:
                    await self._ledger.consume(
                        session,
                        ctx,
                        reservation_id=data.reservation_id,
                        order_id=order.id,
                        channel=data.channel,
                        skus=skus,
                    )
                session.add(order)
                # One flush inserts the order before its event (the unit of work follows the
                # foreign key), with the event count already set: no UPDATE after the INSERT.
                record_received(session, order, {"unverified": unverified} if unverified else None)
                session.add_all(self._ledger.holds(ctx, order.id, order_lines))
                session.add(
                    OutboxEntry(
                        id=new_id("obx"),
                        tenant_id=ctx.tenant_id,
                        kind=SUBMIT,
                        subject_id=order.id,
                        state="pending",
                        correlation_id=ctx.correlation_id,
                    )
                )
                await session.flush()
                response = render(to_order(order))
                await self._idempotency.complete(claim, response, session)
                # Last, under the SKUs' locks until the commit: could the channel promise it?
                # If not, the order is taken all the same (the customer has paid), noted.
                short = await self._ledger.shortages(
                    session,
                    ctx,
                    order_id=order.id,
                    channel=data.channel,
                    lines=order_lines,
                    stock=stock,
                )
                if short:
                    record_note(
                        session,
                        order,
                        "order.oversold",
                        cause="channel",
                        correlation_id=ctx.correlation_id,
                        detail={"lines": [shortage(item) for item in short]},
                    )
                    await session.flush()
                    response = render(to_order(order))
                    await self._idempotency.complete(claim, response, session)
        except IntegrityError:
            existing = await self._find_by_reference(ctx, data.channel, data.external_reference)
            if existing is None:
                raise
            raise Conflict(
                f"order {data.external_reference} of channel {data.channel} "
                f"was already received as {existing}",
                extra={"existing_id": existing},
            ) from None
        self._on_accepted()
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
