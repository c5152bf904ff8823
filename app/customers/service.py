"""Customer reads and writes. Writes go through to the backend synchronously: a 201 means the
backend has the customer. An e-mail address belongs to one customer of a tenant: the check and
the write that follows it run under that address's lock (`email_locks`), on every replica."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

from msgspec import UNSET

from app.backend_calls import call_backend
from app.cache.reads import CachedReads
from app.context import CallContext
from app.customers.email_locks import EmailLocks
from app.paging import CursorCodec
from app.problems import Conflict, NotFound
from app.publicids import CUSTOMER, key_of, public_id
from app.store.ids import new_id
from app.tenancy.bindings import BackendResolver
from app.tenancy.shadow import ShadowReads
from contracts.backend import CustomerChanges, CustomerDraft, CustomerQuery, CustomerRecord
from contracts.v1 import Customer, CustomerCreate, CustomerPage, CustomerUpdate


def to_customer(record: CustomerRecord) -> Customer:
    return Customer(
        id=public_id(CUSTOMER, record.key),
        email=record.email,
        first_name=record.first_name,
        last_name=record.last_name,
        phone=record.phone,
        addresses=record.addresses,
        marketing_consent=record.marketing_consent,
        external_ids=record.external_ids,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def new_customer_key() -> str:
    """A customer number for customers created through the gateway."""
    return new_id("gw").upper().replace("_", "-")


SHADOW_SAMPLE = 10  # records of a listed page compared against a migration's candidate


class CustomerService:
    def __init__(
        self,
        backends: BackendResolver,
        cursors: CursorCodec,
        shadow: ShadowReads | None = None,
        cache: CachedReads | None = None,
        *,
        emails: EmailLocks,
    ) -> None:
        self._emails = emails
        self._backends = backends
        self._cursors = cursors
        self._shadow = shadow
        self._cache = cache

    async def _changed(self, ctx: CallContext, *tags: str) -> None:
        if self._cache is not None:
            await self._cache.invalidate(ctx.tenant_id, ["list:customers", *tags])

    async def _wrote(self, ctx: CallContext, customer_id: str, fields: list[str]) -> None:
        """Tell a running migration the candidate missed this write (it is drift there)."""
        if self._shadow is not None:
            await self._shadow.wrote(ctx.tenant_id, "customers", {customer_id: fields})

    async def _observe(self, ctx: CallContext, customers: list[Customer]) -> None:
        if self._shadow is None or not customers:
            return
        keys = {c.id: key for c in customers[:SHADOW_SAMPLE] if (key := key_of(CUSTOMER, c.id))}

        async def read(candidate: Any) -> dict[str, Any]:
            records = await asyncio.gather(*(candidate.get_customer(key) for key in keys.values()))
            return {
                cid: to_customer(r) if r else None for cid, r in zip(keys, records, strict=True)
            }

        current = {c.id: c for c in customers if c.id in keys}
        await self._shadow.observe(ctx.tenant_id, "customers", current, read)

    async def list_customers(
        self,
        ctx: CallContext,
        *,
        limit: int,
        cursor: str | None,
        email: str | None = None,
        phone: str | None = None,
        updated_since: datetime | None = None,
    ) -> CustomerPage:
        filters = {
            "email": email.lower() if email else None,
            "phone": phone,
            "updated_since": updated_since.isoformat() if updated_since else None,
        }
        position = (
            self._cursors.decode(cursor, ctx.tenant_id, "customers", filters) if cursor else None
        )
        backends = await self._backends.for_tenant(ctx.tenant_id)
        query = CustomerQuery(
            email=email, phone=phone, updated_since=updated_since, limit=limit, cursor=position
        )
        page = await call_backend(
            backends.customers.list_customers(query), backend=backends.names["customers"]
        )
        next_cursor = (
            self._cursors.encode(ctx.tenant_id, "customers", filters, page.next_cursor)
            if page.next_cursor
            else None
        )
        customers = [to_customer(record) for record in page.items]
        await self._observe(ctx, customers)
        return CustomerPage(data=customers, next_cursor=next_cursor)

    async def get_customer(self, ctx: CallContext, customer_id: str) -> Customer:
        key = key_of(CUSTOMER, customer_id)
        if key is None:
            raise NotFound(f"no customer {customer_id}")
        backends = await self._backends.for_tenant(ctx.tenant_id)
        record = await call_backend(
            backends.customers.get_customer(key), backend=backends.names["customers"]
        )
        if record is None:
            raise NotFound(f"no customer {customer_id}")
        customer = to_customer(record)
        await self._observe(ctx, [customer])
        return customer

    async def find_by_email(self, ctx: CallContext, email: str) -> CustomerRecord | None:
        backends = await self._backends.for_tenant(ctx.tenant_id)
        page = await call_backend(
            backends.customers.list_customers(CustomerQuery(email=email, limit=1)),
            backend=backends.names["customers"],
        )
        return page.items[0] if page.items else None

    async def create_customer(
        self, ctx: CallContext, data: CustomerCreate, key: str | None = None
    ) -> Customer:
        async with self._emails.hold(ctx.tenant_id, data.email):
            existing = await self.find_by_email(ctx, data.email)
            if existing is not None and key is not None and existing.key == key:
                return to_customer(existing)  # an earlier attempt of this same request got through
            if existing is not None:
                raise Conflict(
                    f"a customer with this e-mail exists: {public_id(CUSTOMER, existing.key)}",
                    extra={"existing_id": public_id(CUSTOMER, existing.key)},
                )
            backends = await self._backends.for_tenant(ctx.tenant_id)
            draft = CustomerDraft(
                key=key or new_customer_key(),
                email=data.email,
                first_name=data.first_name,
                last_name=data.last_name,
                phone=data.phone,
                addresses=data.addresses,
                marketing_consent=data.marketing_consent,
            )
            record = await call_backend(
                backends.customers.create_customer(draft), backend=backends.names["customers"]
            )
        customer = to_customer(record)
        await self._changed(ctx, f"customer:{customer.id}")
        await self._wrote(ctx, customer.id, ["*"])
        return customer

    async def update_customer(
        self, ctx: CallContext, customer_id: str, data: CustomerUpdate
    ) -> Customer:
        key = key_of(CUSTOMER, customer_id)
        if key is None:
            raise NotFound(f"no customer {customer_id}")
        backends = await self._backends.for_tenant(ctx.tenant_id)
        name = backends.names["customers"]
        changes = CustomerChanges(
            email=data.email,
            first_name=data.first_name,
            last_name=data.last_name,
            phone=data.phone,
            addresses=data.addresses,
            marketing_consent=data.marketing_consent,
        )
        new_email = data.email if isinstance(data.email, str) else None
        guard = (
            self._emails.hold(ctx.tenant_id, new_email)
            if new_email is not None
            else contextlib.nullcontext()
        )
        async with guard:
            if new_email is not None:
                other = await self.find_by_email(ctx, new_email)
                if other is not None and other.key != key:
                    raise Conflict(
                        f"another customer has this e-mail: {public_id(CUSTOMER, other.key)}"
                    )
            record = await call_backend(
                backends.customers.update_customer(key, changes), backend=name
            )
        if record is None:
            raise NotFound(f"no customer {customer_id}")
        await self._changed(ctx, f"customer:{customer_id}")
        changed = [name for name in data.__struct_fields__ if getattr(data, name) is not UNSET]
        await self._wrote(ctx, customer_id, changed)
        return to_customer(record)
