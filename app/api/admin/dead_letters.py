"""`/admin/dead-letters`: deliveries that need an operator. List (optionally per tenant),
inspect one with its order and events, replay one or many."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from app.api.body import StrictBody
from app.api.deps import ServicesDep
from app.api.guards import principal_of, requires
from app.api.openapi import ADMIN, problems
from app.problems import InvalidRequest
from contracts.v1 import Order, OrderEvent


class DeadLetterOut(msgspec.Struct):
    id: str
    tenant_id: str
    kind: str
    order_id: str
    attempts: int
    last_error: str | None
    created_at: datetime
    dead_since: datetime


class DeadLetterList(msgspec.Struct):
    data: list[DeadLetterOut]


class DeadLetterDetail(msgspec.Struct):
    dead_letter: DeadLetterOut
    order: Order | None
    events: list[OrderEvent]


class ReplayRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Replay these dead letters (of `tenant_id` only, when given too), or every dead letter
    of `tenant_id` (`all: true`)."""

    ids: (
        Annotated[list[Annotated[str, msgspec.Meta(max_length=40)]], msgspec.Meta(max_length=1000)]
        | None
    ) = None
    tenant_id: str | None = None
    all: bool = False


class Replayed(msgspec.Struct):
    replayed: list[str]


def _out(letter: Any) -> DeadLetterOut:
    return msgspec.convert(letter, DeadLetterOut, from_attributes=True)


class DeadLetterAdminController(Controller):
    path = "/admin/dead-letters"
    tags = ["Admin"]
    guards = [requires("admin")]

    @get(
        "/",
        operation_id="adminListDeadLetters",
        summary="Deliveries that need an operator",
        responses=problems(*ADMIN),
    )
    async def list_dead_letters(
        self,
        services: ServicesDep,
        tenant_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> DeadLetterList:
        return DeadLetterList(
            [_out(letter) for letter in await services.dead_letters.find(tenant_id, limit)]
        )

    @get(
        "/{entry_id:str}",
        operation_id="adminGetDeadLetter",
        summary="A dead letter with its order and events",
        responses=problems(*ADMIN),
    )
    async def inspect(self, services: ServicesDep, entry_id: FromPath[str]) -> DeadLetterDetail:
        found = await services.dead_letters.inspect(entry_id)
        return DeadLetterDetail(
            dead_letter=_out(found["dead_letter"]), order=found["order"], events=found["events"]
        )

    @post(
        "/{entry_id:str}/replay",
        operation_id="adminReplayDeadLetter",
        summary="Deliver it again, with a fresh attempt budget",
        status_code=200,
        responses=problems(*ADMIN),
    )
    async def replay_one(
        self, request: Request[Any, Any, Any], services: ServicesDep, entry_id: FromPath[str]
    ) -> DeadLetterOut:
        operator = principal_of(request).client_id
        return _out(await services.dead_letters.replay_one(entry_id, operator))

    @post(
        "/replay",
        operation_id="adminReplayDeadLetters",
        summary="Replay many dead letters (by id, or all of a tenant)",
        dto=StrictBody[ReplayRequest],
        return_dto=None,
        status_code=200,
        responses=problems(*ADMIN),
    )
    async def replay_many(
        self, request: Request[Any, Any, Any], services: ServicesDep, data: JSONBody[ReplayRequest]
    ) -> Replayed:
        if data.ids:
            ids = list(data.ids)  # with `tenant_id` too: only those of that tenant
        elif data.all and data.tenant_id:
            ids = await services.dead_letters.dead_ids(data.tenant_id)
        else:
            raise InvalidRequest("give `ids`, or `tenant_id` with `all: true`")
        operator = principal_of(request).client_id
        return Replayed(await services.dead_letters.replay(ids, operator, data.tenant_id))
