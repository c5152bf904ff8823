"""A tenant's migration to another backend, through the admin API: shadow reads record the
differences planted in the candidate, cut-over switches where orders go, rollback switches
back; channels see the same shapes throughout."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import and_, func, select, update

from adapters._demo import demo_dataset
from adapters.sandbox import tables
from app.publicids import CUSTOMER, PRODUCT, public_id
from app.store.models import MigrationDifference
from tests.support import payloads
from tests.support.gateway import Gateway

DEMO = demo_dataset()
CHANGED_PRODUCT = DEMO.products[6]
SAME_PRODUCT = DEMO.products[7]
CHANGED_CUSTOMER = DEMO.customers[4]
CHANGED_SKU = DEMO.products[8].variants[0].sku


async def _plant_differences(gw: Gateway, dataset: str) -> None:
    async with gw.services.db.engine.begin() as conn:
        await conn.execute(
            update(tables.products)
            .where(
                and_(
                    tables.products.c.dataset == dataset,
                    tables.products.c.code == CHANGED_PRODUCT.code,
                )
            )
            .values(title="Renamed In The New ERP")
        )
        await conn.execute(
            update(tables.customers)
            .where(
                and_(
                    tables.customers.c.dataset == dataset,
                    tables.customers.c.code == CHANGED_CUSTOMER.code,
                )
            )
            .values(phone="+31 20 000 0000")
        )
        await conn.execute(
            update(tables.stock)
            .where(
                and_(
                    tables.stock.c.dataset == dataset,
                    tables.stock.c.sku == CHANGED_SKU,
                    tables.stock.c.location == "DC1",
                )
            )
            .values(on_hand=tables.stock.c.on_hand + 7)
        )


async def _sales_of(gw: Gateway, reference: str) -> dict[str, int]:
    async with gw.services.db.engine.connect() as conn:
        rows = await conn.execute(
            select(tables.sales.c.dataset, func.count())
            .where(tables.sales.c.reference == reference)
            .group_by(tables.sales.c.dataset)
        )
        return {row[0]: row[1] for row in rows}


async def _stored_differences_mention(gw: Gateway, values: list[str]) -> list[str]:
    """Which of `values` appear anywhere in the stored differences of every migration."""
    async with gw.services.db.engine.connect() as conn:
        rows = (await conn.execute(select(MigrationDifference))).mappings().all()
    text = json.dumps([{k: str(v) for k, v in row.items()} for row in rows])
    return [value for value in values if value in text]


async def _order(gw: Gateway, client: str) -> dict[str, Any]:
    response = await gw.http.post(
        "/v1/orders",
        json=payloads.order(),
        headers=await gw.headers(client, **{"Idempotency-Key": payloads.idem()}),
    )
    assert response.status_code == 202, response.text
    return await gw.wait_for_status(client, response.json()["id"], {"accepted"})


async def test_shadow_reads_report_parity_then_cutover_and_rollback(gateway: Gateway) -> None:
    gw = gateway
    tenant = f"mover-{uuid.uuid4().hex[:6]}"
    client, _ = await gw.add_tenant(tenant)
    candidate = f"{tenant}:next"
    await gw.services.backends.provision("sandbox", {"dataset": candidate}, {})
    await _plant_differences(gw, candidate)
    operator = await gw.headers("operator")
    headers = await gw.headers(client)

    before = await _order(gw, client)  # posted to the current backend
    started = await gw.http.post(
        f"/admin/tenants/{tenant}/migration",
        json={"adapter": "sandbox", "settings": {"dataset": candidate}},
        headers=operator,
    )
    assert started.status_code == 201, started.text
    assert started.json()["state"] == "shadowing"
    again = await gw.http.post(
        f"/admin/tenants/{tenant}/migration",
        json={"adapter": "sandbox", "settings": {"dataset": candidate}},
        headers=operator,
    )
    assert again.status_code == 409

    for product in (CHANGED_PRODUCT, SAME_PRODUCT):
        response = await gw.http.get(
            f"/v1/products/{public_id(PRODUCT, product.code)}", headers=headers
        )
        assert response.status_code == 200
        if product is CHANGED_PRODUCT:
            assert (
                response.json()["title"] == CHANGED_PRODUCT.title
            )  # still served by the current backend
    assert (
        await gw.http.get(
            f"/v1/customers/{public_id(CUSTOMER, CHANGED_CUSTOMER.code)}", headers=headers
        )
    ).status_code == 200
    assert (
        await gw.http.get("/v1/inventory", params={"sku": CHANGED_SKU}, headers=headers)
    ).status_code == 200
    same_sku = SAME_PRODUCT.variants[0].sku
    assert (
        await gw.http.get("/v1/inventory", params={"sku": same_sku}, headers=headers)
    ).status_code == 200
    assert (
        await gw.http.get("/v1/products", params={"limit": 5}, headers=headers)
    ).status_code == 200
    await gw.services.shadow.drain()

    answer = await gw.http.get(f"/admin/tenants/{tenant}/migration", headers=operator)
    report = answer.json()
    catalog, customers, inventory = (
        report["parity"][d] for d in ("catalog", "customers", "inventory")
    )
    assert catalog["compared"] >= 2 and catalog["equal"] >= 1 and catalog["different"] == 1
    assert [(e["subject"], e["kind"], e["fields"]) for e in catalog["examples"]] == [
        (public_id(PRODUCT, CHANGED_PRODUCT.code), "standing", ["title"])
    ]
    assert catalog["examples"][0]["candidate"] == {"title": "Renamed In The New ERP"}
    assert catalog["examples"][0]["current"] == {"title": CHANGED_PRODUCT.title}
    assert [(e["subject"], e["kind"], e["fields"]) for e in customers["examples"]] == [
        (public_id(CUSTOMER, CHANGED_CUSTOMER.code), "standing", ["phone"])
    ]
    # Personal data is never kept: field names and the customer's id only.
    assert customers["examples"][0]["current"] == customers["examples"][0]["candidate"] == {}
    assert "+31 20 000 0000" not in answer.text and CHANGED_CUSTOMER.email not in answer.text
    assert await _stored_differences_mention(gw, ["+31 20 000 0000", CHANGED_CUSTOMER.email]) == []
    assert [(e["subject"], sorted(e["fields"])) for e in inventory["examples"]] == [
        (f"{CHANGED_SKU}@DC1", ["available", "on_hand"])
    ]
    assert inventory["equal"] >= 1 and inventory["failed"] == 0
    assert [catalog["standing_subjects"], customers["standing_subjects"]] == [1, 1]
    assert inventory["standing_subjects"] == 1 and inventory["drifted_subjects"] == 0

    cut = await gw.http.post(f"/admin/tenants/{tenant}/migration/cutover", headers=operator)
    assert cut.status_code == 200, cut.text
    assert cut.json()["state"] == "cut_over"
    renamed = await gw.http.get(
        f"/v1/products/{public_id(PRODUCT, CHANGED_PRODUCT.code)}", headers=headers
    )
    assert renamed.json()["title"] == "Renamed In The New ERP"  # now served by the candidate
    after = await _order(gw, client)
    assert await _sales_of(gw, before["id"]) == {tenant: 1}
    assert await _sales_of(gw, after["id"]) == {candidate: 1}

    back = await gw.http.post(f"/admin/tenants/{tenant}/migration/rollback", headers=operator)
    assert back.status_code == 200 and back.json()["state"] == "rolled_back"
    restored = await gw.http.get(
        f"/v1/products/{public_id(PRODUCT, CHANGED_PRODUCT.code)}", headers=headers
    )
    assert restored.json()["title"] == CHANGED_PRODUCT.title
    bindings = (await gw.http.get(f"/admin/tenants/{tenant}/bindings", headers=operator)).json()[
        "data"
    ]
    assert {b["settings"]["dataset"] for b in bindings} == {tenant}
    assert (
        await gw.http.post(f"/admin/tenants/{tenant}/migration/cutover", headers=operator)
    ).status_code == 409


async def test_migration_requests_are_checked(gateway: Gateway) -> None:
    operator = await gateway.headers("operator")
    tenant = f"nomig-{uuid.uuid4().hex[:6]}"
    await gateway.add_tenant(tenant)
    assert (
        await gateway.http.get(f"/admin/tenants/{tenant}/migration", headers=operator)
    ).status_code == 404
    assert (
        await gateway.http.post(f"/admin/tenants/{tenant}/migration/cutover", headers=operator)
    ).status_code == 404
    unknown = await gateway.http.post(
        f"/admin/tenants/{tenant}/migration", json={"adapter": "nope"}, headers=operator
    )
    assert unknown.status_code == 400
    missing = await gateway.http.post(
        f"/admin/tenants/{tenant}/migration",
        json={"adapter": "tryton", "settings": {}},
        headers=operator,
    )
    assert missing.status_code == 400
    channel = await gateway.headers("acme-client")
    assert (
        await gateway.http.get(f"/admin/tenants/{tenant}/migration", headers=channel)
    ).status_code == 403
