"""`/v1/availability` and `/v1/inventory/reservations`: what a channel may promise, and stock
held at checkout."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from app.api.body import StrictBody
from app.api.deps import Ctx, ServicesDep
from app.api.guards import requires
from app.api.idempotent import run_idempotent, stored_problem
from app.api.openapi import GET_ONE, READ, WRITE, problems
from app.api.responses import json_response
from app.idempotency import HEADER, IdempotencyClaim, StoredResponse, parse_key
from app.problems import GatewayError, InvalidParameter
from contracts.v1.availability import AvailabilityList, Reservation, ReservationCreate

MAX_SKUS = 100


class AvailabilityController(Controller):
    path = "/v1/availability"
    tags = ["Inventory"]
    guards = [requires("inventory:read")]

    @get(
        "/",
        operation_id="getAvailability",
        responses=problems(*READ, 422),
        summary="What a channel may promise of some SKUs, after the tenant's rules",
    )
    async def availability(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        ctx: Ctx,
        sku: Annotated[
            list[str], QueryParameter(description="Repeat for several SKUs (at most 100).")
        ],
        channel: Annotated[str, QueryParameter(min_length=1, max_length=50)],
    ) -> Response[AvailabilityList]:
        skus = list(dict.fromkeys(sku))
        if not skus or len(skus) > MAX_SKUS or any(not s or len(s) > 64 for s in skus):
            raise InvalidParameter(f"1 to {MAX_SKUS} sku values of at most 64 characters")
        answers = await services.ledger.availability(ctx, skus, channel)
        return json_response(request, AvailabilityList(data=answers))


class ReservationController(Controller):
    path = "/v1/inventory/reservations"
    tags = ["Inventory"]
    guards = [requires("inventory:reserve")]

    @post(
        "/",
        operation_id="createReservation",
        responses=problems(*WRITE),
        summary="Hold stock at checkout until it expires, is released or an order consumes it",
        description=(
            "409 `insufficient-stock` when the channel cannot be promised a line; the problem's "
            "`short` names each such line with what is available."
        ),
        dto=StrictBody[ReservationCreate],
        return_dto=None,
        status_code=201,
    )
    async def create_reservation(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        ctx: Ctx,
        data: JSONBody[ReservationCreate],
        idempotency_key: Annotated[
            str, HeaderParameter(name=HEADER, description="Required; at most 255 characters.")
        ],
    ) -> Response[Reservation]:
        key = parse_key(idempotency_key, required=True)
        assert key is not None

        def render(reservation: Reservation) -> StoredResponse:
            return StoredResponse(
                status=201,
                body=msgspec.json.encode(reservation),
                headers={"Location": f"{self.path}/{reservation.id}"},
            )

        def refuse(error: GatewayError) -> StoredResponse:
            return stored_problem(request, error)

        async def reserve(claim: IdempotencyClaim) -> StoredResponse:
            return await services.ledger.reserve(ctx, data, claim, render, refuse)

        return await run_idempotent(request, services, ctx, key, reserve)

    @get(
        "/{reservation_id:str}",
        operation_id="getReservation",
        responses=problems(*GET_ONE),
        summary="A reservation and its state",
    )
    async def get_reservation(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        ctx: Ctx,
        reservation_id: FromPath[str],
    ) -> Response[Reservation]:
        return json_response(request, await services.ledger.get(ctx, reservation_id))

    @delete(
        "/{reservation_id:str}",
        operation_id="releaseReservation",
        responses=problems(401, 403, 404, 409, 429, 503),
        summary="Release the stock (a released or expired reservation: nothing to do)",
        status_code=204,
    )
    async def release_reservation(
        self, services: ServicesDep, ctx: Ctx, reservation_id: FromPath[str]
    ) -> None:
        await services.ledger.release(ctx, reservation_id)
