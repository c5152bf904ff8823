"""Documented error responses: every route lists the problems it can answer with, all as RFC
9457 `application/problem+json`."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from contracts.v1 import Problem

_DESCRIPTIONS = {
    400: "The request is not valid (body, parameters, cursor or Idempotency-Key)",
    401: "A valid access token is required",
    403: "The access token lacks the required scope",
    404: "No such resource for this tenant",
    409: "Conflicts with the current state, or the same Idempotency-Key is in flight",
    413: "The request body is too large",
    422: "Well-formed but refers to unknown things, or the Idempotency-Key was reused",
    429: "Over quota; see Retry-After",
    503: "The backend cannot be reached and nothing else can answer; see Retry-After",
}

READ = (400, 401, 403, 429, 503)
GET_ONE = (401, 403, 404, 429, 503)
WRITE = (400, 401, 403, 409, 413, 422, 429, 503)
ADMIN = (400, 401, 403, 404, 409, 413)


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS[status],
            media_type="application/problem+json",
            generate_examples=False,
        )
        for status in sorted(set(statuses))
    }
