"""Route guards: a valid token (401 otherwise) holding the route's scope (403 otherwise)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from app.auth.principal import ADMIN_SCOPE, Principal
from app.problems import Forbidden, Unauthenticated

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal = connection.scope.get("auth")
    if not isinstance(principal, Principal):
        reason = connection.scope.get("state", {}).get("auth_error", "missing")
        if reason == "missing":
            raise Unauthenticated(
                "send an access token as `Authorization: Bearer <token>`",
                headers={"WWW-Authenticate": 'Bearer realm="retail-gateway"'},
            )
        raise Unauthenticated(
            "the access token is not valid",
            headers={
                "WWW-Authenticate": 'Bearer realm="retail-gateway", error="invalid_token", '
                f'error_description="{reason}"'
            },
        )
    return principal


def requires(scope: str) -> Guard:
    # Async on purpose: Litestar runs a synchronous guard in a worker thread.
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = principal_of(connection)
        if not principal.has(scope):
            raise Forbidden(
                f"this operation needs the `{scope}` scope",
                headers={
                    "WWW-Authenticate": 'Bearer realm="retail-gateway", '
                    f'error="insufficient_scope", scope="{scope}"'
                },
            )
        if scope != ADMIN_SCOPE and principal.tenant_id is None:
            raise Forbidden("this token belongs to no tenant")

    guard.scope = scope  # type: ignore[attr-defined]  # read by tests that check route markings
    return guard
