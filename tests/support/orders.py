"""Driving orders through a test gateway: place one, read it and its events, bind a tenant to
the Odoo simulator, run a worker until a condition holds (with a generous deadline, never a
fixed sleep), and read the simulator's sale orders for one of our orders."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from adapters.odoo.client import OdooClient
from app.orders.worker import OutboxWorker
from app.store.models import OutboxEntry
from tests.support import payloads
from tests.support.gateway import Gateway
from tests.support.odoo import Simulator


async def place(gw: Gateway, client: str, **overrides: Any) -> str:
    response = await gw.http.post(
        "/v1/orders",
        json=payloads.order(**overrides),
        headers=await gw.headers(client, **{"Idempotency-Key": payloads.idem()}),
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def order(gw: Gateway, client: str, order_id: str) -> dict[str, Any]:
    response = await gw.http.get(f"/v1/orders/{order_id}", headers=await gw.headers(client))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def events(gw: Gateway, client: str, order_id: str) -> list[dict[str, Any]]:
    response = await gw.http.get(f"/v1/orders/{order_id}/events", headers=await gw.headers(client))
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def cancel(gw: Gateway, client: str, order_id: str) -> Any:
    return await gw.http.post(f"/v1/orders/{order_id}/cancel", headers=await gw.headers(client))


async def bind_odoo(gw: Gateway, tenant: str, odoo: Simulator, **extra: object) -> None:
    """Bind `tenant` to the simulator (`extra` adds binding settings, e.g. timeout=1.0)."""
    await gw.add_tenant(tenant)
    await gw.add_client("operator", None)
    settings, secrets = odoo.binding()
    response = await gw.http.put(
        f"/admin/tenants/{tenant}/bindings",
        json={"adapter": "odoo", "settings": {**settings, **extra}, "secrets": secrets},
        headers=await gw.headers("operator"),
    )
    assert response.status_code == 200, response.text


async def entries(gw: Gateway, tenant: str, order_id: str) -> list[OutboxEntry]:
    async with gw.services.db.session(tenant) as session:
        return list(
            (
                await session.scalars(
                    select(OutboxEntry)
                    .where(OutboxEntry.subject_id == order_id)
                    .order_by(OutboxEntry.created_at, OutboxEntry.id)
                )
            ).all()
        )


async def run_until(
    worker: OutboxWorker, done: Callable[[], Awaitable[bool]], timeout: float = 60.0
) -> None:
    """Run the worker's cycles until `done()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await done():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        if not await worker.run_once():
            await asyncio.sleep(0.05)


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(0.05)


async def odoo_sales(odoo: Simulator, order_id: str) -> list[dict[str, Any]]:
    erp = OdooClient(odoo.url, "demo", "admin", "admin")
    try:
        return list(
            await erp.search_read(
                "sale.order", [["client_order_ref", "=", order_id]], ["state", "name"]
            )
        )
    finally:
        await erp.aclose()
