"""`/v1/customers`: read, create and change customers; writes go through to the backend."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from app.api.body import StrictBody
from app.api.deps import Ctx, ServicesDep, as_utc
from app.api.guards import requires
from app.api.idempotent import run_idempotent
from app.api.openapi import GET_ONE, READ, WRITE, problems
from app.api.responses import cached_response, json_response, read_key
from app.api.v1.products import Cursor, Limit
from app.cache.tags import customer_page_tags, customer_tags
from app.idempotency import HEADER, IdempotencyClaim, StoredResponse, parse_key
from app.paging import check_limit
from contracts.v1 import Customer, CustomerCreate, CustomerPage, CustomerUpdate

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name=HEADER, description="Makes the create safe to retry (at most 255 characters)."
    ),
]


class CustomerController(Controller):
    path = "/v1/customers"
    tags = ["Customers"]

    @get(
        "/",
        operation_id="listCustomers",
        opt={"cache": "customers", "scope": "customers:read"},
        responses=problems(*READ),
        summary="List customers",
        guards=[requires("customers:read")],
    )
    async def list_customers(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        ctx: Ctx,
        limit: Limit = None,
        cursor: Cursor = None,
        email: Annotated[str | None, QueryParameter(max_length=254)] = None,
        phone: Annotated[str | None, QueryParameter(max_length=40)] = None,
        updated_since: FromQuery[datetime | None] = None,
    ) -> Response[CustomerPage]:
        http = services.settings.http
        size = check_limit(limit, http.default_page_size, http.max_page_size)
        since = as_utc(updated_since)

        async def load() -> CustomerPage:
            return await services.customers.list_customers(
                ctx, limit=size, cursor=cursor, email=email, phone=phone, updated_since=since
            )

        key = read_key(request, ctx.tenant_id, "customers")
        cached = await services.cache.read(
            ctx.tenant_id, "customers", key, load, customer_page_tags
        )
        return cached_response(request, cached)

    @get(
        "/{customer_id:str}",
        operation_id="getCustomer",
        opt={"cache": "customers", "scope": "customers:read"},
        responses=problems(*GET_ONE),
        summary="Get a customer",
        guards=[requires("customers:read")],
    )
    async def get_customer(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        ctx: Ctx,
        customer_id: FromPath[str],
    ) -> Response[Customer]:
        async def load() -> Customer:
            return await services.customers.get_customer(ctx, customer_id)

        key = read_key(request, ctx.tenant_id, "customers")
        cached = await services.cache.read(ctx.tenant_id, "customers", key, load, customer_tags)
        return cached_response(request, cached)

    @post(
        "/",
        operation_id="createCustomer",
        responses=problems(*WRITE),
        summary="Create a customer (written through to the backend)",
        guards=[requires("customers:write")],
        dto=StrictBody[CustomerCreate],
        return_dto=None,
        status_code=201,
    )
    async def create_customer(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        ctx: Ctx,
        data: JSONBody[CustomerCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Customer]:
        key = parse_key(idempotency_key, required=False)
        if key is None:
            customer = await services.customers.create_customer(ctx, data)
            return json_response(
                request,
                customer,
                status_code=201,
                headers={"Location": f"{self.path}/{customer.id}"},
            )

        async def create(claim: IdempotencyClaim) -> StoredResponse:
            # The customer number follows from the key, so a retry after a crash finds the
            # customer the first attempt created instead of making a second one.
            digest = hashlib.sha256(f"{ctx.tenant_id}\0{ctx.client_id}\0{key}".encode()).hexdigest()
            customer = await services.customers.create_customer(
                ctx, data, key=f"GW-K{digest[:24].upper()}"
            )
            stored = StoredResponse(
                status=201,
                body=msgspec.json.encode(customer),
                headers={"Location": f"{self.path}/{customer.id}"},
            )
            await services.idempotency.complete(claim, stored)
            return stored

        return await run_idempotent(request, services, ctx, key, create, claim_first=True)

    @patch(
        "/{customer_id:str}",
        operation_id="updateCustomer",
        responses=problems(*WRITE, 404),
        summary="Change a customer (JSON merge patch semantics)",
        guards=[requires("customers:write")],
        dto=StrictBody[CustomerUpdate],
        return_dto=None,
    )
    async def update_customer(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        ctx: Ctx,
        customer_id: FromPath[str],
        data: JSONBody[CustomerUpdate],
    ) -> Response[Customer]:
        return json_response(
            request, await services.customers.update_customer(ctx, customer_id, data)
        )
