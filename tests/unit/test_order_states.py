"""`app.orders.states.can_transition`: forward along the main line only, side exits from the
states that allow them, nothing out of a terminal state."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.orders.states import MAIN_LINE, STATUSES, can_transition, event_type

MAIN = [
    "received",
    "submitted",
    "accepted",
    "allocated",
    "partially_shipped",
    "shipped",
    "invoiced",
    "completed",
]
ALL = [*MAIN, "cancelled", "rejected", "returned", "refunded"]
CANCELLABLE = {"received", "submitted", "accepted", "allocated"}
REJECTABLE = {"received", "submitted"}
RETURNABLE = {"partially_shipped", "shipped", "invoiced", "completed"}
REFUNDABLE = {"returned", "invoiced", "completed"}
TERMINAL = {"cancelled", "rejected", "refunded"}


def test_the_status_list_is_the_contracts() -> None:
    assert set(STATUSES) == set(ALL)
    assert list(MAIN_LINE) == MAIN


@pytest.mark.parametrize(("current", "target"), list(itertools.pairwise(MAIN)))
def test_every_forward_step_of_the_main_line(current: str, target: str) -> None:
    assert can_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"), [(a, b) for i, a in enumerate(MAIN) for b in MAIN[i + 2 :]]
)
def test_skipping_forward_is_allowed(current: str, target: str) -> None:
    assert can_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"), [(a, b) for i, a in enumerate(MAIN) for b in MAIN[:i]]
)
def test_never_backwards_along_the_main_line(current: str, target: str) -> None:
    assert not can_transition(current, target)


@pytest.mark.parametrize("status", ALL)
def test_never_to_the_same_status(status: str) -> None:
    assert not can_transition(status, status)


@pytest.mark.parametrize(("current", "target"), [(t, s) for t in sorted(TERMINAL) for s in ALL])
def test_nothing_leaves_a_terminal_state(current: str, target: str) -> None:
    assert not can_transition(current, target)


@pytest.mark.parametrize("current", ALL)
def test_cancel_only_before_shipping(current: str) -> None:
    assert can_transition(current, "cancelled") is (current in CANCELLABLE)


@pytest.mark.parametrize("current", ALL)
def test_rejected_only_before_the_backend_accepted(current: str) -> None:
    assert can_transition(current, "rejected") is (current in REJECTABLE)


@pytest.mark.parametrize("current", ALL)
def test_returned_only_after_something_shipped(current: str) -> None:
    assert can_transition(current, "returned") is (current in RETURNABLE)


@pytest.mark.parametrize("current", ALL)
def test_refunded_after_a_return_or_an_invoice(current: str) -> None:
    assert can_transition(current, "refunded") is (current in REFUNDABLE)


@pytest.mark.parametrize("target", ALL)
def test_a_returned_order_can_only_be_refunded(target: str) -> None:
    assert can_transition("returned", target) is (target == "refunded")


@pytest.mark.parametrize("current", ALL)
def test_nothing_goes_back_to_received(current: str) -> None:
    assert not can_transition(current, "received")


@pytest.mark.parametrize(
    ("current", "target"), [("received", "bogus"), ("bogus", "submitted"), ("", "")]
)
def test_unknown_statuses_never_transition(current: str, target: str) -> None:
    assert not can_transition(current, target)


def test_the_full_table() -> None:
    """Every pair, against the rules spelled out independently of the implementation."""

    def expected(current: str, target: str) -> bool:
        if current == target or current in TERMINAL:
            return False
        if target == "cancelled":
            return current in CANCELLABLE
        if target == "rejected":
            return current in REJECTABLE
        if target == "returned":
            return current in RETURNABLE
        if target == "refunded":
            return current in REFUNDABLE
        if current in MAIN and target in MAIN:
            return MAIN.index(target) > MAIN.index(current)
        return False

    for current, target in itertools.product(ALL, ALL):
        assert can_transition(current, target) is expected(current, target), (current, target)


@given(st.sampled_from(ALL), st.sampled_from(ALL))
def test_a_transition_and_its_reverse_are_never_both_allowed(a: str, b: str) -> None:
    assert not (can_transition(a, b) and can_transition(b, a))


@given(st.lists(st.sampled_from(ALL), min_size=2, max_size=12))
def test_no_cycle_of_allowed_transitions(path: list[str]) -> None:
    """Following allowed transitions never brings an order back to a status it had."""
    walked = [path[0]]
    for target in path[1:]:
        if can_transition(walked[-1], target):
            walked.append(target)
    assert len(walked) == len(set(walked))


@pytest.mark.parametrize("status", ALL)
def test_event_types_are_prefixed(status: str) -> None:
    assert event_type(status) == f"order.{status}"
