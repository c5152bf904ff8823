"""Customers as channels see and write them. Written through to the backend, which owns them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from contracts.v1.common import Address

Email = Annotated[
    str,
    msgspec.Meta(
        min_length=3,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="E-mail address.",
        examples=["ana@example.com"],
    ),
]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Phone = Annotated[
    str,
    msgspec.Meta(
        min_length=3,
        max_length=40,
        pattern=r"^\+?[0-9 ()./-]{3,40}$",
        description="Phone number, ideally E.164.",
        examples=["+31 20 555 0100"],
    ),
]


class Customer(msgspec.Struct, kw_only=True):
    """A customer. `id` is ours (`cus_…`); backend ids live in `external_ids`."""

    id: str
    email: str
    first_name: str
    last_name: str
    phone: str | None
    addresses: list[Address]
    marketing_consent: bool
    external_ids: dict[str, str]
    created_at: datetime
    updated_at: datetime


class CustomerCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of `POST /v1/customers`."""

    email: Email
    first_name: Name
    last_name: Name
    phone: Phone | None = None
    addresses: Annotated[list[Address], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )
    marketing_consent: bool = False


class CustomerUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of `PATCH /v1/customers/{id}`: only the fields present change (JSON merge patch).

    `phone: null` clears the phone; `addresses` replaces the whole list.
    """

    email: Email | msgspec.UnsetType = msgspec.UNSET
    first_name: Name | msgspec.UnsetType = msgspec.UNSET
    last_name: Name | msgspec.UnsetType = msgspec.UNSET
    phone: Phone | msgspec.UnsetType | None = msgspec.UNSET
    addresses: Annotated[list[Address], msgspec.Meta(max_length=20)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    marketing_consent: bool | msgspec.UnsetType = msgspec.UNSET


class CustomerPage(msgspec.Struct, kw_only=True):
    """A page of customers (the concrete form of `Page`, so the schema names its items)."""

    data: list[Customer]
    next_cursor: str | None
