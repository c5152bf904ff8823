"""Checking what a channel sends with an order before it is taken: prices, totals, times.
Pure functions; they raise the 4xx problems (app.problems) that name the fields at fault."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.problems import FieldError, InvalidRequest, Unprocessable
from contracts.v1 import Money, OrderCreate, OrderLine, OrderTotals

# Amounts are decimal strings of at most 15 integer digits (contracts.v1.common.AmountStr).
MAX_AMOUNT = Decimal(10) ** 15
EARLIEST_PLACED_AT = datetime(2000, 1, 1, tzinfo=UTC)
PLACED_AT_LEEWAY = timedelta(days=1)


def _bounded(value: Decimal, field: str) -> Decimal:
    if abs(value) >= MAX_AMOUNT:
        raise Unprocessable(
            f"{field} is too large", errors=[FieldError(field, "amounts must stay below 10^15")]
        )
    return value


def check_placed_at(placed_at: datetime) -> datetime:
    """`placed_at` in UTC, within 2000-01-01 .. now + 1 day."""
    problem = InvalidRequest(
        "placed_at is out of range",
        errors=[
            FieldError("placed_at", "must be an RFC 3339 time between 2000-01-01 and tomorrow")
        ],
    )
    if placed_at.tzinfo is None:
        raise InvalidRequest(
            "placed_at needs a UTC offset",
            errors=[FieldError("placed_at", "RFC 3339 with offset, e.g. Z")],
        )
    try:
        value = placed_at.astimezone(UTC)
    except OverflowError:
        raise problem from None
    if not EARLIEST_PLACED_AT <= value <= datetime.now(UTC) + PLACED_AT_LEEWAY:
        raise problem
    return value


def _minor_units_errors(money: Money | None, field: str) -> list[FieldError]:
    if money is None or money.fits_currency():
        return []
    return [
        FieldError(
            f"{field}.amount",
            f"{money.currency} has {money.minor_units} decimal places; {money.amount} has more",
        )
    ]


def compute_lines(data: OrderCreate) -> tuple[list[OrderLine], str]:
    currencies = {line.unit_price.currency for line in data.lines}
    if len(currencies) != 1:
        raise Unprocessable(
            "all lines of an order must be priced in one currency",
            errors=[FieldError("lines", "mixed currencies: " + ", ".join(sorted(currencies)))],
        )
    currency = currencies.pop()
    errors = [
        error
        for index, line in enumerate(data.lines)
        for error in _minor_units_errors(line.unit_price, f"lines[{index}].unit_price")
    ]
    if errors:
        raise Unprocessable("a price has more decimals than its currency", errors=errors)
    lines = [
        OrderLine(
            sku=line.sku,
            quantity=line.quantity,
            unit_price=line.unit_price,
            line_total=Money.of(
                _bounded(line.unit_price.value * line.quantity, f"lines[{index}].unit_price"),
                currency,
            ),
        )
        for index, line in enumerate(data.lines)
    ]
    return lines, currency


TOTALS_FIELDS = ("subtotal", "shipping", "tax", "discount", "total")


def compute_totals(data: OrderCreate, lines: list[OrderLine], currency: str) -> OrderTotals:
    """The totals sent, checked against the lines, or computed from them. `total` is
    `subtotal + shipping - discount`, plus `tax` where prices exclude it (either is taken)."""
    subtotal = _bounded(sum((line.line_total.value for line in lines), Decimal(0)), "lines")
    if data.totals is None:
        money = Money.of(subtotal, currency)
        return OrderTotals(subtotal=money, total=money)
    totals = data.totals
    given = {name: getattr(totals, name) for name in TOTALS_FIELDS}
    errors = [
        FieldError(f"totals.{name}", f"must be in {currency}, like the lines")
        for name, money in given.items()
        if money is not None and money.currency != currency
    ]
    if errors:
        raise Unprocessable("totals must be in the currency of the lines", errors=errors)
    errors = [
        error
        for name, money in given.items()
        for error in _minor_units_errors(money, f"totals.{name}")
    ]
    errors += [
        FieldError(f"totals.{name}", "must not be negative")
        for name, money in given.items()
        if money is not None and money.value < 0
    ]
    if errors:
        raise Unprocessable("totals are not valid amounts", errors=errors)
    value = {
        name: money.value if money is not None else Decimal(0) for name, money in given.items()
    }
    if value["subtotal"] != subtotal:
        errors.append(
            FieldError(
                "totals.subtotal",
                f"must be the sum of the line totals, {Money.of(subtotal, currency).amount}",
            )
        )
    without_tax = value["subtotal"] + value["shipping"] - value["discount"]
    if value["total"] not in (without_tax, without_tax + value["tax"]):
        errors.append(
            FieldError(
                "totals.total",
                "must be subtotal + shipping - discount (+ tax where prices exclude it)",
            )
        )
    if errors:
        raise Unprocessable("totals do not add up", errors=errors)
    return totals
