"""Binding settings through the admin API: each adapter's declared settings schema, the shield
object, secrets kept out of settings, and sandbox data sets tied to their tenant. Every refusal
is a 4xx problem whose errors[] names the field, and leaves the tenant's bindings as they were
(on SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.gateway import Gateway

PROBLEM_JSON = "application/problem+json"
TRYTON = {"url": "http://127.0.0.1:9/", "database": "retail", "username": "admin"}
ODOO = {"url": "http://127.0.0.1:9/", "database": "demo", "username": "admin"}


async def _tenant(gw: Gateway) -> tuple[str, str]:
    tenant = f"bind-{uuid.uuid4().hex[:8]}"
    client, _ = await gw.add_tenant(tenant)
    return tenant, client


async def _bindings(gw: Gateway, tenant: str) -> list[dict[str, Any]]:
    response = await gw.http.get(
        f"/admin/tenants/{tenant}/bindings", headers=await gw.headers("operator")
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def _put(gw: Gateway, tenant: str, body: dict[str, Any]) -> Any:
    return await gw.http.put(
        f"/admin/tenants/{tenant}/bindings", json=body, headers=await gw.headers("operator")
    )


async def _refused(
    gw: Gateway, body: dict[str, Any], status: int, fields: set[str], tenant: str | None = None
) -> dict[str, Any]:
    """PUT `body`; assert a problem of `status` naming exactly `fields`, and that nothing
    changed."""
    if tenant is None:
        tenant, _ = await _tenant(gw)
    before = await _bindings(gw, tenant)
    response = await _put(gw, tenant, body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status and problem["correlation_id"]
    assert {error["field"] for error in problem["errors"]} == fields, problem
    assert all(error["message"] and error["pointer"] for error in problem["errors"])
    assert await _bindings(gw, tenant) == before
    return problem


# -- secrets never in settings ---------------------------------------------------------------


async def test_a_password_in_settings_is_refused_and_never_stored(gateway: Gateway) -> None:
    problem = await _refused(
        gateway,
        {
            "adapter": "tryton",
            "settings": {**TRYTON, "password": "hunter2"},
            "secrets": {"password": "x"},
        },
        400,
        {"settings.password"},
    )
    assert "secrets" in problem["errors"][0]["message"]
    assert "hunter2" not in str(problem)


@pytest.mark.parametrize("key", ["api_key", "token", "client_secret", "passwd", "ApiKey"])
async def test_secret_like_keys_are_refused_in_settings(gateway: Gateway, key: str) -> None:
    await _refused(
        gateway,
        {"adapter": "sandbox", "settings": {"dataset": "x", key: "s3cr3t"}},
        400,
        {f"settings.{key}", "settings.dataset"},
    )


# -- each adapter's schema -------------------------------------------------------------------


async def test_unknown_settings_are_refused_each_named(gateway: Gateway) -> None:
    problem = await _refused(
        gateway,
        {
            "adapter": "tryton",
            "settings": {**TRYTON, "colour": "red", "dbname": "x"},
            "secrets": {"password": "x"},
        },
        400,
        {"settings.colour", "settings.dbname"},
    )
    assert "url" in problem["errors"][0]["message"]  # says what the adapter takes


async def test_unknown_secrets_are_refused(gateway: Gateway) -> None:
    await _refused(
        gateway,
        {"adapter": "odoo", "settings": ODOO, "secrets": {"password": "x", "pin": "1234"}},
        400,
        {"secrets.pin"},
    )
    tenant, _ = await _tenant(gateway)
    await _refused(
        gateway,
        {"adapter": "sandbox", "settings": {"dataset": tenant}, "secrets": {"password": "x"}},
        400,
        {"secrets.password"},
        tenant=tenant,
    )


async def test_missing_settings_and_secrets_are_named(gateway: Gateway) -> None:
    await _refused(
        gateway,
        {"adapter": "tryton", "settings": {}},
        400,
        {"settings.url", "secrets.password"},
    )
    await _refused(gateway, {"adapter": "odoo", "settings": ODOO}, 400, {"secrets.password"})


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({**TRYTON, "store_location_codes": "ST-AMS"}, "settings.store_location_codes"),
        ({**TRYTON, "store_location_codes": [1]}, "settings.store_location_codes[0]"),
        ({**TRYTON, "timeout": -1}, "settings.timeout"),
        ({**TRYTON, "database": ""}, "settings.database"),
        ({**TRYTON, "username": 7}, "settings.username"),
    ],
)
async def test_settings_of_the_wrong_type_are_named(
    gateway: Gateway, settings: dict[str, Any], field: str
) -> None:
    await _refused(
        gateway,
        {"adapter": "tryton", "settings": settings, "secrets": {"password": "x"}},
        400,
        {field},
    )


@pytest.mark.parametrize("adapter", ["tryton", "odoo"])
@pytest.mark.parametrize(
    "url", ["http://[::1/", "http://[::1", "ftp://host/", "http://host:99999/", "not a url", ""]
)
async def test_a_url_httpx_cannot_use_is_a_400_naming_the_url(
    gateway: Gateway, adapter: str, url: str
) -> None:
    settings = {**(TRYTON if adapter == "tryton" else ODOO), "url": url}
    await _refused(
        gateway,
        {"adapter": adapter, "settings": settings, "secrets": {"password": "x"}},
        400,
        {"settings.url"},
    )


async def test_a_url_the_schema_accepts_is_then_checked_by_logging_in(gateway: Gateway) -> None:
    # Port 9 (discard) has no Tryton: a well-formed binding gets as far as the login, 422.
    tenant, _ = await _tenant(gateway)
    before = await _bindings(gateway, tenant)
    response = await _put(
        gateway,
        tenant,
        {
            "adapter": "tryton",
            "settings": {**TRYTON, "url": "http://[::1]:9/"},
            "secrets": {"password": "x"},
        },
    )
    assert response.status_code == 422, response.text
    assert await _bindings(gateway, tenant) == before


# -- the shield object -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shield", "field"),
    [
        ({"rate": -1}, "settings.shield.rate"),
        ({"rate": 0}, "settings.shield.rate"),
        ({"burst": 0}, "settings.shield.burst"),
        ({"concurrency": 0}, "settings.shield.concurrency"),
        ({"timeout": 0}, "settings.shield.timeout"),
        ({"failures": 0}, "settings.shield.failures"),
        ({"cooldown": -5}, "settings.shield.cooldown"),
        ({"browse_wait": -1}, "settings.shield.browse_wait"),
        ({"reserve": -1}, "settings.shield.reserve"),
        ({"burst": 4, "reserve": 4}, "settings.shield.reserve"),
        ({"rate": "fast"}, "settings.shield.rate"),
        ({"ratee": 5}, "settings.shield.ratee"),
        (5, "settings.shield"),
    ],
)
async def test_an_impossible_shield_is_refused(gateway: Gateway, shield: Any, field: str) -> None:
    tenant, client = await _tenant(gateway)
    await _refused(
        gateway,
        {"adapter": "sandbox", "settings": {"dataset": tenant, "shield": shield}},
        400,
        {field},
        tenant=tenant,
    )
    # ...and the tenant still reads (its old shield is in force).
    products = await gateway.http.get(
        "/v1/products", params={"limit": 1}, headers=await gateway.headers(client)
    )
    assert products.status_code == 200


async def test_a_sensible_shield_is_saved_and_reads_go_through(gateway: Gateway) -> None:
    tenant, client = await _tenant(gateway)
    shield = {"rate": 50, "burst": 10, "concurrency": 4, "reserve": 1, "timeout": 2.5}
    response = await _put(
        gateway, tenant, {"adapter": "sandbox", "settings": {"dataset": tenant, "shield": shield}}
    )
    assert response.status_code == 200, response.text
    assert {b["settings"]["shield"]["rate"] for b in await _bindings(gateway, tenant)} == {50}
    products = await gateway.http.get(
        "/v1/products", params={"limit": 1}, headers=await gateway.headers(client)
    )
    assert products.status_code == 200


# -- sandbox data sets belong to their tenant -----------------------------------------------


async def test_a_tenant_cannot_bind_another_tenants_data_set(gateway: Gateway) -> None:
    for dataset in ("acme", "acme:next", "globex:../acme", "globexx", "glob", "GLOBEX"):
        problem = await _refused(
            gateway,
            {"adapter": "sandbox", "settings": {"dataset": dataset}},
            400,
            {"settings.dataset"},
            tenant="globex",
        )
        assert any("globex" in error["message"] for error in problem["errors"])
    # globex still reads its own data, not acme's
    listed = await gateway.http.get(
        "/v1/customers", params={"limit": 1}, headers=await gateway.headers("globex-client")
    )
    assert listed.status_code == 200


async def test_a_data_set_never_set_up_is_refused(gateway: Gateway) -> None:
    tenant, _ = await _tenant(gateway)
    problem = await _refused(
        gateway,
        {"adapter": "sandbox", "settings": {"dataset": f"{tenant}:never"}},
        422,
        {"settings.dataset"},
        tenant=tenant,
    )
    assert "never set up" in problem["errors"][0]["message"]


async def test_a_tenants_second_data_set_is_set_up_when_bound_with_provision(
    gateway: Gateway,
) -> None:
    tenant, client = await _tenant(gateway)
    dataset = f"{tenant}:second"
    response = await _put(
        gateway,
        tenant,
        {"adapter": "sandbox", "settings": {"dataset": dataset}, "provision": True},
    )
    assert response.status_code == 200, response.text
    assert {b["settings"]["dataset"] for b in await _bindings(gateway, tenant)} == {dataset}
    products = await gateway.http.get(
        "/v1/products", params={"limit": 5}, headers=await gateway.headers(client)
    )
    assert products.status_code == 200
    assert len(products.json()["data"]) == 5  # seeded, not an empty shop
    # and back to its first data set, which exists already
    back = await _put(gateway, tenant, {"adapter": "sandbox", "settings": {"dataset": tenant}})
    assert back.status_code == 200, back.text


async def test_provision_never_sets_up_another_tenants_data_set(gateway: Gateway) -> None:
    await _refused(
        gateway,
        {"adapter": "sandbox", "settings": {"dataset": "acme:stolen"}, "provision": True},
        400,
        {"settings.dataset"},
        tenant="globex",
    )


async def test_an_unknown_adapter_names_the_adapter(gateway: Gateway) -> None:
    await _refused(gateway, {"adapter": "sap", "settings": {}}, 400, {"adapter"})
