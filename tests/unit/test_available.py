"""`app.inventory.levels.available_from` and `to_level`: one formula for `available`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.inventory.levels import available_from, to_level
from contracts.backend import StockRecord

counts = st.integers(min_value=0, max_value=10**9)


@pytest.mark.parametrize(
    ("on_hand", "reserved", "safety", "expected"),
    [
        (10, 0, 0, 10),
        (10, 3, 0, 7),
        (10, 3, 2, 5),
        (10, 10, 0, 0),
        (10, 8, 5, 0),
        (0, 0, 0, 0),
        (0, 2, 0, 0),
        (1, 1, 0, 0),
        (5, 0, 5, 0),
        (5, 0, 4, 1),
    ],
)
def test_examples(on_hand: int, reserved: int, safety: int, expected: int) -> None:
    assert available_from(on_hand, reserved, safety) == expected


@given(counts, counts, counts)
def test_available_is_never_negative_and_matches_the_formula(
    on_hand: int, reserved: int, safety: int
) -> None:
    available = available_from(on_hand, reserved, safety)
    assert available == max(0, on_hand - reserved - safety)
    assert 0 <= available <= on_hand


@given(counts, counts, counts, st.integers(min_value=1, max_value=1000))
def test_more_reserved_never_raises_available(
    on_hand: int, reserved: int, safety: int, more: int
) -> None:
    assert available_from(on_hand, reserved + more, safety) <= available_from(
        on_hand, reserved, safety
    )
    assert available_from(on_hand, reserved, safety + more) <= available_from(
        on_hand, reserved, safety
    )
    assert available_from(on_hand + more, reserved, safety) >= available_from(
        on_hand, reserved, safety
    )


@given(
    st.integers(min_value=-1000, max_value=1000),
    st.integers(min_value=-1000, max_value=1000),
    counts,
)
def test_even_odd_backend_numbers_never_give_negative_availability(
    on_hand: int, reserved: int, safety: int
) -> None:
    assert available_from(on_hand, reserved, safety) >= 0


def test_to_level_computes_available_and_carries_source() -> None:
    updated = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    as_of = datetime(2026, 1, 6, 9, 30, tzinfo=UTC)
    record = StockRecord(
        sku="TEE-1001-GRY-S",
        location_id="DC1",
        on_hand=20,
        reserved=4,
        incoming=48,
        safety_stock=3,
        updated_at=updated,
    )
    level = to_level(record, "sandbox", as_of)
    assert level.available == 13
    assert (level.sku, level.location_id, level.on_hand, level.reserved) == (
        "TEE-1001-GRY-S",
        "DC1",
        20,
        4,
    )
    assert (level.incoming, level.safety_stock) == (48, 3)
    assert level.source == "sandbox"
    assert level.as_of == as_of
    assert level.updated_at == updated
