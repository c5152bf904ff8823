"""Available to promise and each channel's figure (app.inventory.availability), against an
oracle written from the rule's wording, over random stock, holds and rules."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from app.inventory.availability import (
    ChannelRule,
    StockAt,
    available_to_promise,
    channel_availability,
    promisable,
)

LOCATIONS = ("DC1", "ST-AMS", "ST-UTR", "DC2")
small = st.integers(min_value=0, max_value=200)


@st.composite
def stocks(draw: st.DrawFn) -> list[StockAt]:
    places = draw(st.lists(st.sampled_from(LOCATIONS), unique=True, max_size=len(LOCATIONS)))
    return [StockAt(place, draw(small), draw(small), draw(st.integers(0, 20))) for place in places]


@st.composite
def holds(draw: st.DrawFn) -> dict[str | None, int]:
    keys = draw(st.lists(st.sampled_from((None, *LOCATIONS)), unique=True, max_size=5))
    return {key: draw(st.integers(0, 80)) for key in keys}


@st.composite
def rules(draw: st.DrawFn) -> ChannelRule:
    basis_points = draw(st.integers(0, 10_000))
    return ChannelRule(
        channel="web",
        allocation_share=Decimal(basis_points) / 10_000,
        reserve_threshold=draw(st.integers(0, 50)),
        safety_stock=draw(st.integers(0, 50)),
        excluded_locations=frozenset(draw(st.lists(st.sampled_from(LOCATIONS), unique=True))),
    )


def oracle(stock: list[StockAt], held: dict[str | None, int], rule: ChannelRule) -> int:
    """The formula as the issue words it, computed another way (fractions, no helpers)."""
    total = 0
    for level in stock:
        if level.location_id in rule.excluded_locations:
            continue
        free = level.on_hand - level.reserved - level.safety_stock - held.get(level.location_id, 0)
        total += free if free > 0 else 0
    pool = total - held.get(None, 0) - rule.safety_stock
    if pool < 0:
        pool = 0
    shown = (Fraction(pool) * Fraction(str(rule.allocation_share))).__floor__()
    return 0 if shown < rule.reserve_threshold else shown


@given(stocks(), holds(), rules())
def test_the_figure_is_the_rule_applied(
    stock: list[StockAt], held: dict[str | None, int], rule: ChannelRule
) -> None:
    figure = channel_availability(stock, held, rule)
    assert figure.available == oracle(stock, held, rule)
    assert set(figure.locations) == {s.location_id for s in stock} - rule.excluded_locations
    assert all(value >= 0 for value in figure.locations.values())


@given(stocks(), holds(), rules(), st.sampled_from(LOCATIONS), small, small)
def test_stock_at_an_excluded_location_changes_nothing(
    stock: list[StockAt],
    held: dict[str | None, int],
    rule: ChannelRule,
    place: str,
    on_hand: int,
    reserved: int,
) -> None:
    excluded = ChannelRule(
        channel=rule.channel,
        allocation_share=rule.allocation_share,
        reserve_threshold=rule.reserve_threshold,
        safety_stock=rule.safety_stock,
        excluded_locations=rule.excluded_locations | {place},
    )
    others = [level for level in stock if level.location_id != place]
    moved = [*others, StockAt(place, on_hand, reserved, 0)]
    assert (
        channel_availability(moved, held, excluded).available
        == channel_availability(others, held, excluded).available
    )


@given(stocks(), holds(), rules(), st.sampled_from((None, *LOCATIONS)), st.integers(1, 50))
def test_holding_more_never_shows_more(
    stock: list[StockAt],
    held: dict[str | None, int],
    rule: ChannelRule,
    place: str | None,
    more: int,
) -> None:
    before = channel_availability(stock, held, rule)
    after = channel_availability(stock, {**held, place: held.get(place, 0) + more}, rule)
    assert after.available <= before.available
    for location, value in after.locations.items():
        assert value <= before.locations[location]


@given(stocks(), holds())
def test_a_channel_without_a_rule_sees_all_that_is_free(
    stock: list[StockAt], held: dict[str | None, int]
) -> None:
    figure = channel_availability(stock, held, ChannelRule(channel="web"))
    free = sum(available_to_promise(level, held.get(level.location_id, 0)) for level in stock)
    assert figure.available == max(0, free - held.get(None, 0))


@given(stocks(), holds(), rules(), st.sampled_from(LOCATIONS))
def test_a_quantity_at_a_location_must_fit_there_and_in_the_channel(
    stock: list[StockAt], held: dict[str | None, int], rule: ChannelRule, place: str
) -> None:
    figure = channel_availability(stock, held, rule)
    can = promisable(figure, place)
    assert can <= figure.available
    assert can <= figure.locations.get(place, 0)
    assert promisable(figure) == figure.available


def test_examples_worked_by_hand() -> None:
    stock = [StockAt("DC1", 20, 2, 0), StockAt("ST-AMS", 5, 0, 0)]
    marketplace = ChannelRule(
        channel="marketplace",
        allocation_share=Decimal("0.5"),
        reserve_threshold=3,
        safety_stock=2,
        excluded_locations=frozenset({"ST-AMS"}),
    )
    assert channel_availability(stock, {}, marketplace).available == 8  # (18 - 2) / 2
    assert channel_availability(stock, {None: 12}, marketplace).available == 0  # 2 < 3
    assert channel_availability(stock, {}, ChannelRule(channel="web")).available == 23
    assert channel_availability(stock, {"DC1": 30}, ChannelRule(channel="web")).available == 5
    share = ChannelRule(channel="app", allocation_share=Decimal("0.29"))
    assert channel_availability([StockAt("DC1", 100, 0, 0)], {}, share).available == 29
