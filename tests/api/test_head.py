"""HEAD wherever GET is served (RFC 9110 §9.3.2): the same status and headers as the GET,
Content-Length included, and no body; conditional, authorised and counted like the GET."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import payloads
from tests.support.gateway import Gateway

CLIENT = "acme-client"
# Headers that differ between two answers by nature (a new id, quota left, time).
VOLATILE = {"x-correlation-id", "ratelimit", "date", "cache-status"}


async def _order_id(gateway: Gateway) -> str:
    response = await gateway.http.post(
        "/v1/orders",
        json=payloads.order(),
        headers=await gateway.headers(CLIENT, **{"Idempotency-Key": payloads.idem()}),
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def _paths(gateway: Gateway) -> list[str]:
    headers = await gateway.headers(CLIENT)
    products = (await gateway.http.get("/v1/products?limit=1", headers=headers)).json()
    customers = (await gateway.http.get("/v1/customers?limit=1", headers=headers)).json()
    order_id = await _order_id(gateway)
    return [
        "/v1/products?limit=2",
        f"/v1/products/{products['data'][0]['id']}",
        f"/v1/inventory?sku={payloads.SKU_A}",
        f"/v1/availability?sku={payloads.SKU_A}&channel=web",
        "/v1/customers?limit=2",
        f"/v1/customers/{customers['data'][0]['id']}",
        "/v1/orders?limit=2",
        f"/v1/orders/{order_id}",
        f"/v1/orders/{order_id}/events",
    ]


async def _get_and_head(
    gateway: Gateway, path: str, headers: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    """A GET and a HEAD of the same state: other tests move stock and orders meanwhile, so
    the pair counts only when a GET after the HEAD still has the first GET's ETag."""
    for _ in range(20):
        before = await gateway.http.get(path, headers=headers)
        head = await gateway.http.head(path, headers=headers)
        after = await gateway.http.get(path, headers=headers)
        if before.headers.get("etag") == after.headers.get("etag"):
            return before, head
    raise AssertionError(f"{path} kept changing")


def _stable(response: httpx.Response) -> dict[str, Any]:
    return {k: v for k, v in response.headers.items() if k not in VOLATILE}


async def test_head_answers_every_v1_read_as_get_without_the_body(gateway: Gateway) -> None:
    headers = await gateway.headers(CLIENT)
    for path in await _paths(gateway):
        got, head = await _get_and_head(gateway, path, headers)
        assert got.status_code == 200, (path, got.text)
        assert head.status_code == 200, (path, head.status_code)
        assert head.content == b"", path
        assert _stable(head) == _stable(got), path
        assert head.headers["content-length"] == str(len(got.content)), path
        assert head.headers["etag"] == got.headers["etag"], path
        assert head.headers["x-correlation-id"], path
        assert "ratelimit" in head.headers, path


async def test_head_is_conditional_like_get(gateway: Gateway) -> None:
    headers = await gateway.headers(CLIENT)
    got = await gateway.http.get("/v1/products?limit=3", headers=headers)
    head = await gateway.http.head(
        "/v1/products?limit=3", headers={**headers, "If-None-Match": got.headers["etag"]}
    )
    assert head.status_code == 304
    assert head.content == b""
    assert head.headers["etag"] == got.headers["etag"]
    assert head.headers["cache-status"].startswith("retail-gateway; ")


async def test_head_needs_the_same_token_and_scope_as_get(gateway: Gateway) -> None:
    anonymous = await gateway.http.head("/v1/products")
    assert anonymous.status_code == 401
    assert anonymous.content == b""
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    narrow = await gateway.token(CLIENT, scope="orders:read")
    refused = await gateway.http.head("/v1/products", headers={"Authorization": f"Bearer {narrow}"})
    assert refused.status_code == 403
    assert refused.content == b""


@pytest.mark.parametrize("path", ["/health/live", "/.well-known/jwks.json"])
async def test_head_on_public_reads(gateway: Gateway, path: str) -> None:
    head = await gateway.http.head(path)
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) > 0


async def test_head_where_there_is_no_get_is_405(gateway: Gateway) -> None:
    response = await gateway.http.head("/oauth/token")
    assert response.status_code == 405
    assert response.content == b""
    assert "GET" not in response.headers.get("allow", "")
