"""What a channel may promise (availability after the tenant's rules) and the stock it holds at
checkout (reservations)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from contracts.v1.orders import ChannelName, Quantity, Sku

LocationId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^\S+$")]
ReservationStatus = Literal["active", "released", "consumed", "expired"]


class LocationAvailability(msgspec.Struct, kw_only=True):
    """Available to promise at one location the channel may sell from."""

    location_id: str
    available: int


class Availability(msgspec.Struct, kw_only=True):
    """What `channel` may promise of `sku`: available to promise at the locations its rules let
    it sell from, less its safety stock, times its allocation share, and 0 below its reserve
    threshold. `as_of` is when the backend reported the stock (None: it reported none)."""

    sku: str
    channel: str
    available: int
    locations: list[LocationAvailability]
    as_of: datetime | None


class AvailabilityList(msgspec.Struct, kw_only=True):
    """Body of `GET /v1/availability`: one entry per SKU asked, in the order asked."""

    data: list[Availability]


class ReservationLineInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Stock to hold: `quantity` of `sku`, at `location_id` or anywhere the channel sells from."""

    sku: Sku
    quantity: Quantity
    location_id: LocationId | None = None


class ReservationCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of `POST /v1/inventory/reservations`."""

    lines: Annotated[list[ReservationLineInput], msgspec.Meta(min_length=1, max_length=100)]
    channel: ChannelName
    ttl_seconds: Annotated[int, msgspec.Meta(ge=1, le=86_400)] = 900

    def __post_init__(self) -> None:
        seen = [(line.sku, line.location_id) for line in self.lines]
        if len(set(seen)) != len(seen):
            msg = "`lines`: each sku (and location_id) at most once"
            raise ValueError(msg)


class ReservationLine(msgspec.Struct, kw_only=True):
    sku: str
    quantity: int
    location_id: str | None


class Reservation(msgspec.Struct, kw_only=True):
    """Stock held for a checkout until `expires_at`, unless released or consumed by the order
    that cites it (`order_id`)."""

    id: str
    channel: str
    status: ReservationStatus
    lines: list[ReservationLine]
    expires_at: datetime
    created_at: datetime
    order_id: str | None = None
