"""Shared value types of v1: money, addresses, pages of results and problem details."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Generic, TypeVar

import msgspec

from contracts.v1.codes import COUNTRY_CODES, CURRENCY_CODES, CURRENCY_MINOR_UNITS

T = TypeVar("T")

# A decimal amount as a string: never a float on the wire. Up to 4 decimals covers every
# ISO 4217 minor unit plus unit prices quoted in fractions of a cent.
AmountStr = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?$",
        description='Decimal amount as a string, e.g. "19.99"; never a float.',
        examples=["19.99"],
    ),
]
CurrencyCode = Annotated[
    str,
    msgspec.Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code.", examples=["EUR"]),
]
CountryCode = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country code.", examples=["NL"]
    ),
]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
OptionalText = Annotated[str, msgspec.Meta(max_length=200)]
# A phone number as written (free form), but never control characters (C0, DEL, C1).
PhoneText = Annotated[str, msgspec.Meta(max_length=40, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")]


class Money(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An amount in one currency. `amount` is a decimal string, `currency` an ISO 4217 code."""

    amount: AmountStr
    currency: CurrencyCode

    def __post_init__(self) -> None:
        if self.currency not in CURRENCY_CODES:
            msg = f"`currency`: {self.currency!r} is not an ISO 4217 currency code"
            raise ValueError(msg)

    @property
    def value(self) -> Decimal:
        return Decimal(self.amount)

    @property
    def minor_units(self) -> int:
        """The currency's ISO 4217 minor units: 2 for EUR, 0 for JPY, 3 for KWD."""
        return minor_units(self.currency)

    def fits_currency(self) -> bool:
        """Whether the amount can be paid in the currency: no more (significant) decimals
        than its minor units ("1.50" JPY cannot, "1.001" EUR cannot, "1.10" EUR can)."""
        exponent = self.value.normalize().as_tuple().exponent
        return isinstance(exponent, int) and -exponent <= self.minor_units

    @classmethod
    def of(cls, value: Decimal, currency: str) -> Money:
        """Money from a Decimal: at least the currency's minor units of decimals (two for
        EUR), more (up to four) only when the value needs them."""
        if value.as_tuple().exponent < -4:  # type: ignore[operator]
            value = value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)
        value = value.normalize()
        exponent = value.as_tuple().exponent
        places = minor_units(currency)
        shown = (
            value.quantize(Decimal(1).scaleb(-places))
            if isinstance(exponent, int) and exponent > -places
            else value
        )
        return cls(amount=format(shown, "f"), currency=currency)


def minor_units(currency: str) -> int:
    return CURRENCY_MINOR_UNITS.get(currency, 2)


class Address(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A postal address; `country` is ISO 3166-1 alpha-2."""

    first_name: ShortText
    last_name: ShortText
    company: OptionalText | None = None
    line1: ShortText
    line2: OptionalText | None = None
    city: ShortText
    region: OptionalText | None = None
    postal_code: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    country: CountryCode
    phone: PhoneText | None = None

    def __post_init__(self) -> None:
        if self.country not in COUNTRY_CODES:
            msg = f"`country`: {self.country!r} is not an ISO 3166-1 alpha-2 country code"
            raise ValueError(msg)


class Page(msgspec.Struct, Generic[T], kw_only=True):
    """One page of a list. `next_cursor` is null on the last page."""

    data: list[T]
    next_cursor: str | None


class ProblemFieldError(msgspec.Struct, kw_only=True):
    """One failed field of a request: where (`field`, and `pointer` per RFC 6901) and why."""

    field: str
    pointer: str
    message: str


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details, with the request's correlation id."""

    type: str
    title: str
    status: int
    detail: str
    correlation_id: str
    instance: str | None = None
    errors: list[ProblemFieldError] | None = None
