"""Several outbox workers sharing one outbox, on SQLite and on PostgreSQL: every order is
posted exactly once, and a worker that stops mid-delivery loses its lease to another without a
second sale in the backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.sandbox import tables as sandbox_tables
from app.orders.worker import OutboxWorker
from app.settings import WorkerSettings
from app.store.models import OrderEventRow, OrderRow, OutboxEntry
from tests.support import payloads
from tests.support.gateway import Gateway, make_settings, running_gateway
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
