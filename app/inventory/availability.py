"""Available to promise, and what each channel is shown of it: the one place that turns the
backend's stock figures, the gateway's own holds and a tenant's channel rules into a number.

For a SKU at a location:

    available_to_promise = max(0, on_hand - reserved - safety_stock - held)

where `reserved` and `safety_stock` are the backend's, and `held` is what the gateway holds
there: active reservations and orders accepted but not yet confirmed by the backend (once the
backend confirms an order, its own `reserved` covers it). Holds placed at no location come off
the total over the locations a channel sells from, not off any one location.

For a channel, with its rule:

    pool      = max(0, sum of available_to_promise over eligible locations
                       - holds at no location - rule.safety_stock)
    available = floor(pool * rule.allocation_share), or 0 when below rule.reserve_threshold

Eligible locations are those the backend reports, less the rule's excluded ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal


@dataclass(frozen=True, slots=True)
class StockAt:
    """The backend's figures for one SKU at one location."""

    location_id: str
    on_hand: int
    reserved: int
    safety_stock: int


@dataclass(frozen=True, slots=True)
class ChannelRule:
    """How much of the stock one channel is shown. The defaults show everything."""

    channel: str
    allocation_share: Decimal = Decimal(1)  # 0..1, at most 4 decimals
    reserve_threshold: int = 0  # show 0 while fewer than this are available to the channel
    safety_stock: int = 0  # held back from this channel, per SKU
    excluded_locations: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class ChannelFigure:
    available: int
    locations: dict[str, int]  # eligible location -> available to promise there


def available_to_promise(stock: StockAt, held: int = 0) -> int:
    return max(0, stock.on_hand - stock.reserved - stock.safety_stock - held)


def channel_availability(
    stock: Iterable[StockAt], held_at: Mapping[str | None, int], rule: ChannelRule
) -> ChannelFigure:
    """`held_at` maps a location (None: no location) to the quantity the gateway holds there."""
    locations = {
        level.location_id: available_to_promise(level, held_at.get(level.location_id, 0))
        for level in stock
        if level.location_id not in rule.excluded_locations
    }
    pool = max(0, sum(locations.values()) - held_at.get(None, 0) - rule.safety_stock)
    shown = int((pool * rule.allocation_share).to_integral_value(rounding=ROUND_FLOOR))
    if shown < rule.reserve_threshold:
        shown = 0
    return ChannelFigure(available=shown, locations=locations)


def promisable(figure: ChannelFigure, location_id: str | None = None) -> int:
    """The most the channel can promise, in all or at one location: a quantity asked at a
    location must fit both that location and the channel's total."""
    if location_id is None:
        return figure.available
    return min(figure.available, figure.locations.get(location_id, 0))
