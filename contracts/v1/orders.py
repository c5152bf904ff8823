"""Orders: what a channel sends (`OrderCreate`), what it reads back (`Order`), and the event
history of each order (`OrderEvent`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from contracts.v1.common import Address, Money
from contracts.v1.customers import Email, Name, Phone

OrderStatus = Literal[
    "received",
    "submitted",
    "accepted",
    "allocated",
    "partially_shipped",
    "shipped",
    "invoiced",
    "completed",
    "cancelled",
    "rejected",
    "returned",
    "refunded",
]
EventCause = Literal["channel", "worker", "backend", "operator"]

Sku = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^\S+$")]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=100_000)]
ExternalReference = Annotated[
    str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[\x21-\x7e][\x20-\x7e]*$")
]
ChannelName = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=r"^[a-z0-9_-]+$")]
CustomerId = Annotated[str, msgspec.Meta(pattern=r"^cus_[A-Za-z0-9_-]{1,120}$")]
ReservationId = Annotated[str, msgspec.Meta(pattern=r"^res_[A-Za-z0-9_-]{1,120}$")]


class CustomerReference(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The buyer of an order: an existing customer by `id`, or inline details matched by e-mail
    (and created when no customer has it)."""

    id: CustomerId | None = None
    email: Email | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    phone: Phone | None = None

    def __post_init__(self) -> None:
        if self.id is None and (self.email is None or not self.first_name or not self.last_name):
            msg = "`email`: a customer needs an `id`, or `email`, `first_name` and `last_name`"
            raise ValueError(msg)


class OrderLineInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One line of a new order. `unit_price` is what the channel charged; it is never repriced."""

    sku: Sku
    quantity: Quantity
    unit_price: Money

    def __post_init__(self) -> None:
        if self.unit_price.amount.startswith("-"):
            msg = "`unit_price`: must not be negative"
            raise ValueError(msg)


class OrderTotals(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Order totals. Computed from the lines when a channel sends none."""

    subtotal: Money
    shipping: Money | None = None
    tax: Money | None = None
    discount: Money | None = None
    total: Money


class OrderCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of `POST /v1/orders`."""

    channel: ChannelName
    external_reference: ExternalReference
    customer: CustomerReference
    lines: Annotated[list[OrderLineInput], msgspec.Meta(min_length=1, max_length=500)]
    shipping_address: Address
    billing_address: Address | None = None
    totals: OrderTotals | None = None
    reservation_id: ReservationId | None = None
    placed_at: datetime


class OrderLine(msgspec.Struct, kw_only=True):
    """One line of an order as stored: the channel's price and the computed line total."""

    sku: str
    quantity: int
    unit_price: Money
    line_total: Money


class OrderCustomer(msgspec.Struct, kw_only=True):
    """The buyer as the order recorded them; `id` is set once the customer is known."""

    id: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None


class Order(msgspec.Struct, kw_only=True):
    """An order the gateway accepted. `status` follows the order state machine; an order the
    gateway could not deliver stays `received` with `dead_lettered: true`."""

    id: str
    status: OrderStatus
    channel: str
    external_reference: str
    customer: OrderCustomer
    lines: list[OrderLine]
    shipping_address: Address
    billing_address: Address | None
    totals: OrderTotals
    reservation_id: str | None
    placed_at: datetime
    backend_reference: str | None
    external_ids: dict[str, str]
    dead_lettered: bool
    created_at: datetime
    updated_at: datetime


class OrderEvent(msgspec.Struct, kw_only=True):
    """One change in an order's life, oldest first. Intake records `order.received`."""

    id: str
    order_id: str
    type: str
    status: OrderStatus
    previous_status: OrderStatus | None
    cause: EventCause
    correlation_id: str
    backend_reference: str | None
    detail: dict[str, Any] | None
    occurred_at: datetime


class OrderEventList(msgspec.Struct, kw_only=True):
    """`GET /v1/orders/{id}/events`: every event of the order, oldest first."""

    data: list[OrderEvent]


class OrderPage(msgspec.Struct, kw_only=True):
    """A page of orders, newest first (`Page` made concrete, so the schema names its items)."""

    data: list[Order]
    next_cursor: str | None
