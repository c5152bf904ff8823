"""The one place that turns errors into RFC 9457 problem responses.

Domain errors (`app.problems.GatewayError`) carry their status; framework errors (unknown
route, wrong method, oversized body) are mapped here; anything unexpected is logged and
answered as a bare 500 problem without internals.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.exceptions import ValidationException as LitestarValidationException
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.correlation import current_correlation_id
from app.problems import PROBLEM_BASE, FieldError, GatewayError, IdempotencyKeyRequired
from contracts.v1 import Problem, ProblemFieldError

log = logging.getLogger("gateway.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"

_HTTP_SLUGS = {
    400: ("invalid-request", "The request is not valid"),
    401: ("unauthenticated", "A valid access token is required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "The request body is too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("too-many-requests", "Too many requests"),
}


def _pointer(field: str) -> str:
    if field in ("", "$"):
        return ""
    parts: list[str] = []
    for chunk in field.replace("[", ".").replace("]", "").split("."):
        if chunk:
            parts.append(chunk.replace("~", "~0").replace("/", "~1"))
    return "/" + "/".join(parts)


def problem_response(
    request: Request[Any, Any, Any] | None,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    type_uri: str | None = None,
    extra: dict[str, object] | None = None,
) -> Response[bytes]:
    """`extra` adds RFC 9457 extension members (e.g. `short` lines of a refused reservation,
    `existing_id` of a duplicate order); they never replace the standard ones."""
    problem = Problem(
        type=type_uri or PROBLEM_BASE + slug,
        title=title,
        status=status,
        detail=detail,
        correlation_id=current_correlation_id(),
        instance=request.url.path if request is not None else None,
        errors=[
            ProblemFieldError(field=e.field, pointer=_pointer(e.field), message=e.message)
            for e in errors
        ]
        if errors
        else None,
    )
    body = msgspec.json.encode(problem)
    if extra:
        standard = msgspec.to_builtins(problem)
        body = msgspec.json.encode(
            {**standard, **{k: v for k, v in extra.items() if k not in standard}}
        )
    return Response(
        content=body,
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers or {},
    )


def gateway_error_handler(request: Request[Any, Any, Any], error: GatewayError) -> Response[bytes]:
    return problem_response(
        request,
        status=error.status,
        slug=error.slug,
        title=error.title,
        detail=error.detail,
        errors=error.errors,
        headers=error.headers,
        extra=error.extra,
    )


def validation_error_handler(
    request: Request[Any, Any, Any], error: LitestarValidationException
) -> Response[bytes]:
    errors: list[FieldError] = []
    if isinstance(error.extra, list):
        for item in error.extra:
            if isinstance(item, dict):
                errors.append(
                    FieldError(str(item.get("key", "$")), str(item.get("message", "invalid")))
                )
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or str(error.detail or "")
    if not errors and "idempotency-key" in detail.lower():
        return gateway_error_handler(
            request,
            IdempotencyKeyRequired(
                "send an `Idempotency-Key` header (at most 255 characters)",
                errors=[FieldError("Idempotency-Key", "required")],
            ),
        )
    detail = detail or "the request is not valid"
    return problem_response(
        request,
        status=400,
        slug="invalid-parameter",
        title="A parameter is not valid",
        detail=detail,
        errors=errors,
    )


def http_error_handler(request: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
    status = error.status_code
    if status >= 500:
        return internal_error_handler(request, error)
    slug, title = _HTTP_SLUGS.get(status, ("http-error", "Request failed"))
    headers = dict(error.headers or {})
    if isinstance(error, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="retail-gateway"')
    if isinstance(error, PermissionDeniedException):
        slug, title = "forbidden", "Forbidden"
    detail = error.detail if error.detail and error.detail != title else title
    return problem_response(
        request, status=status, slug=slug, title=title, detail=detail, headers=headers
    )


# SQLSTATEs of a database that is away rather than of a statement that is wrong: class 08
# (connection exception), 57P01-57P03 (shutting down, crashed, starting up), 53300 (too many
# connections).
UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")


def database_unavailable(error: Exception) -> bool:
    if isinstance(error, OSError | OperationalError | InterfaceError):
        return True
    if getattr(error, "connection_invalidated", False):
        return True
    state = getattr(getattr(error, "orig", None), "sqlstate", None)
    return isinstance(state, str) and state.startswith(UNAVAILABLE_STATES)


def database_error_handler(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    """Our database is unreachable (restarting, failing over): not the client's doing, and
    nothing was written; the request may be repeated (with its Idempotency-Key)."""
    if not database_unavailable(error):
        return internal_error_handler(request, error)
    log.warning(
        "database unavailable", extra={"error": type(error).__name__, "path": request.url.path}
    )
    return problem_response(
        request,
        status=503,
        slug="service-unavailable",
        title="The service is briefly unavailable",
        detail="the gateway's database did not answer; nothing was stored, retry shortly",
        headers={"Retry-After": "2"},
    )


def pool_timeout_handler(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    """Every database connection of this replica is busy (a burst beyond the pool): the
    request waited its turn, was not served and wrote nothing; it may be repeated."""
    log.warning("database pool exhausted", extra={"path": request.url.path})
    return problem_response(
        request,
        status=503,
        slug="service-unavailable",
        title="The service is briefly unavailable",
        detail="the gateway is at capacity; nothing was stored, retry shortly",
        headers={"Retry-After": "1"},
    )


def internal_error_handler(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    log.error(
        "unhandled error",
        exc_info=error,
        extra={"correlation_id": current_correlation_id(), "path": request.url.path},
    )
    return problem_response(
        request,
        status=500,
        slug="internal",
        title="Internal error",
        detail="the gateway failed to process the request; quote the correlation id to support",
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    GatewayError: gateway_error_handler,
    LitestarValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    DBAPIError: database_error_handler,
    PoolTimeout: pool_timeout_handler,
    OSError: database_error_handler,
    Exception: internal_error_handler,
}
