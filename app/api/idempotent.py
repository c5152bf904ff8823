"""Running a create under an `Idempotency-Key`: claim, run, store or release, and replay."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from litestar import MediaType, Request, Response
from sqlalchemy.exc import DBAPIError

from app.context import CallContext
from app.idempotency import IdempotencyClaim, StoredResponse, fingerprint
from app.services import Services

T = TypeVar("T")
log = logging.getLogger(__name__)


def replay(stored: StoredResponse) -> Response[Any]:
    return Response(
        content=stored.body,
        status_code=stored.status,
        media_type=MediaType.JSON,
        headers={**stored.headers, "Idempotent-Replayed": "true"},
    )


def to_response(stored: StoredResponse) -> Response[Any]:
    return Response(
        content=stored.body,
        status_code=stored.status,
        media_type=MediaType.JSON,
        headers=stored.headers,
    )


async def run_idempotent(
    request: Request[Any, Any, Any],
    services: Services,
    ctx: CallContext,
    key: str,
    work: Callable[[IdempotencyClaim], Awaitable[StoredResponse]],
) -> Response[T]:
    """`work` either stores its response with the claim (in its own transaction) and returns
    it, or raises; a raise releases the key so the client may retry with it."""
    request_fingerprint = fingerprint(request.method, request.url.path, await request.body())
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
