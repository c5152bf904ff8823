"""`app.api.body.decode_strict`: strict decoding, and msgspec errors as field paths."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from app.api.body import decode_strict
from app.problems import FieldError, InvalidRequest
from contracts.v1 import CustomerCreate, CustomerUpdate, OrderCreate

VALID: dict[str, Any] = {
    "channel": "web",
    "external_reference": "WEB-1001",
    "customer": {"email": "ana@example.com", "first_name": "Ana", "last_name": "Smit"},
    "lines": [
        {
            "sku": "TEE-1001-GRY-S",
            "quantity": 2,
            "unit_price": {"amount": "16.00", "currency": "EUR"},
        },
        {
            "sku": "HOD-1002-BRG-M",
            "quantity": 1,
            "unit_price": {"amount": "59.95", "currency": "EUR"},
        },
    ],
    "shipping_address": {
        "first_name": "Ana",
        "last_name": "Smit",
        "line1": "Damstraat 1",
        "city": "Amsterdam",
        "postal_code": "1012 AB",
        "country": "NL",
    },
    "placed_at": "2026-11-28T10:00:00Z",
}


def body(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(VALID), **changes}


def error_of(payload: dict[str, Any] | bytes, model: type = OrderCreate) -> FieldError:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(InvalidRequest) as raised:
        decode_strict(raw, model)
    error = raised.value
    assert error.status == 400
    assert error.errors is not None
    assert len(error.errors) == 1
    assert error.detail.startswith(error.errors[0].field)
    return error.errors[0]


def test_a_valid_order_decodes() -> None:
    order = decode_strict(json.dumps(VALID).encode(), OrderCreate)
    assert order.lines[1].quantity == 1
    assert order.shipping_address.country == "NL"


def test_a_string_quantity_is_not_coerced() -> None:
    payload = body()
    payload["lines"][0]["quantity"] = "5"
    error = error_of(payload)
    assert error.field == "lines[0].quantity"
    assert "int" in error.message
    assert "got `str`" in error.message


def test_the_index_of_the_bad_line_is_named() -> None:
    payload = body()
    payload["lines"][1]["quantity"] = 0
    error = error_of(payload)
    assert error.field == "lines[1].quantity"
    assert ">= 1" in error.message


def test_a_bool_quantity_is_refused() -> None:
    payload = body()
    payload["lines"][0]["quantity"] = True
    assert error_of(payload).field == "lines[0].quantity"


def test_an_unknown_country_from_post_init_names_its_field() -> None:
    payload = body()
    payload["shipping_address"]["country"] = "XX"
    error = error_of(payload)
    assert error.field == "shipping_address.country"
    assert error.message == "'XX' is not an ISO 3166-1 alpha-2 country code"
    assert not error.message.startswith("`")


def test_a_malformed_country_names_its_field() -> None:
    payload = body()
    payload["shipping_address"]["country"] = "nl"
    assert error_of(payload).field == "shipping_address.country"


def test_the_billing_address_country_names_its_field() -> None:
    address = {**VALID["shipping_address"], "country": "QQ"}
    assert error_of(body(billing_address=address)).field == "billing_address.country"


def test_an_unknown_currency_inside_a_line_names_its_field() -> None:
    payload = body()
    payload["lines"][1]["unit_price"]["currency"] = "ZZZ"
    error = error_of(payload)
    assert error.field == "lines[1].unit_price.currency"
    assert "ISO 4217" in error.message


def test_a_float_price_names_the_amount() -> None:
    payload = body()
    payload["lines"][0]["unit_price"]["amount"] = 16.0
    error = error_of(payload)
    assert error.field == "lines[0].unit_price.amount"
    assert "got `float`" in error.message


def test_a_negative_price_names_the_unit_price() -> None:
    payload = body()
    payload["lines"][0]["unit_price"]["amount"] = "-1.00"
    error = error_of(payload)
    assert error.field == "lines[0].unit_price"
    assert error.message == "must not be negative"


def test_an_unknown_top_level_field_is_named() -> None:
    error = error_of(body(colour="red"))
    assert error.field == "colour"
    assert error.message == "unknown field"


def test_an_unknown_nested_field_is_named() -> None:
    payload = body()
    payload["shipping_address"]["street"] = "Damstraat"
    error = error_of(payload)
    assert error.field == "shipping_address.street"
    assert error.message == "unknown field"


def test_an_unknown_field_in_a_line_is_named() -> None:
    payload = body()
    payload["lines"][1]["discount"] = "1.00"
    error = error_of(payload)
    assert error.field == "lines[1].discount"
    assert error.message == "unknown field"


def test_a_missing_top_level_field_is_named() -> None:
    payload = body()
    del payload["channel"]
    error = error_of(payload)
    assert error.field == "channel"
    assert error.message == "required"


def test_a_missing_nested_field_is_named() -> None:
    payload = body()
    del payload["shipping_address"]["city"]
    error = error_of(payload)
    assert error.field == "shipping_address.city"
    assert error.message == "required"


def test_a_missing_field_in_a_line_is_named() -> None:
    payload = body()
    del payload["lines"][0]["unit_price"]
    error = error_of(payload)
    assert error.field == "lines[0].unit_price"
    assert error.message == "required"


def test_an_incomplete_inline_customer_names_the_email() -> None:
    error = error_of(body(customer={"email": "ana@example.com"}))
    assert error.field == "customer.email"


def test_no_lines() -> None:
    error = error_of(body(lines=[]))
    assert error.field == "lines"


def test_a_wrong_type_at_the_root() -> None:
    error = error_of(b"[]")
    assert error.field == "$"


def test_an_empty_body() -> None:
    with pytest.raises(InvalidRequest) as raised:
        decode_strict(b"", OrderCreate)
    assert raised.value.errors == [FieldError("$", "required")]


@pytest.mark.parametrize("raw", [b"{not json", b'{"channel": "web",', b"\xff\xfe"])
def test_malformed_json(raw: bytes) -> None:
    with pytest.raises(InvalidRequest) as raised:
        decode_strict(raw, OrderCreate)
    assert raised.value.status == 400
    assert "not valid JSON" in raised.value.detail


def test_customer_bodies_too() -> None:
    error = error_of({"email": "not-an-email", "first_name": "A", "last_name": "B"}, CustomerCreate)
    assert error.field == "email"
    error = error_of({"email": "a@b.co", "first_name": "A"}, CustomerCreate)
    assert (error.field, error.message) == ("last_name", "required")
    error = error_of({"nickname": "x"}, CustomerUpdate)
    assert (error.field, error.message) == ("nickname", "unknown field")
    error = error_of(
        {"addresses": [{**VALID["shipping_address"], "country": "XX"}]}, CustomerUpdate
    )
    assert error.field == "addresses[0].country"
