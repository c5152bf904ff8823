"""Orders in flight when a tenant switches backend are posted exactly once, to the right one:
an order whose last attempt reached the old backend (then the worker died) is found there
after the cut-over and never posted to the new one; orders wait while a switch is under way;
orders placed after the cut-over go to the new backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from adapters.sandbox import tables
from app.orders.worker import OutboxWorker, _sale_request
from app.settings import WorkerSettings
from app.store.models import OrderRow, OutboxEntry, TenantMigration
from tests.support import payloads
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.services import create_database, drop_database

pytestmark = pytest.mark.slow
TENANT, CLIENT, CANDIDATE = "handover", "handover-client", "handover:next"


@pytest.fixture(params=["sqlite", "postgres"])
async def gw(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateway]:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
        if request.param == "sqlite"
        else await create_database()
    )
    try:
        async with running_gateway(
            make_settings(url, tmp_path / "var", worker=WorkerSettings(embedded=False))
        ) as gateway:
            await gateway.add_tenant(TENANT)
            await gateway.services.backends.provision("sandbox", {"dataset": CANDIDATE}, {})
            yield gateway
    finally:
        if request.param == "postgres":
            await drop_database(url)


async def _place(gw: Gateway) -> str:
    response = await gw.http.post(
        "/v1/orders",
        json=payloads.order(),
        headers=await gw.headers(CLIENT, **{"Idempotency-Key": payloads.idem()}),
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def _sales(gw: Gateway, reference: str) -> dict[str, int]:
    async with gw.services.db.engine.connect() as conn:
        rows = await conn.execute(
            select(tables.sales.c.dataset, func.count())
            .where(tables.sales.c.reference == reference)
            .group_by(tables.sales.c.dataset)
        )
        return {row[0]: row[1] for row in rows}


async def test_an_order_that_reached_the_old_backend_is_not_posted_to_the_new_one(
    gw: Gateway,
) -> None:
    services = gw.services
    settings = WorkerSettings(embedded=False, lease_seconds=0.3)
    crashed = OutboxWorker(
        services.db, services.backends, settings, bindings=services.bindings, name="crashed"
    )
    order_id = await _place(gw)

    # A worker claims the order, aims at the current backend, posts it there... and dies.
    [claim] = await crashed.claim(10)
    backends = await services.backends.for_tenant(TENANT, fresh=True)
    await crashed._aim(claim, backends.targets["orders"])
    async with services.db.session(TENANT) as session:
        order = await session.scalar(select(OrderRow).where(OrderRow.id == order_id))
    assert order is not None
    await backends.orders.submit_order(_sale_request(order, "C00001"))
    await asyncio.sleep(0.35)  # its lease lapses

    await services.migrations.start(
        TENANT, adapter="sandbox", settings={"dataset": CANDIDATE}, secrets={}
    )
    report = await services.migrations.cutover(TENANT)
    assert report["state"] == "cut_over"

    rescuer = OutboxWorker(
        services.db, services.backends, settings, bindings=services.bindings, name="rescuer"
    )
    assert await rescuer.run_once() == 1
    assert await _sales(gw, order_id) == {TENANT: 1}  # found where it arrived; not posted again
    delivered = await gw.wait_for_status(CLIENT, order_id, {"accepted"})
    assert delivered["backend_reference"].startswith("SO")

    later = await _place(gw)
    assert await rescuer.run_once() == 1
    assert await _sales(gw, later) == {CANDIDATE: 1}


async def test_orders_wait_while_the_switch_is_under_way(gw: Gateway) -> None:
    services = gw.services
    await services.migrations.start(
        TENANT, adapter="sandbox", settings={"dataset": CANDIDATE}, secrets={}
    )
    async with services.db.session(TENANT, write=True) as session:
        await session.execute(update(TenantMigration).values(state="switching"))
    order_id = await _place(gw)
    worker = OutboxWorker(
        services.db,
        services.backends,
        WorkerSettings(embedded=False),
        bindings=services.bindings,
        name="w",
    )
    assert await worker.run_once() == 1  # claimed, and put back
    async with services.db.session(TENANT) as session:
        entry = await session.scalar(select(OutboxEntry).where(OutboxEntry.subject_id == order_id))
    assert entry is not None
    assert entry.state == "pending" and entry.attempts == 0 and entry.lease_owner is None
    assert await _sales(gw, order_id) == {}
