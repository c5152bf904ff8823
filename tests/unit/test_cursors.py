"""`app.paging.CursorCodec`: opaque, signed cursors bound to tenant, resource and query."""

from __future__ import annotations

import base64
import os
import re

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.crypto import SecretBox
from app.paging import CursorCodec, check_limit, query_fingerprint
from app.problems import InvalidCursor, InvalidParameter

URL_SAFE = re.compile(r"^[A-Za-z0-9_.~-]+$")
FILTERS = {"sku": None, "status": "active", "updated_since": None}


def codec(key: bytes | None = None) -> CursorCodec:
    return CursorCodec(SecretBox(key or os.urandom(32)))


def b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_round_trip() -> None:
    c = codec()
    cursor = c.encode("acme", "products", FILTERS, "TEE-1001")
    assert c.decode(cursor, "acme", "products", FILTERS) == "TEE-1001"


def test_round_trip_with_awkward_positions() -> None:
    c = codec()
    for position in ["", "SKU\x1fDC1", "ord_01J", "ü €/+?&=#", "x" * 500]:
        cursor = c.encode("acme", "inventory", {"sku": ["A", "B"]}, position)
        assert URL_SAFE.match(cursor), cursor
        assert c.decode(cursor, "acme", "inventory", {"sku": ["A", "B"]}) == position


def test_none_and_empty_filters_are_the_same_query() -> None:
    c = codec()
    cursor = c.encode("acme", "customers", {"email": None, "phone": None, "tags": []}, "C00010")
    assert c.decode(cursor, "acme", "customers", {}) == "C00010"


def test_filter_order_does_not_matter() -> None:
    assert query_fingerprint({"a": 1, "b": "x"}) == query_fingerprint({"b": "x", "a": 1})


@given(
    tenant=st.text(min_size=1, max_size=40),
    resource=st.sampled_from(["products", "customers", "orders", "inventory"]),
    position=st.text(max_size=200),
    status=st.none() | st.text(max_size=20),
)
def test_round_trip_property_and_url_safe(
    tenant: str, resource: str, position: str, status: str | None
) -> None:
    c = CursorCodec(SecretBox(b"k" * 32))
    filters = {"status": status}
    cursor = c.encode(tenant, resource, filters, position)
    assert URL_SAFE.match(cursor)
    assert not set(cursor) & set("=+/")
    assert c.decode(cursor, tenant, resource, filters) == position


def test_a_tampered_body_is_refused() -> None:
    c = codec()
    cursor = c.encode("acme", "products", FILTERS, "TEE-1001")
    body, signature = cursor.split(".")
    decoded = msgspec.json.decode(b64d(body))
    decoded[3] = "TEE-1050"  # skip ahead
    forged = b64e(msgspec.json.encode(decoded)) + "." + signature
    with pytest.raises(InvalidCursor):
        c.decode(forged, "acme", "products", FILTERS)


def test_a_tampered_body_claiming_another_tenant_is_refused() -> None:
    c = codec()
    cursor = c.encode("globex", "products", FILTERS, "TEE-1001")
    body, signature = cursor.split(".")
    decoded = msgspec.json.decode(b64d(body))
    decoded[0] = "acme"
    forged = b64e(msgspec.json.encode(decoded)) + "." + signature
    with pytest.raises(InvalidCursor):
        c.decode(forged, "acme", "products", FILTERS)


def test_a_tampered_signature_is_refused() -> None:
    c = codec()
    cursor = c.encode("acme", "products", FILTERS, "TEE-1001")
    body, signature = cursor.split(".")
    raw = bytearray(b64d(signature))
    raw[0] ^= 0x01
    with pytest.raises(InvalidCursor):
        c.decode(body + "." + b64e(bytes(raw)), "acme", "products", FILTERS)
    with pytest.raises(InvalidCursor):
        c.decode(body + "." + b64e(bytes(raw[:-1])), "acme", "products", FILTERS)


@given(st.data())
def test_any_changed_byte_is_refused(data: st.DataObject) -> None:
    c = CursorCodec(SecretBox(b"s" * 32))
    cursor = c.encode("acme", "orders", {"channel": "web"}, "ord_01HZX")
    body, signature = (b64d(part) for part in cursor.split("."))
    blob = bytearray(body + signature)
    index = data.draw(st.integers(0, len(blob) - 1))
    blob[index] ^= data.draw(st.integers(1, 255))
    forged = b64e(bytes(blob[: len(body)])) + "." + b64e(bytes(blob[len(body) :]))
    with pytest.raises(InvalidCursor):
        c.decode(forged, "acme", "orders", {"channel": "web"})


def test_another_tenant_is_refused() -> None:
    c = codec()
    cursor = c.encode("acme", "products", FILTERS, "TEE-1001")
    with pytest.raises(InvalidCursor):
        c.decode(cursor, "globex", "products", FILTERS)


def test_another_resource_is_refused() -> None:
    c = codec()
    cursor = c.encode("acme", "products", {}, "C00001")
    with pytest.raises(InvalidCursor):
        c.decode(cursor, "acme", "customers", {})


@pytest.mark.parametrize(
    "other",
    [
        {"sku": None, "status": "draft", "updated_since": None},
        {"sku": None, "status": None, "updated_since": None},
        {"sku": "TEE-1001-GRY-S", "status": "active", "updated_since": None},
        {"sku": None, "status": "active", "updated_since": "2026-01-01T00:00:00+00:00"},
    ],
)
def test_another_filter_set_is_refused(other: dict[str, object]) -> None:
    c = codec()
    cursor = c.encode("acme", "products", FILTERS, "TEE-1001")
    with pytest.raises(InvalidCursor):
        c.decode(cursor, "acme", "products", other)


def test_another_key_is_refused() -> None:
    cursor = codec(b"a" * 32).encode("acme", "products", FILTERS, "TEE-1001")
    with pytest.raises(InvalidCursor):
        codec(b"b" * 32).decode(cursor, "acme", "products", FILTERS)
    assert codec(b"a" * 32).decode(cursor, "acme", "products", FILTERS) == "TEE-1001"


@pytest.mark.parametrize(
    "junk",
    [
        "",
        ".",
        "abc",
        "abc.",
        ".abc",
        "a.b.c",
        "!!!.???",
        "e30.e30",
        "W10.AAAA",
        "a" * 2048,
        "\u00e9.\u00e9",
    ],
)
def test_junk_is_refused_as_invalid_cursor(junk: str) -> None:
    with pytest.raises(InvalidCursor):
        codec().decode(junk, "acme", "products", {})


def test_a_validly_signed_but_malformed_body_is_refused() -> None:
    box = SecretBox(os.urandom(32))
    body = b'{"not": "a cursor"}'
    forged = b64e(body) + "." + b64e(box.mac(body, "cursor")[:16])
    with pytest.raises(InvalidCursor):
        CursorCodec(box).decode(forged, "acme", "products", {})


def test_the_cursor_does_not_show_the_filters_in_clear() -> None:
    cursor = codec().encode("acme", "customers", {"email": "ana@example.com"}, "C00001")
    assert "ana@example.com" not in b64d(cursor.split(".")[0]).decode()


def test_check_limit_defaults_and_bounds() -> None:
    assert check_limit(None, 50, 200) == 50
    assert check_limit(1, 50, 200) == 1
    assert check_limit(50, 50, 200) == 50
    assert check_limit(200, 50, 200) == 200


@pytest.mark.parametrize("limit", [0, -1, 201, 10_000])
def test_check_limit_refuses_out_of_range(limit: int) -> None:
    with pytest.raises(InvalidParameter) as raised:
        check_limit(limit, 50, 200)
    assert raised.value.status == 400
    assert "200" in raised.value.detail


def test_invalid_cursor_is_a_400() -> None:
    with pytest.raises(InvalidCursor) as raised:
        codec().decode("nope", "acme", "products", {})
    assert raised.value.status == 400
