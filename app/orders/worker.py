"""The outbox worker: posts accepted orders to the tenant's backend.

Entries are claimed with a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: its single
writer makes the guarded UPDATE atomic), so any number of workers share the outbox and an
entry whose worker died is picked up again when the lease lapses. A live worker keeps its
batch's leases with a heartbeat and re-checks a lease before each delivery and right before
the post (`app.orders.leases`). The backend finds a sale by our order id, so posting again
after a crash never makes a second sale.

Outcomes: delivered → `submitted` (and what the backend says next, e.g. `accepted`); a
business rejection → `rejected` with the backend's reasons; a retryable failure → retried
with exponential backoff and jitter, honouring the backend's Retry-After; exhausted retries
or a permanent fault → dead-lettered (the order stays `received`, flagged, for an operator).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from app.backend_calls import DEFAULT_TIMEOUT
from app.correlation import set_correlation_id
from app.customers.email_locks import EmailLocks
from app.idempotency import IdempotencyStore
from app.orders.cancel import CANCEL, pending_cancel
from app.orders.feed import FeedPoller
from app.orders.handover import find_elsewhere, is_switching
from app.orders.leases import Claim
from app.orders.outcomes import DeliveryOutcomes
from app.orders.sales import Undeliverable, customer_key_for
from app.orders.sales import sale_request as _sale_request
from app.problems import Conflict
from app.settings import WorkerSettings
from app.shield.policy import operation, priority
from app.store.database import Database
from app.store.models import OrderRow, OutboxEntry
from app.store.types import utcnow
from app.telemetry import tracer
from app.tenancy.bindings import BackendResolver, BindingStore
from contracts.errors import BusinessRejection, PermanentBackendError, RetryableBackendError

log = logging.getLogger("gateway.worker")


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
        on_feed_changed: Callable[[str, list[str]], Awaitable[object]] | None = None,
        expire_reservations: Callable[[], Awaitable[int]] | None = None,
        emails: EmailLocks | None = None,
    ) -> None:
        self._bindings = bindings
        self._emails = emails
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
        # Told the tenant and SKUs of each order the backend's feed moved on (shipped...).
        self._feeds = FeedPoller(
            db, backends, self.name, settings.feed_interval, on_changed=on_feed_changed
        )
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
        if not claims:
            return 0
        # One lease covers the whole batch; a heartbeat keeps it while the batch is worked
        # through (shield waits, slow posts), and each delivery re-checks it first.
        held = {claim.entry_id: claim.tenant_id for claim in claims}
        done = asyncio.Event()
        heartbeat = asyncio.create_task(self._heartbeat(held, done), name="outbox-heartbeat")
        try:
            # Posting orders is checkout: the backend shield serves it before catalog browsing.
            with priority("checkout"):
                for claim in claims:
                    await self.deliver(claim)
                    held.pop(claim.entry_id, None)
        finally:
            done.set()
            await heartbeat
        return len(claims)

    async def _heartbeat(self, held: dict[str, str], done: asyncio.Event) -> None:
        interval = max(0.05, self._settings.lease_seconds / 3)
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), interval)
                return
            try:
                await self._extend([(tenant, entry) for entry, tenant in held.items()])
            except Exception:  # a delivery re-checks its lease anyway
                log.warning("could not extend outbox leases", exc_info=True)

    async def deliver(self, claim: Claim) -> None:
        with operation():
            if claim.kind != CANCEL:
                await self._deliver(claim)  # its lease renewed with what it checks first
            elif await self._renew(claim):  # else another worker (or a cancel) has it now
                await self._cancel(claim)

    async def _cancel(self, claim: Claim) -> None:
        """Cancel a posted order in its backend (the channel asked)."""
        set_correlation_id(claim.correlation_id)
        async with self._db.session(claim.tenant_id) as session:
            order = await session.scalar(select(OrderRow).where(OrderRow.id == claim.order_id))
            posting = await session.scalar(
                select(OutboxEntry.id).where(
                    OutboxEntry.subject_id == claim.order_id,
                    OutboxEntry.kind != CANCEL,
                    OutboxEntry.state == "pending",
                    OutboxEntry.lease_expires_at > utcnow(),
                )
            )
        if order is None or order.status == "rejected":
            await self._finish(claim, "done")  # the backend refused the sale: nothing to undo
            return
        if posting is not None:
            # Its post is under way: wait for its outcome, so the backend hears one cancel,
            # after the sale it may create (the wait is not an attempt).
            await self._postpone(claim)
            return
        try:
            backends = await self._backends.for_tenant(claim.tenant_id, fresh=True)
            async with asyncio.timeout(DEFAULT_TIMEOUT * 3):
                receipt = await backends.orders.cancel_order(order.id)
        except BusinessRejection as error:
            await self._cancel_refused(claim, error)
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
        order = await self._still_to_post(claim)
        if order is None:
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
            if not await self._aim(claim, target):
                return  # lost its lease: another worker posts it
            with tracer.start_as_current_span(
                "outbox.deliver",
                attributes={
                    "order_id": claim.order_id,
                    "attempt": claim.attempts,
                    "correlation_id": claim.correlation_id,
                },
            ):
                async with asyncio.timeout(DEFAULT_TIMEOUT * 3):
                    customer_key = await customer_key_for(backends, order, self._emails)
                    sale = _sale_request(order, customer_key)
                    receipt = await backends.orders.submit_order(sale)
        except BusinessRejection as error:
            await self._rejected(claim, error)
        except (RetryableBackendError, TimeoutError, OSError, Conflict) as error:
            # Conflict: the shopper's address is being written by another request right now.
            await self._retry_later(claim, error)
        except (PermanentBackendError, Undeliverable) as error:
            await self._dead_letter(claim, f"{type(error).__name__}: {error}")
        except DBAPIError:
            raise  # our own database failed, not the delivery: the lease lapses, it is retried
        except Exception as error:  # an adapter bug or mapping fault: park it for an operator
            log.exception(
                "unexpected failure delivering an order", extra={"order_id": claim.order_id}
            )
            await self._dead_letter(claim, f"unexpected {type(error).__name__}: {error}")
        else:
            delivered = await self._delivered(
                claim, backends.names["orders"], receipt, customer_key
            )
            if delivered and self._on_delivered is not None:
                await self._on_delivered(
                    claim.tenant_id,
                    sorted({line["sku"] for line in order.lines}),
                    customer_key,
                    order.id,
                )

    async def _still_to_post(self, claim: Claim) -> OrderRow | None:
        """In one transaction: the lease checked and extended, then the order, unless it is
        gone, already delivered by another worker, or cancelled (a cancel pending means: never
        post it now; the backend cancel settles it), which finishes the entry; or unless the
        tenant's backend is being switched, which puts it back to wait. None but for the
        order to post (and nothing written where the lease was lost)."""
        async with self._db.session(claim.tenant_id, write=True) as session:
            if not await self._renew_in(session, claim):
                return None  # its lease lapsed and another worker (or a cancel) has it now
            order = await session.scalar(select(OrderRow).where(OrderRow.id == claim.order_id))
            if (
                order is None
                or order.status != "received"
                or await pending_cancel(session, claim.order_id) is not None
            ):
                await self._take(session, claim, "done")
                return None
            if await is_switching(session):
                await self._postpone_in(session, claim)
                return None
        return order

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
        if (
            self._idempotency is None
            or loop.time() - self._last_prune < self._settings.prune_interval
        ):
            return
        self._last_prune = loop.time()
        removed = await self._idempotency.prune()
        if removed:
            log.info("pruned expired idempotency records", extra={"count": removed})
