"""Tenant isolation on /v1: the tenant comes from the token, and another tenant's resources
answer exactly as missing ones do."""

from __future__ import annotations

from typing import Any

from adapters._demo import demo_dataset
from app.publicids import CUSTOMER, public_id
from tests.support import payloads
from tests.support.gateway import Gateway

ACME = "acme-client"
GLOBEX = "globex-client"
DATASET = demo_dataset()


async def call(gateway: Gateway, client: str, method: str, path: str, **kwargs: Any) -> Any:
    extra = kwargs.pop("headers", {})
    return await gateway.http.request(
        method, path, headers=await gateway.headers(client, **extra), **kwargs
    )


async def place_order(gateway: Gateway, client: str, **overrides: Any) -> dict[str, Any]:
    response = await call(
        gateway,
        client,
        "POST",
        "/v1/orders",
        json=payloads.order(**overrides),
        headers={"Idempotency-Key": payloads.idem()},
    )
    assert response.status_code == 202, response.text
    order: dict[str, Any] = response.json()
    return order


async def create_customer(gateway: Gateway, client: str, **overrides: Any) -> dict[str, Any]:
    response = await call(
        gateway, client, "POST", "/v1/customers", json=payloads.customer(**overrides)
    )
    assert response.status_code == 201, response.text
    customer: dict[str, Any] = response.json()
    return customer


async def all_ids(
    gateway: Gateway, client: str, path: str, params: dict[str, Any] | None = None
) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        query = {"limit": 200, **(params or {})}
        if cursor:
            query["cursor"] = cursor
        response = await call(gateway, client, "GET", path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        ids.extend(item["id"] for item in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def assert_not_found(response: Any, missing: Any) -> None:
    """404, and indistinguishable from a resource that never existed."""
    assert response.status_code == 404, response.text
    assert missing.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    got, expected = response.json(), missing.json()
    assert got["type"] == expected["type"]
    assert got["title"] == expected["title"]
    assert set(got) == set(expected)


async def test_another_tenants_order_is_not_found(gateway: Gateway) -> None:
    order = await place_order(gateway, ACME)
    assert (await call(gateway, ACME, "GET", f"/v1/orders/{order['id']}")).status_code == 200

    never = "ord_" + "0" * 26
    assert_not_found(
        await call(gateway, GLOBEX, "GET", f"/v1/orders/{order['id']}"),
        await call(gateway, GLOBEX, "GET", f"/v1/orders/{never}"),
    )
    assert_not_found(
        await call(gateway, GLOBEX, "GET", f"/v1/orders/{order['id']}/events"),
        await call(gateway, GLOBEX, "GET", f"/v1/orders/{never}/events"),
    )


async def test_another_tenants_order_stays_hidden_after_the_worker_posted_it(
    gateway: Gateway,
) -> None:
    order = await place_order(gateway, ACME)
    await gateway.wait_for_status(ACME, order["id"], {"accepted"})
    assert (await call(gateway, GLOBEX, "GET", f"/v1/orders/{order['id']}")).status_code == 404
    assert (
        await call(gateway, GLOBEX, "GET", f"/v1/orders/{order['id']}/events")
    ).status_code == 404


async def test_another_tenants_orders_are_absent_from_the_list(gateway: Gateway) -> None:
    order = await place_order(gateway, ACME, channel="marketplace")
    globex_order = await place_order(gateway, GLOBEX, channel="marketplace")

    globex_ids = await all_ids(gateway, GLOBEX, "/v1/orders")
    assert order["id"] not in globex_ids
    assert globex_order["id"] in globex_ids
    assert order["id"] not in await all_ids(
        gateway, GLOBEX, "/v1/orders", {"channel": "marketplace"}
    )
    assert order["id"] not in await all_ids(gateway, GLOBEX, "/v1/orders", {"status": "received"})
    by_reference = await call(
        gateway,
        GLOBEX,
        "GET",
        "/v1/orders",
        params={"external_reference": order["external_reference"]},
    )
    assert by_reference.json() == {"data": [], "next_cursor": None}

    acme_ids = await all_ids(gateway, ACME, "/v1/orders")
    assert order["id"] in acme_ids
    assert globex_order["id"] not in acme_ids


async def test_the_same_external_reference_in_two_tenants_are_two_orders(gateway: Gateway) -> None:
    body = payloads.order()
    acme = await call(
        gateway,
        ACME,
        "POST",
        "/v1/orders",
        json=body,
        headers={"Idempotency-Key": "shared-key-1" + body["external_reference"]},
    )
    globex = await call(
        gateway,
        GLOBEX,
        "POST",
        "/v1/orders",
        json=body,
        headers={"Idempotency-Key": "shared-key-1" + body["external_reference"]},
    )
    assert acme.status_code == 202, acme.text
    assert globex.status_code == 202, globex.text
    assert "idempotent-replayed" not in globex.headers
    assert acme.json()["id"] != globex.json()["id"]
    for client, order in ((ACME, acme.json()), (GLOBEX, globex.json())):
        listed = await call(
            gateway,
            client,
            "GET",
            "/v1/orders",
            params={"external_reference": body["external_reference"]},
        )
        assert [o["id"] for o in listed.json()["data"]] == [order["id"]]


async def test_another_tenants_customer_is_not_found(gateway: Gateway) -> None:
    customer = await create_customer(gateway, ACME)
    assert (await call(gateway, ACME, "GET", f"/v1/customers/{customer['id']}")).status_code == 200
    never = public_id(CUSTOMER, "GW-NEVER-EXISTED")
    assert_not_found(
        await call(gateway, GLOBEX, "GET", f"/v1/customers/{customer['id']}"),
        await call(gateway, GLOBEX, "GET", f"/v1/customers/{never}"),
    )
    by_email = await call(
        gateway, GLOBEX, "GET", "/v1/customers", params={"email": customer["email"]}
    )
    assert by_email.status_code == 200
    assert by_email.json() == {"data": [], "next_cursor": None}
    assert customer["id"] not in await all_ids(gateway, GLOBEX, "/v1/customers")


async def test_another_tenants_customer_cannot_be_patched(gateway: Gateway) -> None:
    customer = await create_customer(gateway, ACME)
    response = await call(
        gateway, GLOBEX, "PATCH", f"/v1/customers/{customer['id']}", json={"first_name": "Hijack"}
    )
    assert response.status_code == 404, response.text
    after = await call(gateway, ACME, "GET", f"/v1/customers/{customer['id']}")
    assert after.json()["first_name"] == customer["first_name"]


async def test_each_tenant_has_its_own_sandbox_data_set(gateway: Gateway) -> None:
    body = payloads.customer()
    acme = await create_customer(gateway, ACME, email=body["email"])
    globex_view = await call(
        gateway, GLOBEX, "GET", "/v1/customers", params={"email": body["email"]}
    )
    assert globex_view.json()["data"] == []
    # The e-mail is free in the other tenant: its backend has never seen it.
    globex = await create_customer(gateway, GLOBEX, email=body["email"], first_name="Globex")
    assert globex["email"] == acme["email"]
    assert (await call(gateway, GLOBEX, "GET", f"/v1/customers/{acme['id']}")).status_code == 404
    acme_view = (
        await call(gateway, ACME, "GET", "/v1/customers", params={"email": body["email"]})
    ).json()["data"]
    assert [(c["id"], c["first_name"]) for c in acme_view] == [(acme["id"], acme["first_name"])]


async def test_a_change_to_a_seeded_customer_stays_in_its_tenant(gateway: Gateway) -> None:
    demo = DATASET.customers[-1]
    customer_id = public_id(CUSTOMER, demo.code)
    changed = await call(
        gateway, ACME, "PATCH", f"/v1/customers/{customer_id}", json={"first_name": "Acme-only"}
    )
    assert changed.status_code == 200, changed.text
    try:
        globex = await call(gateway, GLOBEX, "GET", f"/v1/customers/{customer_id}")
        assert globex.status_code == 200
        assert globex.json()["first_name"] == demo.first_name
    finally:
        restored = await call(
            gateway,
            ACME,
            "PATCH",
            f"/v1/customers/{customer_id}",
            json={"first_name": demo.first_name},
        )
        assert restored.status_code == 200


async def test_an_acme_cursor_is_refused_for_globex(gateway: Gateway) -> None:
    for path in ("/v1/customers", "/v1/products", "/v1/inventory"):
        page = (await call(gateway, ACME, "GET", path, params={"limit": 1})).json()
        assert page["next_cursor"], path
        response = await call(
            gateway, GLOBEX, "GET", path, params={"limit": 1, "cursor": page["next_cursor"]}
        )
        assert response.status_code == 400, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert (
            await call(
                gateway, ACME, "GET", path, params={"limit": 1, "cursor": page["next_cursor"]}
            )
        ).status_code == 200


async def test_an_acme_order_cursor_is_refused_for_globex(gateway: Gateway) -> None:
    for _ in range(2):
        await place_order(gateway, ACME)
    page = (await call(gateway, ACME, "GET", "/v1/orders", params={"limit": 1})).json()
    assert page["next_cursor"]
    response = await call(
        gateway, GLOBEX, "GET", "/v1/orders", params={"limit": 1, "cursor": page["next_cursor"]}
    )
    assert response.status_code == 400, response.text
    assert response.json()["status"] == 400
