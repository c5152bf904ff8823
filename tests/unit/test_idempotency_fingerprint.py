"""`app.idempotency.fingerprint` and `parse_key`: what counts as the same keyed request."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.idempotency import MAX_KEY_LENGTH, fingerprint, parse_key
from app.problems import IdempotencyKeyRequired, InvalidRequest

PATH = "/v1/customers"
BODY = (
    b'{"email":"ana@example.com","first_name":"Ana","last_name":"Smit",'
    b'"addresses":[{"city":"Amsterdam","country":"NL"}]}'
)


def test_the_same_request_has_the_same_fingerprint() -> None:
    assert fingerprint("POST", PATH, BODY) == fingerprint("POST", PATH, BODY)
    assert len(fingerprint("POST", PATH, BODY)) == 64


def test_key_order_and_whitespace_do_not_matter() -> None:
    reordered = b"""{
        "last_name": "Smit",
        "addresses": [ { "country": "NL", "city": "Amsterdam" } ],
        "first_name" : "Ana",
        "email":"ana@example.com"
    }"""
    assert fingerprint("POST", PATH, reordered) == fingerprint("POST", PATH, BODY)


def test_values_matter() -> None:
    other = BODY.replace(b"Ana", b"Anna", 1)
    assert fingerprint("POST", PATH, other) != fingerprint("POST", PATH, BODY)


def test_types_matter() -> None:
    assert fingerprint("POST", PATH, b'{"quantity":1}') != fingerprint(
        "POST", PATH, b'{"quantity":"1"}'
    )


def test_array_order_matters() -> None:
    assert fingerprint("POST", PATH, b'{"lines":[1,2]}') != fingerprint(
        "POST", PATH, b'{"lines":[2,1]}'
    )


def test_nested_values_matter() -> None:
    other = BODY.replace(b'"NL"', b'"BE"')
    assert fingerprint("POST", PATH, other) != fingerprint("POST", PATH, BODY)


def test_path_matters() -> None:
    assert fingerprint("POST", "/v1/orders", BODY) != fingerprint("POST", PATH, BODY)


def test_method_matters() -> None:
    assert fingerprint("PUT", PATH, BODY) != fingerprint("POST", PATH, BODY)


def test_a_body_that_is_not_json_is_taken_as_it_is() -> None:
    assert fingerprint("POST", PATH, b"{not json") == fingerprint("POST", PATH, b"{not json")
    assert fingerprint("POST", PATH, b"{not json") != fingerprint("POST", PATH, b"{not  json")
    assert fingerprint("POST", PATH, b"") == fingerprint("POST", PATH, b"")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=15,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6), st.data())
def test_fingerprint_ignores_key_order_property(
    document: dict[str, object], data: st.DataObject
) -> None:
    items = data.draw(st.permutations(list(document.items())))
    compact = json.dumps(document, separators=(",", ":")).encode()
    shuffled = json.dumps(dict(items), indent=2).encode()
    assert fingerprint("POST", PATH, compact) == fingerprint("POST", PATH, shuffled)


def test_parse_key_optional_and_required() -> None:
    assert parse_key(None, required=False) is None
    assert parse_key("", required=False) is None
    with pytest.raises(IdempotencyKeyRequired) as raised:
        parse_key(None, required=True)
    assert raised.value.status == 400
    with pytest.raises(IdempotencyKeyRequired):
        parse_key("", required=True)


def test_parse_key_length() -> None:
    assert parse_key("k" * MAX_KEY_LENGTH, required=True) == "k" * 255
    with pytest.raises(InvalidRequest) as raised:
        parse_key("k" * (MAX_KEY_LENGTH + 1), required=True)
    assert raised.value.status == 400


@pytest.mark.parametrize("key", ["with\nnewline", "tab\there", "caf\u00e9", "\x00"])
def test_parse_key_refuses_unprintable_or_non_ascii(key: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_key(key, required=False)
