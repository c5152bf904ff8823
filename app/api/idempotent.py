"""Running a create under an `Idempotency-Key`: claim, run, store (or forget), and replay.

What is stored and replayed is the first answer the create itself gave: its success (201/202)
or a refusal it decided and recorded (a reservation refused for want of stock, 409). A request
that failed before it could have an effect (invalid, unknown SKU, the database or backend
away: 4xx from validation, any 5xx) stores nothing, so the client may retry with the key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from litestar import MediaType, Request, Response
from sqlalchemy.exc import DBAPIError

from app.api.errors import PROBLEM_MEDIA_TYPE, gateway_error_handler
from app.context import CallContext
from app.idempotency import IdempotencyClaim, StoredResponse, fingerprint
from app.problems import GatewayError
from app.services import Services

T = TypeVar("T")
log = logging.getLogger(__name__)
CONTENT_TYPE = "content-type"


def _response(stored: StoredResponse, extra: dict[str, str]) -> Response[Any]:
    headers = {name: value for name, value in stored.headers.items() if name != CONTENT_TYPE}
    return Response(
        content=stored.body,
        status_code=stored.status,
        media_type=stored.headers.get(CONTENT_TYPE, MediaType.JSON),
        headers={**headers, **extra},
    )


def replay(stored: StoredResponse) -> Response[Any]:
    return _response(stored, {"Idempotent-Replayed": "true"})


def to_response(stored: StoredResponse) -> Response[Any]:
    return _response(stored, {})


def stored_problem(request: Request[Any, Any, Any], error: GatewayError) -> StoredResponse:
    """A refusal as the problem response it is answered with, to be stored with the key."""
    response = gateway_error_handler(request, error)
    body = response.content if isinstance(response.content, bytes) else b""
    return StoredResponse(
        status=error.status,
        body=body,
        headers={**error.headers, CONTENT_TYPE: PROBLEM_MEDIA_TYPE},
    )


async def run_idempotent(
    request: Request[Any, Any, Any],
    services: Services,
    ctx: CallContext,
    key: str,
    work: Callable[[IdempotencyClaim], Awaitable[StoredResponse]],
    *,
    claim_first: bool = False,
) -> Response[T]:
    """By default `work` claims the key in its own transaction (`IdempotencyStore.claim_in`)
    and returns its response stored with it, or the replay `claim_in` found. With
    `claim_first` (work with an effect outside the database, e.g. a backend write) the key is
    claimed before `work` runs, which stores its response (`complete`) or raises; a raise
    releases the key."""
    request_fingerprint = fingerprint(request.method, request.url.path, await request.body())
    if claim_first:
        return await _claimed_first(services, ctx, key, request_fingerprint, work)
    claim = IdempotencyClaim(ctx.tenant_id, ctx.client_id, key, request_fingerprint)
    try:
        stored = await work(claim)
    except GatewayError:
        # Failed before its transaction could commit. An earlier request with the key may
        # have finished all the same: its answer is the one to give.
        earlier = await _earlier(services, claim)
        if earlier is None:
            raise
        stored = earlier
    return cast(Response[T], replay(stored) if stored.replayed else to_response(stored))


async def _earlier(services: Services, claim: IdempotencyClaim) -> StoredResponse | None:
    try:
        return await services.idempotency.lookup(claim)
    except (DBAPIError, OSError):  # the database is away: the first error stands
        return None


async def _claimed_first(
    services: Services,
    ctx: CallContext,
    key: str,
    request_fingerprint: str,
    work: Callable[[IdempotencyClaim], Awaitable[StoredResponse]],
) -> Response[T]:
    outcome = await services.idempotency.begin(
        ctx.tenant_id, ctx.client_id, key, request_fingerprint
    )
    if isinstance(outcome, StoredResponse):
        return cast(Response[T], replay(outcome))
    try:
        stored = await work(outcome)
    except BaseException:
        try:
            await services.idempotency.release(outcome)
        except (DBAPIError, OSError) as error:  # the database is gone: the claim lapses
            log.warning(
                "could not release an idempotency key; it is held until its lock lapses",
                extra={"error": type(error).__name__},
            )
        raise
    return cast(Response[T], to_response(stored))
