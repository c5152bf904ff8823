"""The order state machine. Transitions are validated here and nowhere else; a late or
duplicated update that would move an order backwards is refused."""

from __future__ import annotations

from typing import get_args

from contracts.v1.orders import OrderStatus

STATUSES: tuple[str, ...] = get_args(OrderStatus)

# The main line: an order only ever moves forward along it (a backend may skip steps).
MAIN_LINE: tuple[str, ...] = (
    "received",
    "submitted",
    "accepted",
    "allocated",
    "partially_shipped",
    "shipped",
    "invoiced",
    "completed",
)
_RANK = {status: rank for rank, status in enumerate(MAIN_LINE)}

CANCELLABLE = frozenset({"received", "submitted", "accepted", "allocated"})
_SIDE_EXITS: dict[str, frozenset[str]] = {
    "cancelled": CANCELLABLE,
    "rejected": frozenset({"received", "submitted"}),
    "returned": frozenset({"partially_shipped", "shipped", "invoiced", "completed"}),
    "refunded": frozenset({"returned", "invoiced", "completed"}),
}
TERMINAL = frozenset({"cancelled", "rejected", "refunded"})


def can_transition(current: str, target: str) -> bool:
    if current == target or current in TERMINAL:
        return False
    if target in _SIDE_EXITS:
        return current in _SIDE_EXITS[target]
    if target in _RANK and current in _RANK:
        return _RANK[target] > _RANK[current]
    return False


def event_type(status: str) -> str:
    return f"order.{status}"
