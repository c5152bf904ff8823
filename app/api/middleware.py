"""ASGI middleware: correlation ids on every response, and bearer-token authentication for
`/v1` and `/admin` (the scope check itself is the `requires` guard on each route).

Plain ASGI rather than Litestar middleware classes: these run on every request and must cost
next to nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.enums import ScopeType

from app.auth.tokens import InvalidToken, TokenVerifier
from app.correlation import accept_correlation_id, set_correlation_id

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

CORRELATION_HEADER = b"x-correlation-id"
PROTECTED_PREFIXES = ("/v1/", "/admin/")


class CorrelationMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == CORRELATION_HEADER:
                given = value.decode("latin-1")
                break
        correlation_id = accept_correlation_id(given)
        set_correlation_id(correlation_id)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        encoded = correlation_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((CORRELATION_HEADER, encoded))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


def authentication_middleware(verifier: TokenVerifier) -> Any:
    """Factory for the authentication middleware bound to one verifier."""

    class AuthenticationMiddleware:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == ScopeType.HTTP and scope["path"].startswith(PROTECTED_PREFIXES):
                token = _bearer(scope)
                state = scope.setdefault("state", {})
                if token is None:
                    state["auth_error"] = "missing"
                else:
                    try:
                        scope["auth"] = await verifier.verify(token)
                    except InvalidToken as error:
                        state["auth_error"] = str(error) or "invalid"
            await self.app(scope, receive, send)

    return AuthenticationMiddleware
