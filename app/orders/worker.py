"""The outbox worker: posts accepted orders to the tenant's backend.

Entries are claimed with a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: its single
writer makes the guarded UPDATE atomic), so any number of workers share the outbox and an
entry whose worker died is picked up again when the lease lapses. The backend finds a sale by
our order id, so posting again after a crash never makes a second sale.

Outcomes: delivered → `submitted` (and what the backend says next, e.g. `accepted`); a
business rejection → `rejected` with the backend's reasons; a retryable failure → retried
with exponential backoff and jitter, honouring the backend's Retry-After; exhausted retries
or a permanent fault → dead-lettered (the order stays `received`, flagged, for an operator).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta

import msgspec
from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError

from app.backend_calls import DEFAULT_TIMEOUT
from app.correlation import set_correlation_id
from app.idempotency import IdempotencyStore
from app.orders.cancel import CANCEL
from app.orders.feed import FeedPoller
from app.orders.handover import find_elsewhere, is_switching
from app.orders.outcomes import Claim, DeliveryOutcomes
from app.publicids import CUSTOMER, key_of
from app.settings import WorkerSettings
from app.shield.policy import operation, priority
from app.store.database import Database
from app.store.models import OrderRow, OutboxEntry
from app.store.types import utcnow
from app.telemetry import tracer
from app.tenancy.bindings import BackendResolver, BindingStore, TenantBackends
from contracts.backend import CustomerDraft, CustomerQuery, SaleLine, SaleRequest
from contracts.errors import BusinessRejection, PermanentBackendError, RetryableBackendError
from contracts.v1 import Address, Money, OrderTotals

log = logging.getLogger("gateway.worker")


class _Undeliverable(Exception):
    """An order that cannot be turned into a sale (mapping fault): needs an operator."""


class OutboxWorker(DeliveryOutcomes):
    def __init__(
        self,
        db: Database,
        backends: BackendResolver,
        settings: WorkerSettings,
        *,
        idempotency: IdempotencyStore | None = None,
        name: str | None = None,
        bindings: BindingStore | None = None,
        on_delivered: Callable[[str, list[str], str, str], Awaitable[object]] | None = None,
        expire_reservations: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self._bindings = bindings
        # Marks reservations past their time (they stopped holding stock at expiry already).
        self._expire_reservations = expire_reservations
        self._last_expiry = 0.0
        # Told the tenant, SKUs, customer and id of each delivered order: the backend's stock
        # has moved, and it may have kept the order's address on its customer.
        self._on_delivered = on_delivered
        self._db = db
        self._backends = backends
        self._settings = settings
        self._idempotency = idempotency
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = asyncio.Event()
        self._feeds = FeedPoller(db, backends, self.name, settings.feed_interval)
        self._last_feed = 0.0
        self._last_prune = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        log.info("outbox worker started", extra={"worker": self.name})
        failures = 0
        while not stop.is_set():
            try:
                handled = await self.run_once()
                await self._maybe_prune()
                await self._maybe_read_feeds()
                failures = 0
            except Exception:  # the loop must survive anything; the entry's lease lapses
                failures += 1
                log.exception("outbox worker cycle failed", extra={"in_a_row": failures})
                handled = 0
            if handled:
                continue
            # Poll; after failures in a row (our database is down, say), back off up to 5 s.
            pause = min(5.0, self._settings.poll_interval * 2 ** min(failures, 10))
            self._wake.clear()
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=pause, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def run_once(self) -> int:
        claims = await self.claim(self._settings.batch_size)
        # Posting orders is checkout: the backend shield serves it before catalog browsing.
        with priority("checkout"):
            for claim in claims:
                await self.deliver(claim)
        return len(claims)

    async def claim(self, limit: int) -> list[Claim]:
        now = utcnow()
        due = (
            select(OutboxEntry.id)
            .where(
                OutboxEntry.state == "pending",
                OutboxEntry.available_at <= now,
                or_(OutboxEntry.lease_expires_at.is_(None), OutboxEntry.lease_expires_at < now),
            )
            .order_by(OutboxEntry.available_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            update(OutboxEntry)
            .where(OutboxEntry.id.in_(due))
            .where(or_(OutboxEntry.lease_expires_at.is_(None), OutboxEntry.lease_expires_at < now))
            .values(
                lease_owner=self.name,
                lease_expires_at=now + timedelta(seconds=self._settings.lease_seconds),
                attempts=OutboxEntry.attempts + 1,
                updated_at=now,
            )
            .returning(
                OutboxEntry.id,
                OutboxEntry.tenant_id,
                OutboxEntry.subject_id,
                OutboxEntry.attempts,
                OutboxEntry.correlation_id,
                OutboxEntry.last_target,
                OutboxEntry.kind,
            )
            .execution_options(synchronize_session=False)
        )
        async with self._db.session(write=True) as session:
            rows = (await session.execute(statement)).all()
        return [Claim(*row) for row in rows]

    async def deliver(self, claim: Claim) -> None:
        with operation():
            if claim.kind == CANCEL:
                await self._cancel(claim)
            else:
                await self._deliver(claim)

    async def _cancel(self, claim: Claim) -> None:
        """Cancel a posted order in its backend (the channel asked)."""
        set_correlation_id(claim.correlation_id)
        async with self._db.session(claim.tenant_id) as session:
            order = await session.scalar(select(OrderRow).where(OrderRow.id == claim.order_id))
        if order is None:
            await self._finish(claim, "done")
            return
        try:
            backends = await self._backends.for_tenant(claim.tenant_id, fresh=True)
            async with asyncio.timeout(DEFAULT_TIMEOUT * 3):
                receipt = await backends.orders.cancel_order(order.id)
        except BusinessRejection as error:
            await self._noted(
                claim, "order.cancel_refused", {"reasons": error.reasons, "backend": error.backend}
            )
        except (RetryableBackendError, TimeoutError, OSError) as error:
            await self._retry_later(claim, error)
        except DBAPIError:
            raise  # our own database failed, not the delivery: the lease lapses, it is retried
        except Exception as error:  # permanent or unexpected: an operator decides
            log.exception("cancelling in the backend failed", extra={"order_id": claim.order_id})
            await self._dead_letter(claim, f"{type(error).__name__}: {error}")
        else:
            await self._cancelled(claim, receipt)

    async def _deliver(self, claim: Claim) -> None:
        set_correlation_id(claim.correlation_id)
        async with self._db.session(claim.tenant_id) as session:
            order = await session.scalar(select(OrderRow).where(OrderRow.id == claim.order_id))
        if order is None or order.status != "received":
            await self._finish(claim, "done")  # cancelled, or already delivered by another worker
            return
        if await is_switching(self._db, claim.tenant_id):
            await self._postpone(claim)  # the tenant's backend is being switched: wait
            return
        try:
            # Fresh bindings: never post to a backend a cut-over has just replaced.
            backends = await self._backends.for_tenant(claim.tenant_id, fresh=True)
            target = backends.targets["orders"]
            if claim.last_target and claim.last_target != target and self._bindings is not None:
                found = await find_elsewhere(
                    self._db,
                    self._bindings,
                    self._backends,
                    claim.tenant_id,
                    target=claim.last_target,
                    reference=order.id,
                )
                if found is not None:  # it reached the previous backend: that is where it lives
                    await self._delivered(claim, found[0], found[1], None)
                    return
            await self._aim(claim, target)
            with tracer.start_as_current_span(
                "outbox.deliver",
                attributes={
                    "order_id": claim.order_id,
                    "attempt": claim.attempts,
                    "correlation_id": claim.correlation_id,
                },
            ):
                async with asyncio.timeout(DEFAULT_TIMEOUT * 3):
                    customer_key = await self._customer_key(backends, order)
                    sale = _sale_request(order, customer_key)
                    receipt = await backends.orders.submit_order(sale)
        except BusinessRejection as error:
            await self._rejected(claim, error)
        except (RetryableBackendError, TimeoutError, OSError) as error:
            await self._retry_later(claim, error)
        except (PermanentBackendError, _Undeliverable) as error:
            await self._dead_letter(claim, f"{type(error).__name__}: {error}")
        except DBAPIError:
            raise  # our own database failed, not the delivery: the lease lapses, it is retried
        except Exception as error:  # an adapter bug or mapping fault: park it for an operator
            log.exception(
                "unexpected failure delivering an order", extra={"order_id": claim.order_id}
            )
            await self._dead_letter(claim, f"unexpected {type(error).__name__}: {error}")
        else:
            await self._delivered(claim, backends.names["orders"], receipt, customer_key)
            if self._on_delivered is not None:
                await self._on_delivered(
                    claim.tenant_id,
                    sorted({line["sku"] for line in order.lines}),
                    customer_key,
                    order.id,
                )

    async def _customer_key(self, backends: TenantBackends, order: OrderRow) -> str:
        customer = order.customer
        if customer.get("id"):
            key = key_of(CUSTOMER, customer["id"])
            if key is None:
                raise _Undeliverable(f"customer id {customer['id']} is not ours")
            return key
        email = customer.get("email")
        if not email:
            raise _Undeliverable("order has neither a customer id nor an e-mail")
        page = await backends.customers.list_customers(CustomerQuery(email=email, limit=1))
        if page.items:
            return page.items[0].key
        address = msgspec.convert(order.shipping_address, Address)
        record = await backends.customers.create_customer(
            CustomerDraft(
                # Derived from the order id: a retried post finds the customer it created.
                key=new_customer_key_for(order.id),
                email=email,
                first_name=customer.get("first_name") or address.first_name,
                last_name=customer.get("last_name") or address.last_name,
                phone=customer.get("phone"),
                addresses=[address],
                marketing_consent=False,
            )
        )
        return record.key

    async def _maybe_read_feeds(self) -> None:
        """Move orders along with what the backends report (shipped, cancelled...)."""
        now = asyncio.get_running_loop().time()
        if now - self._last_feed < self._settings.feed_interval:
            return
        self._last_feed = now
        applied = await self._feeds.poll_all()
        if applied:
            log.info("applied backend order changes", extra={"count": applied})

    async def _maybe_prune(self) -> None:
        loop = asyncio.get_running_loop()
        if self._expire_reservations is not None and loop.time() - self._last_expiry >= 30:
            self._last_expiry = loop.time()
            await self._expire_reservations()
        if self._idempotency is None or loop.time() - self._last_prune < 3600:
            return
        self._last_prune = loop.time()
        removed = await self._idempotency.prune()
        if removed:
            log.info("pruned expired idempotency records", extra={"count": removed})


def new_customer_key_for(order_id: str) -> str:
    """The customer number a guest order creates: stable per order, so retries reuse it."""
    return "GW-" + order_id.split("_", 1)[-1].upper()


def _sale_request(order: OrderRow, customer_key: str) -> SaleRequest:
    return SaleRequest(
        reference=order.id,
        channel=order.channel,
        external_reference=order.external_reference,
        customer_key=customer_key,
        lines=[
            SaleLine(
                sku=line["sku"],
                quantity=line["quantity"],
                unit_price=msgspec.convert(line["unit_price"], Money),
            )
            for line in order.lines
        ],
        shipping_address=msgspec.convert(order.shipping_address, Address),
        billing_address=msgspec.convert(order.billing_address, Address)
        if order.billing_address
        else None,
        totals=msgspec.convert(order.totals, OrderTotals),
        placed_at=order.placed_at,
    )
