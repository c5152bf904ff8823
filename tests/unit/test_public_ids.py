"""`app.publicids`: our ids for backend-owned records, prefix + canonical base64url of the key."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.publicids import CUSTOMER, PRODUCT, key_of, public_id


@pytest.mark.parametrize(
    ("prefix", "key"),
    [
        (PRODUCT, "TEE-1001"),
        (CUSTOMER, "C00001"),
        (CUSTOMER, "GW-K0123456789ABCDEF"),
        (PRODUCT, "a/b?~ +"),
        (PRODUCT, "ünïcødé €"),
        (PRODUCT, "x"),
    ],
)
def test_round_trip(prefix: str, key: str) -> None:
    value = public_id(prefix, key)
    assert value.startswith(f"{prefix}_")
    assert re.fullmatch(rf"{prefix}_[A-Za-z0-9_-]+", value)
    assert key_of(prefix, value) == key


def test_known_spelling() -> None:
    assert public_id(PRODUCT, "TEE-1001") == "prd_VEVFLTEwMDE"
    assert public_id(CUSTOMER, "C00001") == "cus_QzAwMDAx"


def test_other_prefixes_are_refused() -> None:
    product = public_id(PRODUCT, "TEE-1001")
    assert key_of(CUSTOMER, product) is None
    assert key_of("ord", product) is None
    assert key_of(PRODUCT, "PRD_VEVFLTEwMDE") is None
    assert key_of(PRODUCT, "prdx_VEVFLTEwMDE") is None
    assert key_of(PRODUCT, " prd_VEVFLTEwMDE") is None


@pytest.mark.parametrize(
    "value",
    [
        "prd_VEVFLTEwMDE=",  # padding
        "prd_VEVFLTEwMDF",  # non-zero trailing bits: decodes to the same bytes
        "prd_" + base64.b64encode(b"\xfb\xefA").decode(),  # standard alphabet (+, /)
        "prd_VEVF LTEwMDE",
        "prd_VEVFLTEwMDE\n",
    ],
)
def test_non_canonical_base64_is_refused(value: str) -> None:
    assert key_of(PRODUCT, value) is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "prd",
        "prd_",
        "_VEVFLTEwMDE",
        "prd_!!!",
        "prd_A",  # impossible length
        "prd_" + base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),  # not UTF-8
        "prd_" + "QUFB" * 200,  # longer than any id we issue
        "TEE-1001",
        "ord_01HZX",
    ],
)
def test_junk_is_refused(value: str) -> None:
    assert key_of(PRODUCT, value) is None


@given(st.text(min_size=1, max_size=120))
def test_round_trip_property(key: str) -> None:
    value = public_id(PRODUCT, key)
    assert key_of(PRODUCT, value) == key
    assert key_of(CUSTOMER, value) is None
    assert "=" not in value


@given(st.text(min_size=1, max_size=60), st.text(min_size=1, max_size=60))
def test_distinct_keys_give_distinct_ids(a: str, b: str) -> None:
    assert (public_id(CUSTOMER, a) == public_id(CUSTOMER, b)) is (a == b)


@given(st.text(max_size=80))
def test_key_of_never_raises(value: str) -> None:
    key = key_of(PRODUCT, value)
    if key is not None:
        assert public_id(PRODUCT, key) == value
