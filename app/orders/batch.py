"""Group commit for order intake: the orders one process has validated while its previous
commit was under way are stored together, in one transaction with one multi-row INSERT per
table, and each is answered (202) only once that transaction has committed.

Nothing is weakened by taking orders together: each order's key is claimed in the same
transaction (a PostgreSQL advisory try-lock per key, so a repeat on any replica is still 409
while in flight), the order, its `received` event, its holds, its outbox entry and its stored
answer commit together or not at all, and the oversold check runs under the locks of every
SKU the batch takes (sorted, taken once), adding up the batch's own orders in turn. An order
the batch cannot settle alone (its key was seen before: a replay, another body, a lapsed
claim) is handed back to the one-order path, as is every order of a batch whose commit
failed on a constraint (a duplicate external reference): one bad order never fails others.
A database failure fails the batch, each request answering 503; none was acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import CallContext
from app.idempotency import IdempotencyClaim, IdempotencyStore, StoredResponse
from app.inventory.holds import Short, shortage
from app.inventory.levels import SkuStock
from app.inventory.reservations import StockLedger
from app.orders.events import record_note, record_received
from app.orders.views import to_order
from app.problems import IdempotencyInFlight
from app.store.database import Database
from app.store.ids import new_id
from app.store.models import IdempotencyRecord, OrderRow, OutboxEntry
from app.store.types import utcnow
from contracts.v1 import Order

SUBMIT = "order.submit"

log = logging.getLogger("gateway.orders")
MAX_BATCH = 64


@dataclass(slots=True)
class Taken:
    """One validated order waiting for its commit."""

    ctx: CallContext
    claim: IdempotencyClaim
    order: OrderRow
    received: dict[str, Any] | None  # the detail of its `received` event
    lines: list[tuple[str, int]]
    stock: dict[str, SkuStock] | None
    render: Callable[[Order], StoredResponse]
    short: list[Short] = field(default_factory=list)
    done: asyncio.Future[StoredResponse] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    response: StoredResponse | None = None


class IntakeBatcher:
    def __init__(
        self,
        db: Database,
        idempotency: IdempotencyStore,
        ledger: StockLedger,
        one_by_one: Callable[[Taken], Awaitable[StoredResponse]],
    ) -> None:
        self._db = db
        self._idempotency = idempotency
        self._ledger = ledger
        self._one_by_one = one_by_one
        self._queue: list[Taken] = []
        self._flushing: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def store(self, item: Taken) -> StoredResponse:
        self._queue.append(item)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._drain())
        return await asyncio.shield(item.done)

    async def _drain(self) -> None:
        while self._queue:
            tenant = self._queue[0].ctx.tenant_id
            batch = [item for item in self._queue if item.ctx.tenant_id == tenant][:MAX_BATCH]
            taken = {id(item) for item in batch}
            self._queue = [item for item in self._queue if id(item) not in taken]
            try:
                await self._settle(tenant, batch)
            except BaseException as error:  # never leave a request waiting for ever
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(error)
                if not isinstance(error, Exception):
                    raise

    async def _settle(self, tenant: str, batch: list[Taken]) -> None:
        singles: list[Taken] = []
        try:
            async with self._db.session(tenant, write=True) as session:
                batch, singles = await self._claim(session, batch)
                if batch:
                    await self._write(session, tenant, batch)
        except IntegrityError:
            singles, batch = singles + batch, []
        except BaseException as error:
            for item in (*batch, *singles):
                if not item.done.done():
                    item.done.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for item in batch:
            if not item.done.done() and item.response is not None:
                item.done.set_result(item.response)
        for item in singles:
            task = asyncio.create_task(self._alone(item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _alone(self, item: Taken) -> None:
        try:
            result = await self._one_by_one(item)
        except BaseException as error:
            if not item.done.done():
                item.done.set_exception(error)
            if not isinstance(error, Exception):
                raise
        else:
            if not item.done.done():
                item.done.set_result(result)

    async def _claim(
        self, session: AsyncSession, batch: list[Taken]
    ) -> tuple[list[Taken], list[Taken]]:
        """The orders whose keys are new and now held by this transaction, and those to take
        one by one (a key seen before). A key in flight elsewhere (or twice here) is 409."""
        seen: set[tuple[str, str]] = set()
        fresh: list[Taken] = []
        for item in batch:
            pair = (item.claim.client_id, item.claim.key)
            if pair in seen:
                item.done.set_exception(_in_flight())
                continue
            seen.add(pair)
            fresh.append(item)
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            names = [f"idem:{i.claim.tenant_id}:{i.claim.client_id}:{i.claim.key}" for i in fresh]
            rows = await session.execute(
                text(
                    "SELECT n, pg_try_advisory_xact_lock(hashtextextended(n, 0))"
                    " FROM unnest(CAST(:names AS text[])) AS n"
                ),
                {"names": names},
            )
            locked = {lock_name for lock_name, ok in rows if ok}
            for item, lock_name in zip(list(fresh), names, strict=True):
                if lock_name not in locked:
                    item.done.set_exception(_in_flight())
                    fresh.remove(item)
        if not fresh:
            return [], []
        known = {
            (client_id, key)
            for client_id, key in (
                await session.execute(
                    select(IdempotencyRecord.client_id, IdempotencyRecord.key).where(
                        IdempotencyRecord.key.in_(sorted({i.claim.key for i in fresh})),
                        IdempotencyRecord.client_id.in_(sorted({i.claim.client_id for i in fresh})),
                    )
                )
            )
        }
        batch = [i for i in fresh if (i.claim.client_id, i.claim.key) not in known]
        singles = [i for i in fresh if (i.claim.client_id, i.claim.key) in known]
        return batch, singles

    async def _write(self, session: AsyncSession, tenant: str, batch: list[Taken]) -> None:
        shortages = await self._ledger.orders.shortages_of(
            session, batch[0].ctx, [(i.order.channel, i.lines, i.stock) for i in batch]
        )
        for item, short in zip(batch, shortages, strict=True):
            item.short = short
        for item in batch:
            order = item.order
            session.add(order)
            record_received(session, order, item.received)
            if item.short:
                record_note(
                    session,
                    order,
                    "order.oversold",
                    cause="channel",
                    correlation_id=item.ctx.correlation_id,
                    detail={"lines": [shortage(short) for short in item.short]},
                )
            session.add_all(self._ledger.orders.holds(item.ctx, order.id, item.lines))
            session.add(outbox_entry(item.ctx, order.id))
        # One flush: one multi-row INSERT per table, orders before what refers to them.
        await session.flush()
        now = utcnow()
        for item in batch:
            item.response = item.render(to_order(item.order))
        await session.execute(
            insert(IdempotencyRecord),
            [
                self._idempotency.completed_values(item.claim, item.response, now)
                for item in batch
                if item.response is not None
            ],
        )
        log.debug("orders stored together", extra={"tenant": tenant, "count": len(batch)})


def outbox_entry(ctx: CallContext, order_id: str) -> OutboxEntry:
    return OutboxEntry(
        id=new_id("obx"),
        tenant_id=ctx.tenant_id,
        kind=SUBMIT,
        subject_id=order_id,
        state="pending",
        correlation_id=ctx.correlation_id,
    )


def _in_flight() -> IdempotencyInFlight:
    return IdempotencyInFlight(
        "a request with this Idempotency-Key is still being processed; retry shortly",
        headers={"Retry-After": "1"},
    )
