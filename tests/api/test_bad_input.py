"""Bad input gets the right 4xx as an RFC 9457 problem, and writes nothing.

Every rejected `POST /v1/orders` is followed by two checks: no order with the body's
`external_reference` exists, and the same `Idempotency-Key` then works with a valid body (a
rejected attempt must not consume the key). No test here accepts a 5xx: each asserts the exact
status the contract calls for.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.support import payloads
from tests.support.gateway import Gateway

CLIENT = "acme-client"
OTHER_TENANT_CLIENT = "globex-client"
PROBLEM = "application/problem+json"
LIST_ENDPOINTS = ["/v1/products", "/v1/inventory", "/v1/customers", "/v1/orders"]
ONE_MIB = 1_048_576


# --- helpers -------------------------------------------------------------------------------


def pointer_of(field: str) -> str:
    """RFC 6901 pointer of a dotted field path: `lines[0].sku` -> `/lines/0/sku`."""
    parts = [p for p in field.replace("[", ".").replace("]", "").split(".") if p]
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def assert_problem(
    response: httpx.Response,
    status: int,
    *,
    field: str | None = None,
    slug: str | None = None,
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with `status`; when `field` is given, `errors[]`
    names it (with its JSON pointer and a message). The body's `correlation_id` is the one in
    the `X-Correlation-ID` header."""
    assert response.status_code == status, (
        f"expected {status}, got {response.status_code}: {response.text}"
    )
    assert response.headers["content-type"].startswith(PROBLEM), response.headers.get(
        "content-type"
    )
    assert "Traceback" not in response.text
    body: dict[str, Any] = response.json()
    for key in ("type", "title", "status", "detail", "correlation_id"):
        assert key in body, f"problem lacks `{key}`: {body}"
    assert body["status"] == status
    assert isinstance(body["type"], str)
    assert body["type"]
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert "x-correlation-id" in response.headers, f"{status} response without X-Correlation-ID"
    assert body["correlation_id"] == response.headers["x-correlation-id"]
    if slug is not None:
        assert body["type"].endswith("/" + slug), body["type"]
    if field is not None:
        errors = body.get("errors")
        assert errors, f"problem has no errors[] though `{field}` is at fault: {body}"
        for error in errors:
            assert set(error) >= {"field", "pointer", "message"}, error
        named = [e for e in errors if e["field"] == field]
        assert named, f"errors[] does not name `{field}`: {errors}"
        assert named[0]["pointer"] == pointer_of(field)
        assert named[0]["message"]
    return body


async def auth(gateway: Gateway, client: str = CLIENT, **extra: str) -> dict[str, str]:
    return await gateway.headers(client, **extra)


async def post_order(
    gateway: Gateway,
    body: dict[str, Any] | bytes | None,
    *,
    key: str | None,
    content_type: str = "application/json",
    client: str = CLIENT,
) -> httpx.Response:
    headers = await auth(gateway, client)
    if key is not None:
        headers["Idempotency-Key"] = key
    content = (
        body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
    )
    headers["Content-Type"] = content_type
    return await gateway.http.post("/v1/orders", content=content, headers=headers)


async def orders_with_reference(
    gateway: Gateway, reference: str, client: str = CLIENT
) -> list[dict[str, Any]]:
    response = await gateway.http.get(
        "/v1/orders", params={"external_reference": reference}, headers=await auth(gateway, client)
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def assert_nothing_written_and_key_reusable(
    gateway: Gateway, valid: dict[str, Any], key: str
) -> None:
    """No order of `valid`'s reference exists; `key` then works for `valid` (202)."""
    reference = valid["external_reference"]
    assert await orders_with_reference(gateway, reference) == []
    retry = await post_order(gateway, valid, key=key)
    assert retry.status_code == 202, (
        f"the rejected attempt consumed the key: {retry.status_code} {retry.text}"
    )
    assert "idempotent-replayed" not in retry.headers
    assert [o["id"] for o in await orders_with_reference(gateway, reference)] == [
        retry.json()["id"]
    ]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# --- POST /v1/orders: bodies that fail validation -------------------------------------------

Mutation = Callable[[dict[str, Any]], dict[str, Any] | bytes]


def _set(path: str, value: Any) -> Mutation:
    """Set a value at a dotted path (`lines.0.quantity`) of a copy of the body."""

    def mutate(body: dict[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(body)
        target: Any = body
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
        return body

    return mutate


def _drop(path: str) -> Mutation:
    def mutate(body: dict[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(body)
        target: Any = body
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        del target[last]
        return body

    return mutate


def _line(
    sku: str = payloads.SKU_A, quantity: Any = 1, amount: Any = "10.00", currency: Any = "EUR"
) -> dict[str, Any]:
    return {
        "sku": sku,
        "quantity": quantity,
        "unit_price": {"amount": amount, "currency": currency},
    }


def _lines(*lines: dict[str, Any]) -> Mutation:
    return _set("lines", list(lines))


def _eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def _raw(content: bytes) -> Mutation:
    return lambda _body: content


def _unknown_customer_id() -> str:
    return "cus_" + b64url(b"NO-SUCH-CUSTOMER-404")


INVALID_ORDERS = [
    # Not JSON, or not an object.
    pytest.param(_raw(b'{"channel": "web", "lines": ['), 400, None, id="malformed-json"),
    pytest.param(_raw(b""), 400, None, id="empty-body"),
    pytest.param(_raw(b"   "), 400, None, id="whitespace-body"),
    pytest.param(_raw(b"null"), 400, None, id="json-null"),
    pytest.param(_raw(b"[]"), 400, None, id="json-array"),
    pytest.param(_raw(b'"an order"'), 400, None, id="json-string"),
    pytest.param(_raw(b"\xff\xfe\x00{"), 400, None, id="not-utf8"),
    pytest.param(_raw(b"[" * 100_000 + b"]" * 100_000), 400, None, id="deeply-nested-json"),
    pytest.param(_raw(b"{}"), 400, None, id="empty-object"),
    # Wrong types.
    pytest.param(_set("lines.0.quantity", "5"), 400, "lines[0].quantity", id="quantity-as-string"),
    pytest.param(_set("lines.0.quantity", 1.5), 400, "lines[0].quantity", id="quantity-fractional"),
    pytest.param(_set("lines.0.quantity", True), 400, "lines[0].quantity", id="quantity-boolean"),
    pytest.param(_set("lines", _line()), 400, "lines", id="lines-not-a-list"),
    pytest.param(_set("lines", "TEE-1001-GRY-S"), 400, "lines", id="lines-a-string"),
    pytest.param(
        _set("lines.0.unit_price.amount", 16.0),
        400,
        "lines[0].unit_price.amount",
        id="amount-as-float",
    ),
    pytest.param(
        _set("lines.0.unit_price", "16.00 EUR"),
        400,
        "lines[0].unit_price",
        id="unit-price-as-string",
    ),
    pytest.param(_set("customer", "ana@example.com"), 400, "customer", id="customer-as-string"),
    pytest.param(
        _set("shipping_address", None), 400, "shipping_address", id="shipping-address-null"
    ),
    pytest.param(_set("placed_at", 1_790_000_000), 400, "placed_at", id="placed-at-as-number"),
    pytest.param(_set("channel", 1), 400, "channel", id="channel-as-number"),
    # Missing required fields.
    pytest.param(_drop("channel"), 400, "channel", id="missing-channel"),
    pytest.param(_drop("lines"), 400, "lines", id="missing-lines"),
    pytest.param(_drop("shipping_address"), 400, "shipping_address", id="missing-shipping-address"),
    pytest.param(_drop("placed_at"), 400, "placed_at", id="missing-placed-at"),
    pytest.param(_drop("lines.0.unit_price"), 400, "lines[0].unit_price", id="missing-unit-price"),
    pytest.param(
        _drop("shipping_address.country"), 400, "shipping_address.country", id="missing-country"
    ),
    # Unknown fields, top level and nested.
    pytest.param(_set("coupon", "BLACKFRIDAY"), 400, "coupon", id="unknown-top-level-field"),
    pytest.param(
        _set("shipping_address.floor", "3"),
        400,
        "shipping_address.floor",
        id="unknown-address-field",
    ),
    pytest.param(
        _set("lines.0.gift_wrap", True), 400, "lines[0].gift_wrap", id="unknown-line-field"
    ),
    pytest.param(
        _set("customer.nickname", "ana"), 400, "customer.nickname", id="unknown-customer-field"
    ),
    pytest.param(
        _set("lines.0.unit_price.precision", 2),
        400,
        "lines[0].unit_price.precision",
        id="unknown-money-field",
    ),
    # Quantities and prices.
    pytest.param(_set("lines.0.quantity", 0), 400, "lines[0].quantity", id="zero-quantity"),
    pytest.param(_set("lines.0.quantity", -1), 400, "lines[0].quantity", id="negative-quantity"),
    pytest.param(
        _set("lines.0.quantity", 100_001), 400, "lines[0].quantity", id="quantity-over-maximum"
    ),
    pytest.param(_set("lines.0.quantity", 10**30), 400, "lines[0].quantity", id="quantity-huge"),
    pytest.param(
        _set("lines.0.unit_price.amount", "-16.00"),
        400,
        "lines[0].unit_price",
        id="negative-unit-price",
    ),
    pytest.param(
        _set("lines.0.unit_price.amount", "16,00"),
        400,
        "lines[0].unit_price.amount",
        id="amount-with-comma",
    ),
    pytest.param(
        _set("lines.0.unit_price.amount", "1e3"),
        400,
        "lines[0].unit_price.amount",
        id="amount-exponent",
    ),
    pytest.param(
        _set("lines.0.unit_price.amount", "NaN"), 400, "lines[0].unit_price.amount", id="amount-nan"
    ),
    pytest.param(_set("lines", []), 400, "lines", id="no-lines"),
    pytest.param(_set("lines", [_line()] * 501), 400, "lines", id="too-many-lines"),
    # Currencies.
    pytest.param(
        _set("lines.0.unit_price.currency", "EUR1"),
        400,
        "lines[0].unit_price.currency",
        id="currency-EUR1",
    ),
    pytest.param(
        _set("lines.0.unit_price.currency", "XXX"),
        400,
        "lines[0].unit_price.currency",
        id="currency-XXX",
    ),
    pytest.param(
        _set("lines.0.unit_price.currency", "ZZZ"),
        400,
        "lines[0].unit_price.currency",
        id="currency-ZZZ",
    ),
    pytest.param(
        _set("lines.0.unit_price.currency", "eur"),
        400,
        "lines[0].unit_price.currency",
        id="currency-lowercase",
    ),
    pytest.param(
        _set("lines.0.unit_price.currency", ""),
        400,
        "lines[0].unit_price.currency",
        id="currency-empty",
    ),
    pytest.param(
        _lines(_line(currency="EUR"), _line(sku=payloads.SKU_B, currency="USD")),
        422,
        "lines",
        id="mixed-currencies",
    ),
    pytest.param(
        _set(
            "totals",
            {
                "subtotal": {"amount": "32.00", "currency": "USD"},
                "total": {"amount": "32.00", "currency": "USD"},
            },
        ),
        422,
        "totals.total",
        id="totals-in-another-currency",
    ),
    # Totals: checked against the lines (2 x 16.00 EUR), never negative.
    pytest.param(
        _set("totals", {"subtotal": _eur("-32.00"), "total": _eur("-32.00")}),
        422,
        "totals.subtotal",
        id="totals-negative",
    ),
    pytest.param(
        _set(
            "totals",
            {"subtotal": _eur("32.00"), "discount": _eur("-5.00"), "total": _eur("37.00")},
        ),
        422,
        "totals.discount",
        id="totals-negative-discount",
    ),
    pytest.param(
        _set("totals", {"subtotal": _eur("30.00"), "total": _eur("30.00")}),
        422,
        "totals.subtotal",
        id="totals-subtotal-not-the-lines",
    ),
    pytest.param(
        _set(
            "totals",
            {"subtotal": _eur("32.00"), "shipping": _eur("4.95"), "total": _eur("32.00")},
        ),
        422,
        "totals.total",
        id="totals-total-does-not-add-up",
    ),
    # Amounts with more decimals than their currency has (ISO 4217 minor units).
    pytest.param(
        _lines(_line(amount="1.50", currency="JPY")),
        422,
        "lines[0].unit_price.amount",
        id="amount-JPY-with-decimals",
    ),
    pytest.param(
        _lines(_line(amount="1.001")), 422, "lines[0].unit_price.amount", id="amount-EUR-1.001"
    ),
    pytest.param(
        _set("totals", {"subtotal": _eur("32.00"), "total": _eur("32.001")}),
        422,
        "totals.total.amount",
        id="totals-amount-EUR-3-decimals",
    ),
    # Phones: no control characters.
    pytest.param(
        _set("shipping_address.phone", "+31 20\n555 0100"),
        400,
        "shipping_address.phone",
        id="phone-with-newline",
    ),
    pytest.param(
        _set("billing_address", {**payloads.address(), "phone": "+31\u0007 20 555"}),
        400,
        "billing_address.phone",
        id="phone-with-bell",
    ),
    # Countries.
    pytest.param(
        _set("shipping_address.country", "NLD"), 400, "shipping_address.country", id="country-NLD"
    ),
    pytest.param(
        _set("shipping_address.country", "XX"), 400, "shipping_address.country", id="country-XX"
    ),
    pytest.param(
        _set("shipping_address.country", "nl"),
        400,
        "shipping_address.country",
        id="country-lowercase",
    ),
    pytest.param(
        _set("billing_address", payloads.address(country="XX")),
        400,
        "billing_address.country",
        id="billing-country-XX",
    ),
    # Timestamps.
    pytest.param(
        _set("placed_at", "2026-11-28T10:00:00"), 400, "placed_at", id="placed-at-without-offset"
    ),
    pytest.param(_set("placed_at", "2026-11-28"), 400, "placed_at", id="placed-at-date-only"),
    pytest.param(_set("placed_at", "yesterday"), 400, "placed_at", id="placed-at-not-a-timestamp"),
    pytest.param(
        _set("placed_at", "2026-13-45T10:00:00Z"), 400, "placed_at", id="placed-at-impossible-date"
    ),
    # Valid RFC 3339, but not representable once converted to UTC.
    pytest.param(
        _set("placed_at", "0001-01-01T00:00:00+01:00"),
        400,
        "placed_at",
        id="placed-at-before-year-1-in-utc",
    ),
    pytest.param(
        _set("placed_at", "9999-12-31T23:59:59-01:00"),
        400,
        "placed_at",
        id="placed-at-after-year-9999-in-utc",
    ),
    # NUL characters: not text any address or name can hold (PostgreSQL cannot even store them).
    pytest.param(
        _set("shipping_address.city", "Amster\u0000dam"),
        400,
        "shipping_address.city",
        id="nul-in-city",
    ),
    pytest.param(
        _set("customer.first_name", "A\u0000na"),
        400,
        "customer.first_name",
        id="nul-in-customer-name",
    ),
    pytest.param(
        _set("customer.email", "ana\u0000@example.com"),
        400,
        "customer.email",
        id="nul-in-customer-email",
    ),
    # SKUs.
    pytest.param(_set("lines.0.sku", "NO-SUCH-SKU-999"), 422, "lines[0].sku", id="unknown-sku"),
    pytest.param(
        _lines(_line(), _line(sku="NO-SUCH-SKU-998")),
        422,
        "lines[1].sku",
        id="unknown-sku-on-second-line",
    ),
    pytest.param(_set("lines.0.sku", ""), 400, "lines[0].sku", id="empty-sku"),
    pytest.param(_set("lines.0.sku", "TEE 1001"), 400, "lines[0].sku", id="sku-with-space"),
    # Channels.
    pytest.param(_set("channel", "telefax"), 422, "channel", id="unknown-channel"),
    pytest.param(_set("channel", "Web Shop"), 400, "channel", id="malformed-channel"),
    # Customers.
    pytest.param(
        _set("customer", {"id": _unknown_customer_id()}),
        422,
        "customer.id",
        id="unknown-customer-id",
    ),
    pytest.param(
        _set("customer", {"id": "cus_zz"}), 422, "customer.id", id="non-canonical-customer-id"
    ),
    pytest.param(_set("customer", {"id": "42"}), 400, "customer.id", id="malformed-customer-id"),
    pytest.param(
        _set("customer", {"id": "ord_abc"}), 400, "customer.id", id="customer-id-of-another-type"
    ),
    pytest.param(
        _set("customer.email", "not-an-email"), 400, "customer.email", id="invalid-customer-email"
    ),
    pytest.param(
        _set("customer.email", "ana@example"),
        400,
        "customer.email",
        id="customer-email-without-tld",
    ),
    pytest.param(
        _set("customer", {"first_name": "Ana"}),
        400,
        "customer.email",
        id="customer-without-id-or-email",
    ),
    # Other references.
    pytest.param(
        _set("external_reference", ""), 400, "external_reference", id="empty-external-reference"
    ),
    pytest.param(
        _set("external_reference", "x" * 101),
        400,
        "external_reference",
        id="long-external-reference",
    ),
    pytest.param(
        _set("external_reference", "WEB-\n1"),
        400,
        "external_reference",
        id="control-char-reference",
    ),
    pytest.param(
        _set("reservation_id", "res_nosuchreservation"),
        422,
        "reservation_id",
        id="unknown-reservation",
    ),
]


@pytest.mark.parametrize(("mutate", "status", "field"), INVALID_ORDERS)
async def test_invalid_order_is_refused_and_writes_nothing(
    gateway: Gateway, mutate: Mutation, status: int, field: str | None
) -> None:
    valid = payloads.order()
    key = payloads.idem()
    response = await post_order(gateway, mutate(valid), key=key)
    assert_problem(response, status, field=field)
    await assert_nothing_written_and_key_reusable(gateway, valid, key)


OVERFLOWING_AMOUNTS = [
    # Each amount is valid, but the line total has more digits than any Money may carry.
    pytest.param(
        [_line(quantity=2, amount="999999999999999.00")], "lines[0]", id="line-total-overflows"
    ),
    # Each line total fits, but their sum does not.
    pytest.param(
        [_line(amount="600000000000000.00"), _line(amount="600000000000000.00")],
        "lines",
        id="subtotal-overflows",
    ),
]


@pytest.mark.parametrize(("lines", "field_prefix"), OVERFLOWING_AMOUNTS)
async def test_amounts_that_overflow_money_are_422_and_write_nothing(
    gateway: Gateway, lines: list[dict[str, Any]], field_prefix: str
) -> None:
    valid = payloads.order()
    key = payloads.idem()
    response = await post_order(gateway, {**valid, "lines": lines}, key=key)
    problem = assert_problem(response, 422)
    assert any(e["field"].startswith(field_prefix) for e in problem.get("errors") or []), problem
    await assert_nothing_written_and_key_reusable(gateway, valid, key)


async def test_unknown_skus_are_named_per_line_and_known_ones_are_not(gateway: Gateway) -> None:
    valid = payloads.order()
    body = {**valid, "lines": [_line(sku="NOPE-1"), _line(), _line(sku="NOPE-2")]}
    response = await post_order(gateway, body, key=payloads.idem())
    problem = assert_problem(response, 422, field="lines[0].sku")
    assert sorted(e["field"] for e in problem["errors"]) == ["lines[0].sku", "lines[2].sku"]
    assert await orders_with_reference(gateway, valid["external_reference"]) == []


NON_JSON_BODIES = [
    pytest.param(
        b"channel=web&external_reference=WEB-1",
        "application/x-www-form-urlencoded",
        id="form-urlencoded",
    ),
    pytest.param(
        b'--b\r\nContent-Disposition: form-data; name="channel"\r\n\r\nweb\r\n--b--\r\n',
        "multipart/form-data; boundary=b",
        id="multipart",
    ),
    pytest.param(b"<order><channel>web</channel></order>", "application/xml", id="xml"),
    pytest.param(None, "text/plain", id="json-labelled-text-plain"),
]


@pytest.mark.parametrize(("content", "content_type"), NON_JSON_BODIES)
async def test_non_json_content_to_a_json_endpoint_is_415_and_writes_nothing(
    gateway: Gateway, content: bytes | None, content_type: str
) -> None:
    valid = payloads.order()
    key = payloads.idem()
    body = content if content is not None else json.dumps(valid).encode()
    response = await post_order(gateway, body, key=key, content_type=content_type)
    assert_problem(response, 415)
    await assert_nothing_written_and_key_reusable(gateway, valid, key)


async def test_json_with_a_charset_parameter_is_accepted(gateway: Gateway) -> None:
    response = await post_order(
        gateway,
        payloads.order(),
        key=payloads.idem(),
        content_type="application/json; charset=utf-8",
    )
    assert response.status_code == 202, response.text


async def test_oversized_body_is_413_and_writes_nothing(gateway: Gateway) -> None:
    valid = payloads.order()
    key = payloads.idem()
    big = {**valid, "customer": {**valid["customer"], "first_name": "A" * (ONE_MIB + 1)}}
    response = await post_order(gateway, big, key=key)
    assert_problem(response, 413)
    await assert_nothing_written_and_key_reusable(gateway, valid, key)


async def test_oversized_chunked_body_without_content_length_is_413(gateway: Gateway) -> None:
    valid = payloads.order()
    key = payloads.idem()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"channel": "web", "padding": "'
        for _ in range(20):
            yield b"x" * 65_536
        yield b'"}'

    headers = await auth(gateway, **{"Idempotency-Key": key, "Content-Type": "application/json"})
    response = await gateway.http.post("/v1/orders", content=chunks(), headers=headers)
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    await assert_nothing_written_and_key_reusable(gateway, valid, key)


async def test_body_of_exactly_one_mib_is_not_refused_for_its_size(gateway: Gateway) -> None:
    valid = payloads.order()
    size = len(json.dumps({**valid, "coupon": ""}).encode())
    body = json.dumps({**valid, "coupon": "x" * (ONE_MIB - size)}).encode()
    assert len(body) == ONE_MIB
    response = await post_order(gateway, body, key=payloads.idem())
    # The unknown `coupon` field is what is wrong, not the size.
    assert_problem(response, 400, field="coupon")


# --- Idempotency-Key ------------------------------------------------------------------------


async def test_missing_idempotency_key_is_400_naming_the_header_and_writes_nothing(
    gateway: Gateway,
) -> None:
    valid = payloads.order()
    response = await post_order(gateway, valid, key=None)
    problem = assert_problem(response, 400)
    assert "idempotency-key" in problem["detail"].lower(), problem
    assert await orders_with_reference(gateway, valid["external_reference"]) == []


async def test_empty_idempotency_key_is_400_and_writes_nothing(gateway: Gateway) -> None:
    valid = payloads.order()
    response = await post_order(gateway, valid, key="")
    assert_problem(response, 400)
    assert await orders_with_reference(gateway, valid["external_reference"]) == []


async def test_idempotency_key_longer_than_255_characters_is_400(gateway: Gateway) -> None:
    valid = payloads.order()
    response = await post_order(gateway, valid, key="k" * 256)
    assert_problem(response, 400)
    assert await orders_with_reference(gateway, valid["external_reference"]) == []


async def test_idempotency_key_of_exactly_255_characters_is_accepted(gateway: Gateway) -> None:
    key = payloads.idem() + "k" * (255 - 32)
    assert len(key) == 255
    response = await post_order(gateway, payloads.order(), key=key)
    assert response.status_code == 202, response.text


async def test_idempotency_key_with_control_characters_is_400(gateway: Gateway) -> None:
    valid = payloads.order()
    response = await post_order(gateway, valid, key="key\twith\ttabs")
    assert_problem(response, 400)
    assert await orders_with_reference(gateway, valid["external_reference"]) == []


async def test_same_key_with_a_different_body_is_422_and_writes_nothing(gateway: Gateway) -> None:
    key = payloads.idem()
    first = payloads.order()
    accepted = await post_order(gateway, first, key=key)
    assert accepted.status_code == 202, accepted.text

    second = payloads.order()
    response = await post_order(gateway, second, key=key)
    assert_problem(response, 422, slug="idempotency-key-reused")
    assert await orders_with_reference(gateway, second["external_reference"]) == []
    # The key still belongs to the first request, which replays.
    replay = await post_order(gateway, first, key=key)
    assert replay.status_code == 202
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == accepted.json()
    assert [o["id"] for o in await orders_with_reference(gateway, first["external_reference"])] == [
        accepted.json()["id"]
    ]


async def test_customer_create_with_a_long_idempotency_key_is_400_and_writes_nothing(
    gateway: Gateway,
) -> None:
    body = payloads.customer()
    headers = await auth(gateway, **{"Idempotency-Key": "k" * 256})
    response = await gateway.http.post("/v1/customers", json=body, headers=headers)
    assert_problem(response, 400)
    assert await customers_with_email(gateway, body["email"]) == []


# --- /v1/customers --------------------------------------------------------------------------


async def customers_with_email(gateway: Gateway, email: str) -> list[dict[str, Any]]:
    response = await gateway.http.get(
        "/v1/customers", params={"email": email}, headers=await auth(gateway)
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


INVALID_CUSTOMERS = [
    pytest.param(_raw(b'{"email": '), 400, None, id="malformed-json"),
    pytest.param(_raw(b""), 400, None, id="empty-body"),
    pytest.param(_raw(b"[]"), 400, None, id="json-array"),
    pytest.param(
        _set("marketing_consent", "yes"), 400, "marketing_consent", id="consent-as-string"
    ),
    pytest.param(_set("marketing_consent", 1), 400, "marketing_consent", id="consent-as-number"),
    pytest.param(_set("email", "not-an-email"), 400, "email", id="invalid-email"),
    pytest.param(_set("email", "ana @example.com"), 400, "email", id="email-with-space"),
    pytest.param(_set("email", "ana@example"), 400, "email", id="email-without-tld"),
    pytest.param(_set("email", 42), 400, "email", id="email-as-number"),
    pytest.param(_drop("last_name"), 400, "last_name", id="missing-last-name"),
    pytest.param(_set("first_name", ""), 400, "first_name", id="empty-first-name"),
    pytest.param(_set("phone", 31205550100), 400, "phone", id="phone-as-number"),
    pytest.param(_set("phone", "call me maybe"), 400, "phone", id="phone-with-letters"),
    pytest.param(_set("loyalty_tier", "gold"), 400, "loyalty_tier", id="unknown-top-level-field"),
    pytest.param(
        _set("addresses", payloads.address()), 400, "addresses", id="addresses-not-a-list"
    ),
    pytest.param(
        _set("addresses", [payloads.address(floor="3")]),
        400,
        "addresses[0].floor",
        id="unknown-address-field",
    ),
    pytest.param(
        _set("addresses", [payloads.address(country="NLD")]),
        400,
        "addresses[0].country",
        id="address-country-NLD",
    ),
    pytest.param(
        _set("addresses", [payloads.address(country="XX")]),
        400,
        "addresses[0].country",
        id="address-country-XX",
    ),
    pytest.param(_set("first_name", "Da\u0000an"), 400, "first_name", id="nul-in-first-name"),
    pytest.param(
        _set("addresses", [payloads.address(line1="Dam\u00001")]),
        400,
        "addresses[0].line1",
        id="nul-in-address",
    ),
]


@pytest.mark.parametrize(("mutate", "status", "field"), INVALID_CUSTOMERS)
async def test_invalid_customer_is_refused_and_writes_nothing(
    gateway: Gateway, mutate: Mutation, status: int, field: str | None
) -> None:
    valid = payloads.customer()
    body = mutate(valid)
    headers = await auth(gateway, **{"Content-Type": "application/json"})
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await gateway.http.post("/v1/customers", content=content, headers=headers)
    assert_problem(response, status, field=field)
    assert await customers_with_email(gateway, valid["email"]) == []


async def an_existing_customer(gateway: Gateway) -> dict[str, Any]:
    response = await gateway.http.get(
        "/v1/customers", params={"limit": 1}, headers=await auth(gateway)
    )
    assert response.status_code == 200, response.text
    customer: dict[str, Any] = response.json()["data"][0]
    return customer


INVALID_PATCHES = [
    pytest.param(b'{"loyalty_tier": "gold"}', "loyalty_tier", id="unknown-field"),
    pytest.param(
        b'{"first_name": "Ana", "nickname": "A"}', "nickname", id="unknown-field-beside-a-valid-one"
    ),
    pytest.param(
        b'{"addresses": [{"first_name": "A", "last_name": "B", "line1": "L", "city": "C", '
        b'"postal_code": "1", "country": "NL", "floor": 3}]}',
        "addresses[0].floor",
        id="unknown-address-field",
    ),
    pytest.param(b'{"email": "not-an-email"}', "email", id="invalid-email"),
    pytest.param(b'{"marketing_consent": "yes"}', "marketing_consent", id="consent-as-string"),
    pytest.param(b'{"first_name": ""}', "first_name", id="empty-first-name"),
    pytest.param(b'{"first_name": null}', "first_name", id="null-required-field"),
    pytest.param(b'{"first_name": "A\\u0000na"}', "first_name", id="nul-in-first-name"),
    pytest.param(b'{"email": ', None, id="malformed-json"),
    pytest.param(b"", None, id="empty-body"),
    pytest.param(b"[]", None, id="json-array"),
]


@pytest.mark.parametrize(("content", "field"), INVALID_PATCHES)
async def test_invalid_customer_patch_is_400_and_changes_nothing(
    gateway: Gateway, content: bytes, field: str | None
) -> None:
    before = await an_existing_customer(gateway)
    headers = await auth(gateway, **{"Content-Type": "application/json"})
    response = await gateway.http.patch(
        f"/v1/customers/{before['id']}", content=content, headers=headers
    )
    assert_problem(response, 400, field=field)
    after = await gateway.http.get(f"/v1/customers/{before['id']}", headers=await auth(gateway))
    assert after.status_code == 200
    assert after.json() == before


async def test_patch_of_an_unknown_customer_is_404(gateway: Gateway) -> None:
    headers = await auth(gateway)
    response = await gateway.http.patch(
        f"/v1/customers/{_unknown_customer_id()}", json={"first_name": "X"}, headers=headers
    )
    assert_problem(response, 404)
    malformed = await gateway.http.patch(
        "/v1/customers/not-an-id", json={"first_name": "X"}, headers=headers
    )
    assert_problem(malformed, 404)


# --- lists: limit ---------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "1.5"])
async def test_limit_out_of_range_or_not_a_number_is_400(
    gateway: Gateway, endpoint: str, limit: str
) -> None:
    response = await gateway.http.get(
        endpoint, params={"limit": limit}, headers=await auth(gateway)
    )
    assert_problem(response, 400)


@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc"])
async def test_limit_problem_names_the_limit_parameter_in_errors(
    gateway: Gateway, limit: str
) -> None:
    # One endpoint suffices: every list checks its limit through the same code.
    response = await gateway.http.get(
        "/v1/orders", params={"limit": limit}, headers=await auth(gateway)
    )
    assert_problem(response, 400, field="limit")


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
@pytest.mark.parametrize("limit", ["1", "200"])
async def test_limit_at_the_bounds_is_accepted(gateway: Gateway, endpoint: str, limit: str) -> None:
    await ensure_two_orders(gateway, CLIENT)
    response = await gateway.http.get(
        endpoint, params={"limit": limit}, headers=await auth(gateway)
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) <= int(limit)


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z"])
async def test_malformed_updated_since_is_400(gateway: Gateway, endpoint: str, value: str) -> None:
    response = await gateway.http.get(
        endpoint, params={"updated_since": value}, headers=await auth(gateway)
    )
    assert_problem(response, 400, field="updated_since")


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_updated_since_outside_the_utc_range_is_400(
    gateway: Gateway, endpoint: str, value: str
) -> None:
    response = await gateway.http.get(
        endpoint, params={"updated_since": value}, headers=await auth(gateway)
    )
    assert_problem(response, 400, field="updated_since")


@pytest.mark.parametrize(
    ("endpoint", "param"),
    [
        ("/v1/products", "sku"),
        ("/v1/products", "barcode"),
        ("/v1/inventory", "sku"),
        ("/v1/inventory", "location"),
        ("/v1/customers", "email"),
        ("/v1/customers", "phone"),
        ("/v1/orders", "external_reference"),
        ("/v1/orders", "channel"),
    ],
)
async def test_filter_with_a_nul_character_is_400(
    gateway: Gateway, endpoint: str, param: str
) -> None:
    response = await gateway.http.get(
        endpoint, params={param: "a\u0000b"}, headers=await auth(gateway)
    )
    assert_problem(response, 400, field=param)


@pytest.mark.parametrize(
    "path", ["/v1/orders/%00", "/v1/orders/ord_%00/events", "/v1/customers/cus_AA%00"]
)
async def test_id_with_a_nul_character_is_404(gateway: Gateway, path: str) -> None:
    response = await gateway.http.get(path, headers=await auth(gateway))
    assert_problem(response, 404)


@pytest.mark.parametrize("endpoint", ["/v1/products", "/v1/orders"])
async def test_unknown_status_filter_is_400(gateway: Gateway, endpoint: str) -> None:
    response = await gateway.http.get(
        endpoint, params={"status": "teleported"}, headers=await auth(gateway)
    )
    assert_problem(response, 400, field="status")


# --- lists: cursors -------------------------------------------------------------------------


async def ensure_two_orders(gateway: Gateway, client: str) -> None:
    for _ in range(2):
        response = await post_order(gateway, payloads.order(), key=payloads.idem(), client=client)
        assert response.status_code == 202, response.text


async def valid_cursor(gateway: Gateway, endpoint: str, client: str = CLIENT, **params: str) -> str:
    if endpoint == "/v1/orders":
        await ensure_two_orders(gateway, client)
    response = await gateway.http.get(
        endpoint, params={"limit": "1", **params}, headers=await auth(gateway, client)
    )
    assert response.status_code == 200, response.text
    cursor = response.json()["next_cursor"]
    assert isinstance(cursor, str), f"{endpoint} gave no next_cursor"
    assert cursor
    # Opaque and URL-safe.
    assert all(c.isalnum() or c in "-_.~" for c in cursor), cursor
    return cursor


def flip_a_character(cursor: str) -> str:
    index = cursor.index(".") // 2  # in the middle of the signed body: every bit there counts
    replacement = "A" if cursor[index] != "A" else "B"
    return cursor[:index] + replacement + cursor[index + 1 :]


TAMPERINGS: dict[str, Callable[[str], str]] = {
    "flip-a-character": flip_a_character,
    "flip-a-signature-character": lambda c: (
        c[: c.index(".") + 2] + ("A" if c[c.index(".") + 2] != "A" else "B") + c[c.index(".") + 3 :]
    ),
    "truncate": lambda c: c[:-4],
    "truncate-to-half": lambda c: c[: len(c) // 2],
    "drop-signature": lambda c: c.split(".")[0],
    "empty-signature": lambda c: c.split(".")[0] + ".",
    "swap-parts": lambda c: ".".join(reversed(c.split(".", 1))),
    "extra-part": lambda c: c + ".AAAA",
    "random-junk": lambda _c: "not-a-cursor",
    "junk-with-a-dot": lambda _c: "abc.def",
    "unsigned-body": lambda _c: b64url(b'["acme","products","x","0"]') + "." + b64url(b"\x00" * 16),
    "non-url-safe": lambda _c: "ab+/cd==",
    "too-long": lambda c: c + "A" * 3000,
}


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
@pytest.mark.parametrize("tampering", list(TAMPERINGS))
async def test_tampered_cursor_is_400(gateway: Gateway, endpoint: str, tampering: str) -> None:
    cursor = await valid_cursor(gateway, endpoint)
    tampered = TAMPERINGS[tampering](cursor)
    assert tampered != cursor
    response = await gateway.http.get(
        endpoint, params={"cursor": tampered}, headers=await auth(gateway)
    )
    assert_problem(response, 400)


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
async def test_the_valid_cursor_itself_is_accepted(gateway: Gateway, endpoint: str) -> None:
    cursor = await valid_cursor(gateway, endpoint)
    response = await gateway.http.get(
        endpoint, params={"cursor": cursor, "limit": "1"}, headers=await auth(gateway)
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("/v1/products", "/v1/customers"),
        ("/v1/customers", "/v1/products"),
        ("/v1/inventory", "/v1/orders"),
        ("/v1/orders", "/v1/inventory"),
    ],
)
async def test_cursor_of_another_list_is_400(gateway: Gateway, source: str, target: str) -> None:
    cursor = await valid_cursor(gateway, source)
    response = await gateway.http.get(
        target, params={"cursor": cursor}, headers=await auth(gateway)
    )
    assert_problem(response, 400)


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
async def test_cursor_of_another_tenant_is_400(gateway: Gateway, endpoint: str) -> None:
    cursor = await valid_cursor(gateway, endpoint, CLIENT)
    response = await gateway.http.get(
        endpoint, params={"cursor": cursor}, headers=await auth(gateway, OTHER_TENANT_CLIENT)
    )
    assert_problem(response, 400)


async def test_cursor_of_another_query_is_400(gateway: Gateway) -> None:
    cursor = await valid_cursor(gateway, "/v1/orders", channel="web")
    response = await gateway.http.get(
        "/v1/orders", params={"cursor": cursor, "channel": "store"}, headers=await auth(gateway)
    )
    assert_problem(response, 400)


# --- routing --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/nope", "/v1/orders/ord_nope/nope", "/nope", "/v2/orders"])
async def test_unknown_route_is_a_404_problem(gateway: Gateway, path: str) -> None:
    response = await gateway.http.get(path, headers=await auth(gateway))
    assert_problem(response, 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/products", {"GET"}),
        ("PUT", "/v1/orders", {"GET", "POST"}),
        ("POST", "/v1/inventory", {"GET"}),
        ("DELETE", "/v1/customers", {"GET", "POST"}),
        ("GET", "/oauth/token", {"POST"}),
    ],
)
async def test_wrong_method_is_a_405_problem_with_allow(
    gateway: Gateway, method: str, path: str, allowed: set[str]
) -> None:
    response = await gateway.http.request(method, path, headers=await auth(gateway))
    assert_problem(response, 405)
    allow = {m.strip().upper() for m in response.headers.get("allow", "").split(",") if m.strip()}
    assert allowed <= allow, f"405 without a proper Allow header: {response.headers.get('allow')!r}"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/nope", 404),
        ("GET", "/nope", 404),
        ("DELETE", "/v1/products", 405),
        ("GET", "/v1/products?limit=0", 400),
        ("GET", "/v1/orders/ord_doesnotexist", 404),
    ],
)
async def test_error_responses_echo_the_callers_correlation_id(
    gateway: Gateway, method: str, path: str, status: int
) -> None:
    headers = await auth(gateway, **{"X-Correlation-ID": "bad-input-corr-1"})
    response = await gateway.http.request(method, path, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers.get("x-correlation-id") == "bad-input-corr-1"
    assert response.json()["correlation_id"] == "bad-input-corr-1"


async def test_unknown_order_and_product_are_404_problems(gateway: Gateway) -> None:
    headers = await auth(gateway)
    assert_problem(await gateway.http.get("/v1/orders/ord_doesnotexist", headers=headers), 404)
    assert_problem(
        await gateway.http.get("/v1/products/prd_" + b64url(b"NOPE"), headers=headers), 404
    )
    assert_problem(await gateway.http.get("/v1/products/not-an-id", headers=headers), 404)
    assert_problem(
        await gateway.http.get("/v1/customers/" + _unknown_customer_id(), headers=headers), 404
    )
