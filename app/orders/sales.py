"""Turning an accepted order into the sale request a backend is sent, with the customer the
backend knows it by. A fault here is a mapping fault no retry fixes (`Undeliverable`)."""

from __future__ import annotations

import contextlib

import msgspec

from app.customers.email_locks import EmailLocks
from app.publicids import CUSTOMER, key_of
from app.store.models import OrderRow
from app.tenancy.bindings import TenantBackends
from contracts.backend import CustomerDraft, CustomerQuery, SaleLine, SaleRequest
from contracts.v1 import Address, Money, OrderTotals


class Undeliverable(Exception):
    """An order that cannot be turned into a sale (mapping fault): needs an operator."""


async def customer_key_for(
    backends: TenantBackends, order: OrderRow, emails: EmailLocks | None = None
) -> str:
    """The backend's customer for the order: its own id, or found by e-mail, or created. The
    look-up and the create run under the address's lock (the one `POST /v1/customers` takes),
    so two guest orders of one shopper, or an order and a sign-up, make one customer."""
    customer = order.customer
    if customer.get("id"):
        key = key_of(CUSTOMER, customer["id"])
        if key is None:
            raise Undeliverable(f"customer id {customer['id']} is not ours")
        return key
    email = customer.get("email")
    if not email:
        raise Undeliverable("order has neither a customer id nor an e-mail")
    held = emails.hold(order.tenant_id, email) if emails else contextlib.nullcontext()
    async with held:
        return await _find_or_create(backends, order, email)


async def _find_or_create(backends: TenantBackends, order: OrderRow, email: str) -> str:
    customer = order.customer
    page = await backends.customers.list_customers(CustomerQuery(email=email, limit=1))
    if page.items:
        return page.items[0].key
    address = msgspec.convert(order.shipping_address, Address)
    record = await backends.customers.create_customer(
        CustomerDraft(
            # Derived from the order id: a retried post finds the customer it created.
            key=new_customer_key_for(order.id),
            email=email,
            first_name=customer.get("first_name") or address.first_name,
            last_name=customer.get("last_name") or address.last_name,
            phone=customer.get("phone"),
            addresses=[address],
            marketing_consent=False,
        )
    )
    return record.key


def new_customer_key_for(order_id: str) -> str:
    """The customer number a guest order creates: stable per order, so retries reuse it."""
    return "GW-" + order_id.split("_", 1)[-1].upper()


def sale_request(order: OrderRow, customer_key: str) -> SaleRequest:
    return SaleRequest(
        reference=order.id,
        channel=order.channel,
        external_reference=order.external_reference,
        customer_key=customer_key,
        lines=[
            SaleLine(
                sku=line["sku"],
                quantity=line["quantity"],
                unit_price=msgspec.convert(line["unit_price"], Money),
            )
            for line in order.lines
        ],
        shipping_address=msgspec.convert(order.shipping_address, Address),
        billing_address=msgspec.convert(order.billing_address, Address)
        if order.billing_address
        else None,
        totals=msgspec.convert(order.totals, OrderTotals),
        placed_at=order.placed_at,
    )
