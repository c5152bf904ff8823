"""Shadow reads never hold the channel, and say what they could not do: a candidate that holds
every answer leaves every channel request answered and its comparisons counted as timed out;
comparisons beyond the backlog are counted as dropped. Writes made through the gateway during a
migration make drift, which the report tells apart from standing differences."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import and_, update

from adapters._demo import demo_dataset
from adapters.sandbox import tables
from app.publicids import CUSTOMER, PRODUCT, public_id
from app.settings import ShadowSettings
from tests.support import payloads
from tests.support.faulty_http import FaultyServer, faulty_http
from tests.support.gateway import Gateway, make_settings, running_gateway

DEMO = demo_dataset()


async def _eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
def shadow_settings() -> ShadowSettings:
    return ShadowSettings()


@pytest.fixture
async def gw(tmp_path: Path, shadow_settings: ShadowSettings) -> AsyncIterator[Gateway]:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}", tmp_path / "var", shadow=shadow_settings
    )
    async with running_gateway(settings) as gateway:
        await gateway.add_client("operator", None)
        yield gateway


async def _migrate_to(gw: Gateway, tenant: str, candidate: FaultyServer) -> None:
    """Start moving `tenant` to a Tryton at `candidate` (which answers the login)."""
    started = await gw.http.post(
        f"/admin/tenants/{tenant}/migration",
        json={
            "adapter": "tryton",
            "settings": {
                "url": candidate.url,
                "database": "retail",
                "username": "admin",
                "timeout": 120,  # the most an adapter may wait; far beyond the 0.5 s shadow cut
                "shield": {"timeout": 600, "failures": 10_000},
            },
            "secrets": {"password": "admin"},
        },
        headers=await gw.headers("operator"),
    )
    assert started.status_code == 201, started.text


async def _parity(gw: Gateway, tenant: str) -> dict[str, Any]:
    response = await gw.http.get(
        f"/admin/tenants/{tenant}/migration", headers=await gw.headers("operator")
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["parity"])


async def _read_products(gw: Gateway, client: str, count: int) -> None:
    headers = await gw.headers(client)
    # Each a cache miss (read once), served by the current backend. The deadline is generous:
    # it only turns a channel held by the candidate into a failure rather than a hang.
    async with asyncio.timeout(120):
        await _read_each(gw, headers, count)


async def _read_each(gw: Gateway, headers: dict[str, str], count: int) -> None:
    for product in DEMO.products[:count]:
        response = await gw.http.get(
            f"/v1/products/{public_id(PRODUCT, product.code)}", headers=headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["title"] == product.title


@pytest.mark.parametrize("shadow_settings", [ShadowSettings(timeout=0.5)])
async def test_a_candidate_holding_every_answer_times_out_in_the_background(gw: Gateway) -> None:
    client, _ = await gw.add_tenant("patient")
    async with faulty_http() as candidate:
        await _migrate_to(gw, "patient", candidate)
        candidate.mode, candidate.slow_seconds = "slow", 3600  # answers nothing, ever
        await _read_products(gw, client, 6)  # every channel request is answered meanwhile

        async def all_timed_out() -> bool:
            catalog = (await _parity(gw, "patient"))["catalog"]
            return bool(catalog["timed_out"] == 6)

        await _eventually(all_timed_out, "six comparisons timed out")
        catalog = (await _parity(gw, "patient"))["catalog"]
        assert (catalog["compared"], catalog["failed"], catalog["dropped"]) == (0, 6, 0)
        assert "common.db.login" in candidate.methods  # it was asked, and held the answer


@pytest.mark.parametrize("shadow_settings", [ShadowSettings(concurrency=2, backlog=4, timeout=600)])
async def test_comparisons_beyond_the_backlog_are_dropped_and_counted(gw: Gateway) -> None:
    client, _ = await gw.add_tenant("crowded")
    async with faulty_http() as candidate:
        await _migrate_to(gw, "crowded", candidate)
        candidate.mode, candidate.slow_seconds = "slow", 3600
        await _read_products(gw, client, 10)
        assert gw.services.shadow.in_flight == 4  # the backlog is full, the channel went on
    # The candidate has gone: the four held comparisons fail, the other six were dropped.
    await gw.services.shadow.drain()
    catalog = (await _parity(gw, "crowded"))["catalog"]
    assert {k: catalog[k] for k in ("compared", "failed", "timed_out", "dropped")} == {
        "compared": 0,
        "failed": 4,
        "timed_out": 0,
        "dropped": 6,
    }


async def test_writes_through_the_gateway_during_a_migration_are_drift(gw: Gateway) -> None:
    tenant = f"drifter-{uuid.uuid4().hex[:6]}"
    client, _ = await gw.add_tenant(tenant)
    candidate = f"{tenant}:next"
    await gw.services.backends.provision("sandbox", {"dataset": candidate}, {})
    planted, patched = DEMO.customers[4], DEMO.customers[5]
    async with gw.services.db.engine.begin() as conn:  # one standing difference, planted
        await conn.execute(
            update(tables.customers)
            .where(
                and_(
                    tables.customers.c.dataset == candidate,
                    tables.customers.c.code == planted.code,
                )
            )
            .values(last_name="Planted")
        )
    operator = await gw.headers("operator")
    started = await gw.http.post(
        f"/admin/tenants/{tenant}/migration",
        json={"adapter": "sandbox", "settings": {"dataset": candidate}},
        headers=operator,
    )
    assert started.status_code == 201, started.text
    headers = await gw.headers(client)
    # Through the gateway, to the current backend only: a patch, a new customer, an order.
    patch = await gw.http.patch(
        f"/v1/customers/{public_id(CUSTOMER, patched.code)}",
        json={"phone": "+31 6 0000 0001", "last_name": "Patched"},
        headers=headers,
    )
    assert patch.status_code == 200, patch.text
    also = await gw.http.patch(  # the planted customer, in a field that was not planted
        f"/v1/customers/{public_id(CUSTOMER, planted.code)}",
        json={"first_name": "Also"},
        headers=headers,
    )
    assert also.status_code == 200, also.text
    created = await gw.http.post("/v1/customers", json=payloads.customer(), headers=headers)
    assert created.status_code == 201, created.text
    order = await gw.http.post(
        "/v1/orders",
        json=payloads.order(customer={"id": public_id(CUSTOMER, DEMO.customers[6].code)}),
        headers=await gw.headers(client, **{"Idempotency-Key": payloads.idem()}),
    )
    assert order.status_code == 202, order.text
    await gw.wait_for_status(client, order.json()["id"], {"accepted"})
    await gw.services.cache.invalidate(tenant, ["all"])  # read them afresh from the backend
    for customer_id in (
        public_id(CUSTOMER, patched.code),
        public_id(CUSTOMER, planted.code),
        created.json()["id"],
    ):
        read = await gw.http.get(f"/v1/customers/{customer_id}", headers=headers)
        assert read.status_code == 200, read.text
    stock = await gw.http.get(
        "/v1/inventory", params={"sku": payloads.SKU_A, "location": "DC1"}, headers=headers
    )
    assert stock.status_code == 200, stock.text
    await gw.services.shadow.drain()

    parity = await _parity(gw, tenant)
    customers = {e["subject"]: e for e in parity["customers"]["examples"]}
    assert {s: (e["kind"], e["fields"], e["drifted_fields"]) for s, e in customers.items()} == {
        public_id(CUSTOMER, patched.code): (
            "drift",
            ["last_name", "phone"],
            ["last_name", "phone"],
        ),
        public_id(CUSTOMER, planted.code): (
            "standing",
            ["first_name", "last_name"],
            ["first_name"],
        ),
        created.json()["id"]: ("drift", ["$ (missing in candidate)"], ["$ (missing in candidate)"]),
    }
    assert (parity["customers"]["standing_subjects"], parity["customers"]["drifted_subjects"]) == (
        1,
        2,
    )
    inventory = {e["subject"]: e for e in parity["inventory"]["examples"]}
    assert {s: (e["kind"], sorted(e["fields"])) for s, e in inventory.items()} == {
        f"{payloads.SKU_A}@DC1": ("drift", ["available", "reserved"])
    }
