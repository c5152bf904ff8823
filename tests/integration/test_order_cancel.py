"""Cancelling an order whose post may have reached the backend, on SQLite and PostgreSQL.

A post that timed out after the Odoo simulator (a real process) created the sale, then waits
for its retry or was dead-lettered; a worker that died after the backend's answer; a post under
way when the cancel arrives; a post that lands after its cancel found nothing. In each case the
channel is answered 202 (the outcome is the backend's to tell), the backend is told to cancel
exactly once, and no live sale remains.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import and_, select, update

from adapters.odoo.client import OdooClient
from adapters.sandbox import tables
from app.orders.worker import OutboxWorker, _sale_request
from app.settings import WorkerSettings
from app.store.models import OrderRow, OutboxEntry
from app.store.types import utcnow
from tests.support.gateway import Gateway, gateway_for_own_workers
from tests.support.odoo import odoo_simulator
from tests.support.orders import (
    bind_odoo,
    cancel,
    entries,
    events,
    odoo_sales,
    order,
    place,
    run_until,
    wait_for,
)

pytestmark = pytest.mark.slow
TENANT, CLIENT = "cxl", "cxl-client"


@pytest.fixture(params=["sqlite", "postgres"])
async def gw(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with gateway_for_own_workers(request.param, tmp_path, TENANT) as gateway:
        yield gateway


def _worker(gw: Gateway, name: str, **settings: Any) -> OutboxWorker:
    # Retries far off: nothing here is retried behind the test's back.
    base = {"embedded": False, "backoff_base": 600.0, "backoff_max": 600.0, "feed_interval": 0.0}
    return OutboxWorker(
        gw.services.db, gw.services.backends, WorkerSettings(**{**base, **settings}), name=name
    )


async def _status(gw: Gateway, client: str, order_id: str) -> str:
    return str((await order(gw, client, order_id))["status"])


async def _sandbox_sale(gw: Gateway, order_id: str) -> str | None:
    async with gw.services.db.engine.connect() as conn:
        return await conn.scalar(
            select(tables.sales.c.state).where(
                and_(tables.sales.c.dataset == TENANT, tables.sales.c.reference == order_id)
            )
        )


@pytest.mark.parametrize("then", ["awaiting its retry", "dead-lettered"])
async def test_a_cancel_after_a_post_timed_out_once_odoo_had_the_sale_cancels_it_there(
    gw: Gateway, then: str
) -> None:
    tenant, client = "cxl-odoo", "cxl-odoo-client"
    async with odoo_simulator() as odoo:
        await bind_odoo(gw, tenant, odoo, timeout=1.0)
        # Odoo creates the sale, then holds the confirmation past our timeout (and then
        # confirms it): the worker sees a time-out, the ERP has a live sale.
        await odoo.control(
            "POST",
            "faults",
            {
                "timeout": {
                    "seconds": 3,
                    "count": 1,
                    "models": ["sale.order"],
                    "methods": ["action_confirm"],
                }
            },
        )
        order_id = await place(gw, client)
        worker = _worker(gw, "w1", max_attempts=1 if then == "dead-lettered" else 5)
        assert await worker.run_once() == 1
        placed = await order(gw, client, order_id)
        assert placed["status"] == "received"
        assert placed["dead_lettered"] is (then == "dead-lettered")

        async def confirmed() -> bool:
            return [s["state"] for s in await odoo_sales(odoo, order_id)] == ["sale"]

        await wait_for(confirmed)

        response = await cancel(gw, client, order_id)
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "received"  # until Odoo says it is cancelled
        again = await cancel(gw, client, order_id)
        assert again.status_code == 202

        async def cancelled() -> bool:
            return await _status(gw, client, order_id) == "cancelled"

        await run_until(worker, cancelled)
        assert [s["state"] for s in await odoo_sales(odoo, order_id)] == ["cancel"]
        final = await order(gw, client, order_id)
        assert final["dead_lettered"] is False
        kinds = [(e.kind, e.state) for e in await entries(gw, tenant, order_id)]
        assert kinds == [("order.submit", "done"), ("order.cancel", "done")]
        trail = [(e["type"], e["cause"]) for e in await events(gw, client, order_id)]
        assert trail[-2:] == [("order.cancel_requested", "channel"), ("order.cancelled", "backend")]
        letters = await gw.http.get(
            "/admin/dead-letters",
            params={"tenant_id": tenant},
            headers=await gw.headers("operator"),
        )
        assert letters.json()["data"] == []
        # The stopped post is never retried: Odoo keeps exactly the one (cancelled) sale.
        await worker.run_once()
        assert len(await odoo_sales(odoo, order_id)) == 1


async def test_a_cancel_after_a_worker_died_past_the_backends_answer_reaches_the_backend(
    gw: Gateway,
) -> None:
    order_id = await place(gw, CLIENT)
    dying = _worker(gw, "dying", lease_seconds=0.3)
    [claim] = await dying.claim(1)
    # What the worker did before it was killed: the backend has the sale; we never heard.
    async with gw.services.db.session(TENANT) as session:
        row = await session.scalar(select(OrderRow).where(OrderRow.id == order_id))
    assert row is not None
    backends = await gw.services.backends.for_tenant(TENANT)
    await backends.orders.submit_order(_sale_request(row, "C00001"))
    assert await _sandbox_sale(gw, order_id) is not None

    async def lapsed() -> bool:
        [entry] = await entries(gw, TENANT, order_id)
        return entry.lease_expires_at is not None and entry.lease_expires_at < utcnow()

    await wait_for(lapsed)
    response = await cancel(gw, CLIENT, order_id)
    assert response.status_code == 202, response.text
    rescuer = _worker(gw, "rescuer")

    async def cancelled() -> bool:
        return await _status(gw, CLIENT, order_id) == "cancelled"

    await run_until(rescuer, cancelled)
    assert await _sandbox_sale(gw, order_id) == "cancelled"
    await dying.deliver(claim)  # a zombie of the killed worker changes nothing
    assert await _status(gw, CLIENT, order_id) == "cancelled"


async def test_a_cancel_while_a_post_is_under_way_tells_odoo_once_after_the_post(
    gw: Gateway,
) -> None:
    tenant, client = "cxl-busy", "cxl-busy-client"
    async with odoo_simulator() as odoo:
        # Timeouts well past the hold below: this post is slow, not failed.
        await bind_odoo(gw, tenant, odoo, timeout=30.0, shield={"timeout": 30.0})
        # Odoo takes 10 s to confirm (ample on a loaded machine): the post is under way
        # while the channel cancels.
        await odoo.control(
            "POST",
            "faults",
            {
                "timeout": {
                    "seconds": 10,
                    "count": 1,
                    "models": ["sale.order"],
                    "methods": ["action_confirm"],
                }
            },
        )
        order_id = await place(gw, client)
        posting, other = _worker(gw, "posting"), _worker(gw, "other")
        post = asyncio.create_task(posting.run_once())

        async def drafted() -> bool:
            return [s["state"] for s in await odoo_sales(odoo, order_id)] == ["draft"]

        await wait_for(drafted)
        response = await cancel(gw, client, order_id)
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "received"
        assert (await cancel(gw, client, order_id)).status_code == 202  # asked twice

        # Another worker takes the cancel, and waits for the post's outcome. The post's
        # task ends a moment after its outcome is written, so the cancel may go through
        # in the same turn: the order of the events, not a snapshot, shows the wait.
        while not post.done():
            await other.run_once()
            await asyncio.sleep(0.05)
        assert await post == 1
        assert await _status(gw, client, order_id) in {"accepted", "cancelled"}

        async def cancelled() -> bool:
            return await _status(gw, client, order_id) == "cancelled"

        await run_until(other, cancelled)
        assert [s["state"] for s in await odoo_sales(odoo, order_id)] == ["cancel"]
        assert [(e.kind, e.state) for e in await entries(gw, tenant, order_id)] == [
            ("order.submit", "done"),
            ("order.cancel", "done"),
        ]
        types = [e["type"] for e in await events(gw, client, order_id)]
        assert types.count("order.cancel_requested") == 1
        assert types.count("order.cancelled") == 1
        assert types.index("order.accepted") < types.index("order.cancelled")
        assert "order.posted_after_cancel" not in types


async def test_a_claimed_post_not_yet_sent_is_never_sent_after_a_cancel(gw: Gateway) -> None:
    order_id = await place(gw, CLIENT)
    posting, other = _worker(gw, "posting"), _worker(gw, "other")
    [claim] = await posting.claim(1)  # claimed: whether it was sent is unknown to the cancel
    response = await cancel(gw, CLIENT, order_id)
    assert response.status_code == 202, response.text
    assert await other.run_once() == 1  # the cancel waits while the claim holds
    assert await _status(gw, CLIENT, order_id) == "received"
    await posting.deliver(claim)  # it sees the cancel and does not post
    assert await _sandbox_sale(gw, order_id) is None

    async def cancelled() -> bool:
        return await _status(gw, CLIENT, order_id) == "cancelled"

    await run_until(other, cancelled)
    trail = await events(gw, CLIENT, order_id)
    assert trail[-1]["detail"] == {"reason": "the backend never had it"}
    assert await _sandbox_sale(gw, order_id) is None
    assert [(e.kind, e.state) for e in await entries(gw, TENANT, order_id)] == [
        ("order.submit", "done"),
        ("order.cancel", "done"),
    ]


async def test_a_cancel_before_any_attempt_is_immediate_and_never_posted(
    gw: Gateway,
) -> None:
    order_id = await place(gw, CLIENT)
    response = await cancel(gw, CLIENT, order_id)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    worker = _worker(gw, "w")
    assert await worker.claim(10) == []  # the submit entry is finished: nothing to claim
    assert await _sandbox_sale(gw, order_id) is None


async def test_a_sale_landing_after_its_cancel_found_nothing_is_cancelled_from_the_feed(
    gw: Gateway,
) -> None:
    tenant, client = "cxl-late", "cxl-late-client"
    async with odoo_simulator() as odoo:
        await bind_odoo(gw, tenant, odoo)
        # The first post fails at Odoo's door: the outcome looks unknown to us.
        await odoo.control(
            "POST",
            "faults",
            {
                "http_error": {
                    "status": 502,
                    "count": 1,
                    "models": ["sale.order"],
                    "methods": ["create"],
                }
            },
        )
        order_id = await place(gw, client)
        worker = _worker(gw, "w")
        assert await worker.run_once() == 1
        assert (await cancel(gw, client, order_id)).status_code == 202

        async def cancelled() -> bool:
            return await _status(gw, client, order_id) == "cancelled"

        await run_until(worker, cancelled)
        trail = await events(gw, client, order_id)
        assert trail[-1]["detail"] == {"reason": "the backend never had it"}

        # ...and then the sale shows up in Odoo after all (a post that was still on its way).
        erp = OdooClient(odoo.url, "demo", "admin", "admin")
        try:
            [partner] = await erp.search_read(
                "res.partner", [["ref", "!=", False]], ["id"], limit=1
            )
            await erp.execute(
                "sale.order", "create", {"partner_id": partner["id"], "client_order_ref": order_id}
            )
        finally:
            await erp.aclose()
        await worker._maybe_read_feeds()
        await worker._maybe_read_feeds()  # read twice: still one cancel

        async def gone() -> bool:
            states = [s["state"] for s in await odoo_sales(odoo, order_id)]
            return states == ["cancel"]

        await run_until(worker, gone)
        await worker._maybe_read_feeds()  # its cancellation shows in the feed: nothing more
        await worker.run_once()
        kinds = [(e.kind, e.state) for e in await entries(gw, tenant, order_id)]
        assert kinds == [
            ("order.submit", "done"),
            ("order.cancel", "done"),
            ("order.cancel", "done"),
        ]
        types = [e["type"] for e in await events(gw, client, order_id)]
        assert types.count("order.late_sale_found") == 1
        assert types[-1] == "order.late_sale_cancelled"
        assert (await order(gw, client, order_id))["status"] == "cancelled"


async def test_a_refused_cancel_of_an_unclear_post_resumes_its_delivery(gw: Gateway) -> None:
    """The backend has the sale and will not cancel it (shipped meanwhile): the order is not
    left `received` forever; its delivery resumes, finds that sale and follows it."""
    order_id = await place(gw, CLIENT)
    worker = _worker(gw, "w")
    [claim] = await worker.claim(1)
    async with gw.services.db.session(TENANT) as session:
        row = await session.scalar(select(OrderRow).where(OrderRow.id == order_id))
    assert row is not None
    backends = await gw.services.backends.for_tenant(TENANT)
    await backends.orders.submit_order(_sale_request(row, "C00001"))  # then the worker died
    sandbox: Any = backends.orders._adapter
    await sandbox.fulfil(order_id, "shipped")
    async with gw.services.db.session(TENANT, write=True) as session:
        await session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id == claim.entry_id)
            .values(lease_expires_at=utcnow())  # its lease lapses
        )
    assert (await cancel(gw, CLIENT, order_id)).status_code == 202

    async def shipped() -> bool:
        return await _status(gw, CLIENT, order_id) == "shipped"

    await run_until(_worker(gw, "rescuer"), shipped)
    types = [e["type"] for e in await events(gw, CLIENT, order_id)]
    assert "order.cancel_refused" in types
    assert await _sandbox_sale(gw, order_id) == "shipped"
