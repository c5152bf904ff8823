"""`contracts.v1.Money`: amounts are decimal strings, never floats, in an ISO 4217 currency."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.v1 import Money


def decode(raw: bytes) -> Money:
    return msgspec.json.decode(raw, type=Money, strict=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("16", "16.00"),
        ("16.0", "16.00"),
        ("16.00", "16.00"),
        ("19.9900", "19.99"),
        ("19.99", "19.99"),
        ("0.5", "0.50"),
        ("0", "0.00"),
        ("0.00", "0.00"),
        ("100", "100.00"),
        ("1E+2", "100.00"),
        ("1.2345", "1.2345"),
        ("1.230", "1.23"),
        ("0.001", "0.001"),
        ("-3.1", "-3.10"),
        ("123456789012345.99", "123456789012345.99"),
    ],
)
def test_of_renders_at_least_two_decimals_and_more_only_when_needed(
    value: str, expected: str
) -> None:
    money = Money.of(Decimal(value), "EUR")
    assert money.amount == expected
    assert money.currency == "EUR"
    assert money.value == Decimal(value)


def test_of_output_is_valid_on_the_wire() -> None:
    money = Money.of(Decimal("16"), "EUR")
    assert msgspec.json.encode(money) == b'{"amount":"16.00","currency":"EUR"}'
    assert decode(msgspec.json.encode(money)) == money


@given(
    st.decimals(
        min_value=Decimal("-999999999999999.9999"),
        max_value=Decimal("999999999999999.9999"),
        places=4,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_of_keeps_the_value_and_round_trips_strictly(value: Decimal) -> None:
    money = Money.of(value, "USD")
    assert Decimal(money.amount) == value
    whole, _, fraction = money.amount.lstrip("-").partition(".")
    assert 2 <= len(fraction) <= 4
    assert fraction[2:] == fraction[2:].rstrip("0")  # beyond two decimals only what is needed
    assert whole.isdigit()
    assert decode(msgspec.json.encode(money)) == money


@pytest.mark.parametrize(
    "raw",
    [
        b'{"amount":"19.99","currency":"EUR"}',
        b'{"amount":"0","currency":"JPY"}',
        b'{"amount":"1.2345","currency":"USD"}',
        b'{"amount":"19.999","currency":"KWD"}',
        b'{"amount":"-0.50","currency":"GBP"}',
        b'{"amount":"100","currency":"CHF"}',
    ],
)
def test_valid_money_decodes(raw: bytes) -> None:
    money = decode(raw)
    assert money.value == Decimal(money.amount)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"amount":19.99,"currency":"EUR"}',
        b'{"amount":19,"currency":"EUR"}',
        b'{"amount":1e2,"currency":"EUR"}',
    ],
)
def test_numbers_are_refused(raw: bytes) -> None:
    with pytest.raises(msgspec.ValidationError, match="Expected `str`"):
        decode(raw)


@pytest.mark.parametrize(
    "amount",
    [
        "",
        "1.23456",
        "01.50",
        "00",
        "1e5",
        "1E5",
        "+1.00",
        "1.",
        ".5",
        "1,50",
        " 1.50",
        "1.50 ",
        "NaN",
        "Infinity",
        "--1",
        "1234567890123456",  # 16 integer digits
        "abc",
    ],
)
def test_bad_amount_patterns_are_refused(amount: str) -> None:
    raw = msgspec.json.encode({"amount": amount, "currency": "EUR"})
    with pytest.raises(msgspec.ValidationError, match=r"amount"):
        decode(raw)


@pytest.mark.parametrize("currency", ["XXX", "ABC", "ZZZ", "XTS", "XAU"])
def test_unknown_currencies_are_refused(currency: str) -> None:
    raw = msgspec.json.encode({"amount": "1.00", "currency": currency})
    with pytest.raises(msgspec.ValidationError, match="ISO 4217"):
        decode(raw)


@pytest.mark.parametrize("currency", ["eur", "EU", "EURO", "E1R", "", 978])
def test_malformed_currencies_are_refused(currency: object) -> None:
    raw = msgspec.json.encode({"amount": "1.00", "currency": currency})
    with pytest.raises(msgspec.ValidationError, match="currency"):
        decode(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"amount":"1.00"}',
        b'{"currency":"EUR"}',
        b'{"amount":"1.00","currency":"EUR","precision":2}',
        b'"1.00 EUR"',
        b"null",
    ],
)
def test_incomplete_or_unknown_fields_are_refused(raw: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        decode(raw)
