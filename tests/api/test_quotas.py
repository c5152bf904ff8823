"""Quotas as channels meet them: RateLimit-Policy / RateLimit headers on every authenticated
response, 429 problem with Retry-After once a quota is used up, per route class, per tenant
and per client, and the token endpoint counted too."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event

from adapters._demo import demo_dataset
from app.publicids import PRODUCT, public_id
from tests.support import payloads
from tests.support.gateway import TEST_QUOTAS, Gateway, make_settings, running_gateway

DEMO = demo_dataset()
HEADER = re.compile(r'^"(?P<name>tenant|client)";(?P<a>[qr])=(?P<n>\d+);(?P<b>[wt])=(?P<m>\d+)$')


def _items(value: str) -> dict[str, tuple[int, int]]:
    items = {}
    for item in value.split(", "):
        match = HEADER.match(item)
        assert match, item
        items[match["name"]] = (int(match["n"]), int(match["m"]))
    return items


async def _tenant_with(gw: Gateway, quotas: dict[str, object]) -> str:
    tenant = f"q-{uuid.uuid4().hex[:8]}"
    client, _ = await gw.add_tenant(tenant)
    response = await gw.http.put(
        f"/admin/tenants/{tenant}/quotas", json=quotas, headers=await gw.headers("operator")
    )
    assert response.status_code == 200, response.text
    return client


async def test_authenticated_responses_announce_the_quotas(gateway: Gateway) -> None:
    response = await gateway.http.get(
        "/v1/products?limit=1", headers=await gateway.headers("acme-client")
    )
    assert response.status_code == 200
    policy = _items(response.headers["ratelimit-policy"])
    state = _items(response.headers["ratelimit"])
    assert set(policy) == set(state) == {"tenant", "client"}
    for name, (quota, window) in policy.items():
        remaining, reset = state[name]
        assert 0 <= remaining < quota
        assert 1 <= reset <= window
    unauthenticated = await gateway.http.get("/v1/products")
    assert "ratelimit" not in unauthenticated.headers


async def test_a_client_over_its_read_quota_gets_429_with_retry_after(gateway: Gateway) -> None:
    client = await _tenant_with(gateway, {"read": {"client": {"quota": 3, "window": 3600}}})
    headers = await gateway.headers(client)
    statuses = [
        (await gateway.http.get("/v1/products?limit=1", headers=headers)).status_code
        for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    refused = await gateway.http.get("/v1/products?limit=1", headers=headers)
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    assert _items(refused.headers["ratelimit"])["client"][0] == 0
    # Writes have their own quota: still allowed.
    order = await gateway.http.post(
        "/v1/orders",
        json=payloads.order(),
        headers=await gateway.headers(client, **{"Idempotency-Key": payloads.idem()}),
    )
    assert order.status_code == 202, order.text


async def test_the_tenant_quota_is_shared_by_its_clients(gateway: Gateway) -> None:
    first = await _tenant_with(gateway, {"write": {"tenant": {"quota": 2, "window": 3600}}})
    tenant = first.removesuffix("-client")
    second, _ = await gateway.add_client(f"{tenant}-second", tenant)
    outcomes = []
    for client in (first, second, first, second):
        response = await gateway.http.post(
            "/v1/orders",
            json=payloads.order(),
            headers=await gateway.headers(client, **{"Idempotency-Key": payloads.idem()}),
        )
        outcomes.append(response.status_code)
    assert outcomes == [202, 202, 429, 429]


async def test_the_token_endpoint_is_counted_per_client(gateway: Gateway) -> None:
    client_id, secret = await gateway.add_client(f"tok-{uuid.uuid4().hex[:8]}", "acme")
    seen = []
    for _ in range(62):
        response = await gateway.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, "wrong-" + secret),
        )
        seen.append(response.status_code)
    assert seen[:60] == [401] * 60  # the default token quota is 60 a minute per client
    assert seen[60:] == [429, 429]
    last = await gateway.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert last.status_code == 429 and last.json()["error"] == "too_many_requests"
    assert int(last.headers["retry-after"]) >= 1


async def test_quota_overrides_are_validated(gateway: Gateway) -> None:
    tenant = f"qv-{uuid.uuid4().hex[:8]}"
    await gateway.add_tenant(tenant)
    operator = await gateway.headers("operator")
    bad = await gateway.http.put(
        f"/admin/tenants/{tenant}/quotas",
        json={"read": {"client": {"quota": 0, "window": 60}}},
        headers=operator,
    )
    assert bad.status_code == 400
    unknown = await gateway.http.put(
        f"/admin/tenants/{tenant}/quotas", json={"reads": {}}, headers=operator
    )
    assert unknown.status_code == 400
    current = (await gateway.http.get(f"/admin/tenants/{tenant}/quotas", headers=operator)).json()
    assert current["read"]["tenant"]["quota"] == 1_000_000  # the test gateway's defaults


async def test_a_refused_request_consumes_no_quota(gateway: Gateway) -> None:
    """A client at its own limit is refused without eating its tenant's quota: the tenant's
    other clients still get the rest."""
    hammering = await _tenant_with(
        gateway,
        {
            "read": {
                "tenant": {"quota": 10, "window": 3600},
                "client": {"quota": 3, "window": 3600},
            }
        },
    )
    tenant = hammering.removesuffix("-client")
    statuses = []
    for _ in range(20):
        response = await gateway.http.get(
            "/v1/products?limit=1", headers=await gateway.headers(hammering)
        )
        statuses.append(response.status_code)
    assert statuses == [200] * 3 + [429] * 17
    refused = _items(response.headers["ratelimit"])
    assert refused["client"][0] == 0
    assert refused["tenant"][0] == 7  # what the three admitted requests left
    # A second client of the tenant, on a policy of its own, gets what the tenant has left.
    other, _ = await gateway.add_client(f"{tenant}-other", tenant)
    later = [
        (
            await gateway.http.get("/v1/products?limit=1", headers=await gateway.headers(other))
        ).status_code
        for _ in range(9)
    ]
    assert later == [200, 200, 200, 429, 429, 429, 429, 429, 429]  # its own client limit: 3
    again = await gateway.http.get("/v1/products?limit=1", headers=await gateway.headers(other))
    assert _items(again.headers["ratelimit"])["tenant"][0] == 4


async def test_admin_responses_announce_the_operators_quota(gateway: Gateway) -> None:
    operator = await gateway.headers("operator")
    answers = [
        await gateway.http.get("/admin/tenants/acme/quotas", headers=operator),
        await gateway.http.get("/admin/tenants/no-such-tenant/quotas", headers=operator),
        # An operator's token on /v1 (no tenant: refused) is still an authenticated request.
        await gateway.http.get("/v1/products", headers=operator),
        # A channel client's token on /admin: 403, counted against that client.
        await gateway.http.get(
            "/admin/tenants/acme/quotas", headers=await gateway.headers("acme-client")
        ),
    ]
    assert [a.status_code for a in answers] == [200, 404, 403, 403]
    for answer in answers[:2]:
        policy = _items(answer.headers["ratelimit-policy"])
        assert policy == {"client": (3000, 60)}  # the admin class: per client, no tenant
        assert set(_items(answer.headers["ratelimit"])) == {"client"}
    assert "client" in _items(answers[2].headers["ratelimit-policy"])
    assert _items(answers[3].headers["ratelimit-policy"]) == {"client": (3000, 60)}
    unauthenticated = await gateway.http.get("/admin/tenants/acme/quotas")
    assert unauthenticated.status_code == 401 and "ratelimit" not in unauthenticated.headers


async def test_an_operator_over_the_admin_quota_gets_429(tmp_path: Path) -> None:
    quotas = {**TEST_QUOTAS, "admin": {"client": {"quota": 3, "window": 3600}}}
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}", tmp_path / "var", quota_defaults=quotas
    )
    async with running_gateway(settings) as gw:
        await gw.add_tenant("acme")
        await gw.add_client("operator", None)
        operator = await gw.headers("operator")
        answers = [await gw.http.get("/admin/tenants", headers=operator) for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        refused = answers[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 3600
        assert _items(refused.headers["ratelimit"]) == {
            "client": (0, int(refused.headers["retry-after"]))
        }
        # Channels are not held back by an operator's use.
        channel = await gw.http.get("/v1/products?limit=1", headers=await gw.headers("acme-client"))
        assert channel.status_code == 200


async def test_a_refused_read_costs_the_backend_and_the_database_nothing(
    gateway: Gateway,
) -> None:
    """A read begins while its quota is decided (its cache lookup costs nothing), but one the
    quota refuses sends no backend request and opens no database session."""
    client = await _tenant_with(gateway, {"read": {"client": {"quota": 1, "window": 3600}}})
    headers = await gateway.headers(client)
    first = await gateway.http.get(_product(DEMO.products[5].code), headers=headers)
    assert first.status_code == 200, first.text
    assert first.headers["cache-status"] == "retail-gateway; fwd=miss"

    # Connections the reads themselves take (not the embedded worker polling meanwhile): the
    # test client runs each request in this task.
    reading = asyncio.current_task()
    taken: list[object] = []

    def checkout(*_: Any) -> None:
        if asyncio.current_task() is reading:
            taken.append(reading)

    engine = gateway.services.db.engine.sync_engine
    event.listen(engine, "checkout", checkout)
    granted = _granted(gateway)
    for path in (_product(DEMO.products[6].code), "/v1/orders/ord_00000000000000000000000000"):
        refused = await gateway.http.get(path, headers=headers)
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["title"] == "Too many requests"
        assert int(refused.headers["retry-after"]) >= 1
        assert _items(refused.headers["ratelimit"])["client"][0] == 0
    assert _granted(gateway) == granted  # no backend request
    event.remove(engine, "checkout", checkout)
    assert taken == []  # no database connection taken
    # The product the refused read was after is not cached: its load never ran.
    other = await gateway.headers((await gateway.add_client(f"{client}-2", client[:-7]))[0])
    fetched = await gateway.http.get(_product(DEMO.products[6].code), headers=other)
    assert fetched.headers["cache-status"] == "retail-gateway; fwd=miss"


def _product(code: str) -> str:
    return f"/v1/products/{public_id(PRODUCT, code)}"


def _granted(gw: Gateway) -> int:
    return sum(shield.counts["granted"] for shield in gw.services.shields.known())
