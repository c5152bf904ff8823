"""Several outbox workers sharing one outbox, on SQLite and on PostgreSQL: every order is
posted exactly once; a worker that stops mid-delivery loses its lease to another without a
second sale in the backend, and whatever it records afterwards changes nothing; a worker slow
through its batch keeps the batch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.sandbox import tables as sandbox_tables
from app.customers.email_locks import EmailLocks
from app.orders.leases import Claim
from app.orders.worker import OutboxWorker
from app.settings import WorkerSettings
from app.store.models import OrderEventRow, OrderRow, OutboxEntry
from contracts.backend import SaleReceipt
from contracts.errors import BackendUnavailable, BusinessRejection
from tests.support import payloads
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.odoo import odoo_simulator
from tests.support.orders import bind_odoo, odoo_sales, place, wait_for
from tests.support.services import create_database, drop_database

pytestmark = pytest.mark.slow
CLIENT = "shop-client"


@pytest.fixture(params=["sqlite", "postgres"])
async def quiet_gateway(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateway]:
    """A gateway on a database of its own, with no embedded worker: the test drives workers."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    else:
        url = await create_database()
    worker = WorkerSettings(embedded=False, lease_seconds=0.5, backoff_base=0.05, backoff_max=0.2)
    try:
        async with running_gateway(make_settings(url, tmp_path / "var", worker=worker)) as gw:
            await gw.add_tenant("shop")
            yield gw
    finally:
        if request.param == "postgres":
            await drop_database(url)


async def _place(gw: Gateway, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        response = await gw.http.post(
            "/v1/orders",
            json=payloads.order(),
            headers=await gw.headers(CLIENT, **{"Idempotency-Key": payloads.idem()}),
        )
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids


async def _sales(gw: Gateway) -> int:
    async with gw.services.db.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(sandbox_tables.sales)) or 0)


async def test_three_workers_post_every_order_exactly_once(quiet_gateway: Gateway) -> None:
    gw = quiet_gateway
    ids = await _place(gw, 30)
    settings = WorkerSettings(embedded=False, batch_size=4, lease_seconds=30)
    workers = [
        OutboxWorker(gw.services.db, gw.services.backends, settings, name=f"w{i}") for i in range(3)
    ]

    async def drain(worker: OutboxWorker) -> int:
        handled = 0
        while (count := await worker.run_once()) > 0:
            handled += count
        return handled

    handled = await asyncio.gather(*(drain(worker) for worker in workers))
    assert sum(handled) == 30
    assert await _sales(gw) == 30
    async with gw.services.db.session("shop") as session:
        submitted = await session.scalar(
            select(func.count())
            .select_from(OrderEventRow)
            .where(OrderEventRow.type == "order.submitted")
        )
        statuses = set(
            (await session.scalars(select(OrderRow.status).where(OrderRow.id.in_(ids)))).all()
        )
        pending = await session.scalar(
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.state != "done")
        )
    assert submitted == 30
    assert statuses == {"accepted"}
    assert pending == 0


async def test_a_stalled_worker_loses_its_lease_and_no_sale_is_doubled(
    quiet_gateway: Gateway,
) -> None:
    gw = quiet_gateway
    [order_id] = await _place(gw, 1)
    settings = WorkerSettings(embedded=False, lease_seconds=0.5)
    stalled = OutboxWorker(gw.services.db, gw.services.backends, settings, name="stalled")
    rescuer = OutboxWorker(gw.services.db, gw.services.backends, settings, name="rescuer")

    [claim] = await stalled.claim(10)
    assert await rescuer.claim(10) == []  # leased: nobody else may take it
    await asyncio.sleep(0.6)  # the stalled worker's lease lapses
    [rescued] = await rescuer.claim(10)
    assert rescued.order_id == order_id and rescued.attempts == 2
    await rescuer.deliver(rescued)
    await stalled.deliver(claim)  # the stalled worker wakes up and tries to finish its work

    assert await _sales(gw) == 1
    async with gw.services.db.session("shop") as session:
        types = (
            await session.scalars(
                select(OrderEventRow.type)
                .where(OrderEventRow.order_id == order_id)
                .order_by(OrderEventRow.sequence)
            )
        ).all()
        entry = await session.scalar(select(OutboxEntry).where(OutboxEntry.subject_id == order_id))
    assert list(types) == ["order.received", "order.submitted", "order.accepted"]
    assert entry is not None and entry.state == "done"


async def _trail(gw: Gateway, order_id: str) -> tuple[str, bool, list[str]]:
    async with gw.services.db.session("shop") as session:
        order = await session.scalar(select(OrderRow).where(OrderRow.id == order_id))
        types = (
            await session.scalars(
                select(OrderEventRow.type)
                .where(OrderEventRow.order_id == order_id)
                .order_by(OrderEventRow.sequence)
            )
        ).all()
    assert order is not None
    return order.status, order.dead_lettered, list(types)


def _stale_outcome(worker: OutboxWorker, claim: Claim, outcome: str) -> Awaitable[object]:
    """What a worker that lost its lease mid-post would record when its post came back."""
    if outcome == "dead_letter":
        return worker._dead_letter(claim, "unexpected ValueError: boom")
    if outcome == "retry_later":
        return worker._retry_later(claim, BackendUnavailable("sandbox timed out"))
    if outcome == "rejected":
        return worker._rejected(claim, BusinessRejection("no", reasons=["blocked customer"]))
    receipt = SaleReceipt(
        reference=claim.order_id, backend_reference="STALE-1", status="accepted", external_ids={}
    )
    return worker._delivered(claim, "sandbox", receipt, None)


@pytest.mark.parametrize("outcome", ["dead_letter", "retry_later", "rejected", "delivered"])
async def test_a_stale_worker_changes_nothing_once_its_entry_is_taken(
    quiet_gateway: Gateway, outcome: str
) -> None:
    gw = quiet_gateway
    [order_id] = await _place(gw, 1)
    settings = WorkerSettings(embedded=False, lease_seconds=0.5, max_attempts=1)
    stale = OutboxWorker(gw.services.db, gw.services.backends, settings, name="stale")
    rescuer = OutboxWorker(gw.services.db, gw.services.backends, settings, name="rescuer")
    [claim] = await stale.claim(10)
    deadline = time.monotonic() + 60
    while not (rescued := await rescuer.claim(10)):  # once the stale worker's lease lapses
        assert time.monotonic() < deadline, "the lease never lapsed"
        await asyncio.sleep(0.05)

    # While the rescuer holds the entry...
    await _stale_outcome(stale, claim, outcome)
    assert await _trail(gw, order_id) == ("received", False, ["order.received"])
    # ...and once it has delivered the order.
    await rescuer.deliver(rescued[0])
    delivered = await _trail(gw, order_id)
    assert delivered == (
        "accepted",
        False,
        ["order.received", "order.submitted", "order.accepted"],
    )
    await _stale_outcome(stale, claim, outcome)
    assert await _trail(gw, order_id) == delivered
    async with gw.services.db.session("shop") as session:
        entry = await session.scalar(select(OutboxEntry).where(OutboxEntry.subject_id == order_id))
    assert entry is not None and (entry.state, entry.attempts) == ("done", 2)
    assert await gw.services.dead_letters.find("shop", 10) == []


async def test_a_slow_batch_keeps_its_later_entries_from_another_worker(
    quiet_gateway: Gateway,
) -> None:
    """Each post takes longer than the lease (Odoo holds every confirmation 3 s, the lease is
    2 s): the worker that claimed the batch keeps it, a second worker polling all along gets
    none of it, and every order is posted in one attempt."""
    gw = quiet_gateway
    async with odoo_simulator() as odoo:
        await bind_odoo(gw, "slow", odoo)
        ids = [await place(gw, "slow-client") for _ in range(3)]
        await odoo.control(
            "POST",
            "faults",
            {"timeout": {"seconds": 3, "models": ["sale.order"], "methods": ["action_confirm"]}},
        )
        settings = WorkerSettings(embedded=False, batch_size=3, lease_seconds=2.0)
        first = OutboxWorker(gw.services.db, gw.services.backends, settings, name="first")
        second = OutboxWorker(gw.services.db, gw.services.backends, settings, name="second")
        batch = asyncio.create_task(first.run_once())

        async def claimed_by_first() -> bool:
            async with gw.services.db.session("slow") as session:
                owners = (await session.scalars(select(OutboxEntry.lease_owner))).all()
            return list(owners) == ["first"] * 3

        await wait_for(claimed_by_first)
        taken_by_second = 0
        while not batch.done():
            taken_by_second += await second.run_once()
            await asyncio.sleep(0.1)
        assert await batch == 3
        assert taken_by_second == 0
        async with gw.services.db.session("slow") as session:
            rows = (await session.scalars(select(OutboxEntry))).all()
            statuses = set(
                (await session.scalars(select(OrderRow.status).where(OrderRow.id.in_(ids)))).all()
            )
        assert sorted((row.state, row.attempts) for row in rows) == [("done", 1)] * 3
        assert statuses == {"accepted"}
        for order_id in ids:
            assert [s["state"] for s in await odoo_sales(odoo, order_id)] == ["sale"]


async def test_guest_orders_of_one_shopper_posted_at_once_make_one_customer(
    quiet_gateway: Gateway,
) -> None:
    """Three workers (as three processes: each its own lock registry) post one shopper's guest
    orders at the same moment; the backend ends with one customer for the address. Without the
    address lock the look-up and the create interleave (on SQLite the shopper was created more
    than once when this test ran without it)."""
    gw = quiet_gateway
    email = f"guest-{payloads.idem()[:8]}@example.com"
    for _ in range(6):
        body = payloads.order(customer={"email": email, "first_name": "Ana", "last_name": "Smit"})
        response = await gw.http.post(
            "/v1/orders",
            json=body,
            headers=await gw.headers(CLIENT, **{"Idempotency-Key": payloads.idem()}),
        )
        assert response.status_code == 202, response.text
    settings = WorkerSettings(embedded=False, batch_size=1, lease_seconds=30)
    workers = [
        OutboxWorker(
            gw.services.db,
            gw.services.backends,
            settings,
            name=f"w{i}",
            emails=EmailLocks(gw.services.db),
        )
        for i in range(3)
    ]

    async def drain(worker: OutboxWorker) -> None:
        while await worker.run_once():
            pass

    await asyncio.gather(*(drain(worker) for worker in workers))
    async with gw.services.db.engine.connect() as conn:
        made = await conn.scalar(
            select(func.count())
            .select_from(sandbox_tables.customers)
            .where(sandbox_tables.customers.c.email == email)
        )
    assert made == 1


async def test_a_claim_takes_no_more_than_its_batch(quiet_gateway: Gateway) -> None:
    """On PostgreSQL an UPDATE whose `IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)` is run
    again per row claimed the whole outbox for the first worker to ask (seen: 120 of 120 with
    a batch of 5), leaving every other worker idle and every entry on one lease."""
    gw = quiet_gateway
    await _place(gw, 12)
    settings = WorkerSettings(embedded=False, batch_size=5, lease_seconds=30)
    first, second = (
        OutboxWorker(gw.services.db, gw.services.backends, settings, name=name)
        for name in ("first", "second")
    )
    taken = [len(await first.claim(5)), len(await second.claim(5)), len(await first.claim(5))]
    assert taken == [5, 5, 2]
    assert await second.claim(5) == []
