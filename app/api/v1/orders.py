"""`/v1/orders`: order intake (202, posted to the backend asynchronously) and order reads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from app.api.body import StrictBody
from app.api.deps import Ctx, ServicesDep, as_utc
from app.api.guards import requires
from app.api.idempotent import run_idempotent
from app.api.openapi import GET_ONE, READ, WRITE, problems
from app.api.responses import json_response
from app.api.v1.products import Cursor, Limit
from app.idempotency import HEADER, IdempotencyClaim, StoredResponse, parse_key
from app.paging import check_limit
from contracts.v1 import Order, OrderCreate, OrderPage
from contracts.v1.orders import OrderEventList, OrderStatus


class OrderController(Controller):
    path = "/v1/orders"
    tags = ["Orders"]

    @post(
        "/",
        operation_id="createOrder",
        responses=problems(*WRITE),
        summary="Place an order; accepted durably (202) and posted to the backend asynchronously",
        guards=[requires("orders:write")],
        dto=StrictBody[OrderCreate],
        return_dto=None,
        status_code=202,
    )
    async def create_order(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        ctx: Ctx,
        data: JSONBody[OrderCreate],
        idempotency_key: Annotated[
            str, HeaderParameter(name=HEADER, description="Required; at most 255 characters.")
        ],
    ) -> Response[Order]:
        key = parse_key(idempotency_key, required=True)
        assert key is not None

        def render(order: Order) -> StoredResponse:
            return StoredResponse(
                status=202,
                body=msgspec.json.encode(order),
                headers={"Location": f"{self.path}/{order.id}"},
            )

        async def accept(claim: IdempotencyClaim) -> StoredResponse:
            return await services.intake.accept(ctx, data, claim, render)

        return await run_idempotent(request, services, ctx, key, accept)

    @get(
        "/",
        operation_id="listOrders",
        responses=problems(*READ),
        summary="List orders, newest first",
        guards=[requires("orders:read")],
    )
    async def list_orders(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        ctx: Ctx,
        limit: Limit = None,
        cursor: Cursor = None,
        status: FromQuery[OrderStatus | None] = None,
        channel: Annotated[str | None, QueryParameter(max_length=50)] = None,
        external_reference: Annotated[str | None, QueryParameter(max_length=100)] = None,
        updated_since: FromQuery[datetime | None] = None,
    ) -> Response[OrderPage]:
        http = services.settings.http
        page = await services.orders.list_orders(
            ctx,
            limit=check_limit(limit, http.default_page_size, http.max_page_size),
            cursor=cursor,
            status=status,
            channel=channel,
            external_reference=external_reference,
            updated_since=as_utc(updated_since),
        )
        return json_response(request, page)

    @get(
        "/{order_id:str}",
        operation_id="getOrder",
        responses=problems(*GET_ONE),
        summary="Get an order",
        guards=[requires("orders:read")],
    )
    async def get_order(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        ctx: Ctx,
        order_id: FromPath[str],
    ) -> Response[Order]:
        return json_response(request, await services.orders.get_order(ctx, order_id))

    @post(
        "/{order_id:str}/cancel",
        operation_id="cancelOrder",
        summary="Cancel an order: at once if not yet posted (200), else in the backend (202)",
        guards=[requires("orders:write")],
        responses={
            202: ResponseSpec(
                Order,
                description="Accepted: the order is with the backend, which is asked to cancel "
                "it; the outcome appears in the order's status and events",
                generate_examples=False,
            ),
            **problems(401, 403, 404, 409, 429, 503),
        },
        status_code=200,
    )
    async def cancel_order(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        ctx: Ctx,
        order_id: FromPath[str],
    ) -> Response[Order]:
        done, order = await services.cancellation.cancel(ctx, order_id)
        if not done:
            services.worker.wake()
        return json_response(request, order, status_code=200 if done else 202)

    @get(
        "/{order_id:str}/events",
        operation_id="listOrderEvents",
        responses=problems(*GET_ONE),
        summary="The order's events, oldest first",
        guards=[requires("orders:read")],
    )
    async def list_events(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        ctx: Ctx,
        order_id: FromPath[str],
    ) -> Response[OrderEventList]:
        events = await services.orders.list_events(ctx, order_id)
        return json_response(request, OrderEventList(data=events))
