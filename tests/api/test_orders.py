"""Order intake through the API: 202 with the order, durable storage, posting by the worker,
events from `received` on with the correlation id, reads, filters and paging."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from contracts.backend import SaleLine, SaleRequest
from contracts.v1 import Address, Money, OrderTotals
from tests.support import payloads
from tests.support.gateway import Gateway

CLIENT = "acme-client"


async def test_order_is_accepted_and_reaches_the_backend_with_events(gateway: Gateway) -> None:
    body = payloads.order()
    headers = await gateway.headers(
        CLIENT, **{"Idempotency-Key": payloads.idem(), "X-Correlation-ID": "corr-order-1"}
    )
    response = await gateway.http.post("/v1/orders", json=body, headers=headers)
    assert response.status_code == 202, response.text
    order = response.json()
    assert order["status"] == "received"
    assert order["id"].startswith("ord_")
    assert response.headers["location"] == f"/v1/orders/{order['id']}"
    assert response.headers["x-correlation-id"] == "corr-order-1"
    assert order["totals"]["total"] == {"amount": "32.00", "currency": "EUR"}
    assert order["lines"][0]["line_total"] == {"amount": "32.00", "currency": "EUR"}

    done = await gateway.wait_for_status(CLIENT, order["id"], {"accepted"})
    assert done["backend_reference"].startswith("SO")
    assert done["external_ids"]["sandbox"]
    assert done["customer"]["id"].startswith("cus_")

    events = (
        await gateway.http.get(
            f"/v1/orders/{order['id']}/events", headers=await gateway.headers(CLIENT)
        )
    ).json()
    # The demo stock of the SKU runs short once earlier tests have ordered it, and an order
    # beyond the stock is taken with an `order.oversold` note (tests/api/test_reservations.py
    # covers that): this test is about the order's states.
    kinds = [
        (e["type"], e["previous_status"], e["status"], e["cause"])
        for e in events["data"]
        if e["type"] != "order.oversold"
    ]
    assert kinds == [
        ("order.received", None, "received", "channel"),
        ("order.submitted", "received", "submitted", "worker"),
        ("order.accepted", "submitted", "accepted", "backend"),
    ]
    assert {e["correlation_id"] for e in events["data"]} == {"corr-order-1"}
    submitted = next(e for e in events["data"] if e["type"] == "order.submitted")
    assert submitted["backend_reference"] == done["backend_reference"]


async def test_the_backend_holds_one_sale_per_order_even_when_posted_twice(
    gateway: Gateway,
) -> None:
    response = await gateway.http.post(
        "/v1/orders",
        json=payloads.order(),
        headers=await gateway.headers(CLIENT, **{"Idempotency-Key": payloads.idem()}),
    )
    order = await gateway.wait_for_status(CLIENT, response.json()["id"], {"accepted"})
    backends = await gateway.services.backends.for_tenant("acme")
    first = await backends.orders.get_order(order["id"])
    assert first is not None
    assert first.backend_reference == order["backend_reference"]
    # Replay the worker's post by hand, as a worker that died before committing would.
    sale = SaleRequest(
        reference=order["id"],
        channel="web",
        external_reference=order["external_reference"],
        customer_key="C00001",
        lines=[
            SaleLine(
                sku=payloads.SKU_A, quantity=1, unit_price=Money(amount="16.00", currency="EUR")
            )
        ],
        shipping_address=msgspec.convert(order["shipping_address"], Address),
        billing_address=None,
        totals=msgspec.convert(order["totals"], OrderTotals),
        placed_at=datetime.now(UTC),
    )
    again = await backends.orders.submit_order(sale)
    assert again.created is False
    assert again.backend_reference == order["backend_reference"]


async def test_existing_customer_by_id_and_lookup_filters(gateway: Gateway) -> None:
    customers = (
        await gateway.http.get("/v1/customers?limit=1", headers=await gateway.headers(CLIENT))
    ).json()
    customer_id = customers["data"][0]["id"]
    body = payloads.order(customer={"id": customer_id}, channel="app")
    response = await gateway.http.post(
        "/v1/orders",
        json=body,
        headers=await gateway.headers(CLIENT, **{"Idempotency-Key": payloads.idem()}),
    )
    assert response.status_code == 202, response.text
    assert response.json()["customer"]["id"] == customer_id
    assert response.json()["customer"]["email"] == customers["data"][0]["email"]

    listed = await gateway.http.get(
        "/v1/orders",
        params={"external_reference": body["external_reference"]},
        headers=await gateway.headers(CLIENT),
    )
    assert [o["id"] for o in listed.json()["data"]] == [response.json()["id"]]
    by_channel = await gateway.http.get(
        "/v1/orders", params={"channel": "app"}, headers=await gateway.headers(CLIENT)
    )
    assert all(o["channel"] == "app" for o in by_channel.json()["data"])
    assert response.json()["id"] in {o["id"] for o in by_channel.json()["data"]}


async def test_orders_page_with_a_cursor_newest_first(gateway: Gateway) -> None:
    ids = []
    for _ in range(3):
        response = await gateway.http.post(
            "/v1/orders",
            json=payloads.order(channel="store"),
            headers=await gateway.headers(CLIENT, **{"Idempotency-Key": payloads.idem()}),
        )
        ids.append(response.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, "channel": "store"}
        if cursor:
            params["cursor"] = cursor
        page = (
            await gateway.http.get(
                "/v1/orders", params=params, headers=await gateway.headers(CLIENT)
            )
        ).json()
        seen.extend(o["id"] for o in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True)
    assert set(ids) <= set(seen)
    assert len(seen) == len(set(seen))
