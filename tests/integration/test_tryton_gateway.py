"""The gateway in front of a real Tryton: a tenant bound to it through the admin API (checked
by logging in, secrets never shown), orders posted as Tryton sales carrying our order id, a
forced retry that finds the existing sale, and a business refusal that rejects the order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters._demo import demo_dataset
from adapters.tryton.client import TrytonClient
from app.publicids import CUSTOMER, public_id
from app.settings import WorkerSettings
from app.store.ids import new_id
from app.store.models import OrderRow, OutboxEntry
from deploy.tryton.tryton_server import TrytonProcess
from tests.support import payloads
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.tryton import tryton_server, tryton_settings

pytestmark = pytest.mark.slow
DEMO = demo_dataset()
TENANT = "tshop"
CLIENT = "tshop-client"


@pytest.fixture(scope="module")
def tryton() -> Iterator[TrytonProcess]:
    with tryton_server() as server:
        yield server


@pytest.fixture(scope="module")
async def gw(
    tryton: TrytonProcess, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gateway]:
    root: Path = tmp_path_factory.mktemp("tryton-gw")
    worker = WorkerSettings(embedded=True, poll_interval=0.05, backoff_base=0.05, backoff_max=0.5)
    async with running_gateway(
        make_settings(f"sqlite+aiosqlite:///{root / 'gw.db'}", root / "var", worker=worker)
    ) as gateway:
        await gateway.add_tenant(TENANT)
        await gateway.add_client("operator", None)
        settings, secrets = tryton_settings(tryton)
        response = await gateway.http.put(
            f"/admin/tenants/{TENANT}/bindings",
            json={"adapter": "tryton", "settings": settings, "secrets": secrets},
            headers=await gateway.headers("operator"),
        )
        assert response.status_code == 200, response.text
        yield gateway


@pytest.fixture
async def rpc(tryton: TrytonProcess) -> AsyncIterator[TrytonClient]:
    client = TrytonClient(tryton.url, tryton.database, tryton.user, tryton.password)
    yield client
    await client.aclose()


async def _sales(rpc: TrytonClient, reference: str) -> list[dict[str, Any]]:
    return list(
        await rpc.call(
            "model.sale.sale.search_read",
            [["reference", "=", reference]],
            0,
            None,
            None,
            ["number", "state", "party.code"],
        )
    )


async def test_bindings_never_show_secrets_and_refuse_bad_credentials(
    gw: Gateway, tryton: TrytonProcess
) -> None:
    operator = await gw.headers("operator")
    listed = (await gw.http.get(f"/admin/tenants/{TENANT}/bindings", headers=operator)).json()[
        "data"
    ]
    assert {b["domain"] for b in listed} == {"catalog", "inventory", "orders", "customers"}
    assert all(b["adapter"] == "tryton" and b["secret_names"] == ["password"] for b in listed)
    assert all("password" not in b["settings"] and "secrets" not in b for b in listed)

    settings, _ = tryton_settings(tryton)
    refused = await gw.http.put(
        f"/admin/tenants/{TENANT}/bindings",
        json={
            "adapter": "tryton",
            "domains": ["catalog"],
            "settings": settings,
            "secrets": {"password": "wrong"},
        },
        headers=operator,
    )
    assert refused.status_code == 422, refused.text
    after = (await gw.http.get(f"/admin/tenants/{TENANT}/bindings", headers=operator)).json()[
        "data"
    ]
    assert after == listed  # nothing was written
    unknown = await gw.http.put(
        f"/admin/tenants/{TENANT}/bindings",
        json={"adapter": "nope", "settings": {}},
        headers=operator,
    )
    assert unknown.status_code == 400


async def test_channel_reads_come_from_tryton(gw: Gateway) -> None:
    headers = await gw.headers(CLIENT)
    demo = DEMO.products[4]
    product = (
        await gw.http.get("/v1/products", params={"sku": demo.variants[0].sku}, headers=headers)
    ).json()["data"][0]
    assert product["title"] == demo.title
    assert "tryton" in product["external_ids"]
    levels = (
        await gw.http.get("/v1/inventory", params={"sku": demo.variants[0].sku}, headers=headers)
    ).json()["data"]
    assert {level["source"] for level in levels} == {"tryton"}
    customer = (
        await gw.http.get(
            f"/v1/customers/{public_id(CUSTOMER, DEMO.customers[2].code)}", headers=headers
        )
    ).json()
    assert customer["email"] == DEMO.customers[2].email


async def test_an_order_becomes_one_tryton_sale_even_when_the_post_is_forced_again(
    gw: Gateway, rpc: TrytonClient
) -> None:
    headers = await gw.headers(CLIENT, **{"Idempotency-Key": payloads.idem()})
    body = payloads.order(customer={"id": public_id(CUSTOMER, DEMO.customers[0].code)})
    created = await gw.http.post("/v1/orders", json=body, headers=headers)
    assert created.status_code == 202, created.text
    order = await gw.wait_for_status(CLIENT, created.json()["id"], {"accepted"}, timeout=60)
    sales = await _sales(rpc, order["id"])
    assert len(sales) == 1
    assert sales[0]["number"] == order["backend_reference"]
    assert sales[0]["party."]["code"] == DEMO.customers[0].code
    assert sales[0]["state"] in {"confirmed", "processing"}

    # As if the worker died after Tryton confirmed but before we committed: the order is
    # "received" again with a fresh outbox entry, and the worker posts it a second time.
    async with gw.services.db.session(TENANT, write=True) as session:
        row = await session.scalar(select(OrderRow).where(OrderRow.id == order["id"]))
        assert row is not None
        row.status = "received"
        session.add(
            OutboxEntry(
                id=new_id("obx"),
                tenant_id=TENANT,
                kind="order.submit",
                subject_id=row.id,
                correlation_id="forced-retry",
            )
        )
    gw.services.worker.wake()
    again = await gw.wait_for_status(CLIENT, order["id"], {"submitted", "accepted"}, timeout=60)
    assert again["backend_reference"] == order["backend_reference"]
    assert len(await _sales(rpc, order["id"])) == 1
    events = (
        await gw.http.get(f"/v1/orders/{order['id']}/events", headers=await gw.headers(CLIENT))
    ).json()["data"]
    resubmitted = [
        e
        for e in events
        if e["type"] == "order.submitted" and e["correlation_id"] == "forced-retry"
    ]
    assert resubmitted and resubmitted[0]["detail"]["existing_sale"] is True


async def test_a_guest_order_creates_the_customer_in_tryton(gw: Gateway, rpc: TrytonClient) -> None:
    body = payloads.order()
    created = await gw.http.post(
        "/v1/orders",
        json=body,
        headers=await gw.headers(CLIENT, **{"Idempotency-Key": payloads.idem()}),
    )
    order = await gw.wait_for_status(CLIENT, created.json()["id"], {"accepted"}, timeout=60)
    parties = await rpc.call(
        "model.party.party.search_read",
        [
            [
                "contact_mechanisms",
                "where",
                [["type", "=", "email"], ["value", "=", body["customer"]["email"]]],
            ]
        ],
        0,
        None,
        None,
        ["code", "name"],
    )
    assert len(parties) == 1
    assert public_id(CUSTOMER, parties[0]["code"]) == order["customer"]["id"]


async def test_a_sale_tryton_refuses_rejects_the_order_with_its_reason(
    gw: Gateway, rpc: TrytonClient
) -> None:
    draft = next(p for p in DEMO.products if p.status == "draft")  # not salable in Tryton
    line = {
        "sku": draft.variants[0].sku,
        "quantity": 1,
        "unit_price": {"amount": "10.00", "currency": "EUR"},
    }
    created = await gw.http.post(
        "/v1/orders",
        json=payloads.order(lines=[line]),
        headers=await gw.headers(CLIENT, **{"Idempotency-Key": payloads.idem()}),
    )
    assert created.status_code == 202, created.text
    order = await gw.wait_for_status(CLIENT, created.json()["id"], {"rejected"}, timeout=60)
    events = (
        await gw.http.get(f"/v1/orders/{order['id']}/events", headers=await gw.headers(CLIENT))
    ).json()["data"]
    rejected = events[-1]
    assert rejected["type"] == "order.rejected" and rejected["cause"] == "backend"
    assert rejected["detail"]["reasons"]
    assert await _sales(rpc, order["id"]) == []  # nothing half-written in Tryton


async def test_backend_credentials_are_encrypted_at_rest(
    gw: Gateway, tryton: TrytonProcess
) -> None:
    from app.store.models import BackendBinding

    async with gw.services.db.session(TENANT) as session:
        rows = (await session.scalars(select(BackendBinding))).all()
    assert rows
    for row in rows:
        assert row.secrets_encrypted is not None
        assert row.secrets_encrypted.startswith("v1:")
        assert '"password"' not in row.secrets_encrypted
        assert "password" not in row.settings
        plain = gw.services.box.decrypt(row.secrets_encrypted, f"binding:{TENANT}")
        assert plain == b'{"password":"' + tryton.password.encode() + b'"}'


async def test_orders_survive_tryton_being_down(gw: Gateway, tmp_path: Path) -> None:
    """Tryton stops: reads answer 503 with Retry-After, orders are still accepted (202) and
    reach Tryton once it is back, exactly once."""
    from deploy.tryton.tryton_server import ensure_database, start_server

    workdir = tmp_path / "tryton"
    server = start_server(ensure_database(), workdir=workdir)
    tenant, client = "tdown", "tdown-client"
    try:
        await gw.add_tenant(tenant)
        settings, secrets = tryton_settings(server)
        bound = await gw.http.put(
            f"/admin/tenants/{tenant}/bindings",
            json={"adapter": "tryton", "settings": settings, "secrets": secrets},
            headers=await gw.headers("operator"),
        )
        assert bound.status_code == 200, bound.text
    finally:
        server.stop()

    headers = await gw.headers(client)
    read = await gw.http.get("/v1/products", headers=headers)
    assert read.status_code == 503
    assert read.headers["content-type"] == "application/problem+json"
    assert int(read.headers["retry-after"]) >= 1
    created = await gw.http.post(
        "/v1/orders",
        json=payloads.order(),
        headers=await gw.headers(client, **{"Idempotency-Key": payloads.idem()}),
    )
    assert created.status_code == 202, created.text
    order_id = created.json()["id"]
    order = await gw.wait_for_status(client, order_id, {"received"})
    events = (await gw.http.get(f"/v1/orders/{order_id}/events", headers=headers)).json()["data"]
    failures = [e for e in events if e["type"] == "order.delivery_failed"]
    for _ in range(100):
        if failures:
            break
        await asyncio.sleep(0.1)
        events = (await gw.http.get(f"/v1/orders/{order_id}/events", headers=headers)).json()[
            "data"
        ]
        failures = [e for e in events if e["type"] == "order.delivery_failed"]
    assert failures, "the worker should have tried and scheduled a retry"
    assert order["status"] == "received" and not order["dead_lettered"]

    back = start_server(ensure_database(), port=server.port, workdir=workdir)
    try:
        gw.services.worker.wake()
        delivered = await gw.wait_for_status(client, order_id, {"accepted"}, timeout=90)
        rpc = TrytonClient(back.url, back.database, back.user, back.password)
        try:
            assert len(await _sales(rpc, order_id)) == 1
        finally:
            await rpc.aclose()
        assert delivered["backend_reference"]
    finally:
        back.stop()
