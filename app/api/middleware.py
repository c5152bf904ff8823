"""ASGI middleware: correlation ids on every response, and bearer-token authentication for
`/v1` and `/admin` (the scope check itself is the `requires` guard on each route).

Plain ASGI rather than Litestar middleware classes: these run on every request and must cost
next to nothing.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import msgspec
from litestar.enums import ScopeType

from app import admission
from app.auth.principal import Principal
from app.auth.tokens import InvalidToken, TokenVerifier
from app.correlation import accept_correlation_id, set_correlation_id
from app.problems import PROBLEM_BASE
from app.quotas.service import QuotaDecision, QuotaService
from contracts.v1 import Problem, ProblemFieldError

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

        refusal = _nul_refusal(scope)
        if refusal is not None:
            await _send_problem(send_with_id, refusal, correlation_id)
            return
        await self.app(scope, receive, send_with_id)


def _nul_refusal(scope: Scope) -> Problem | None:
    """NUL in the path (no resource has such an id: 404) or in a query parameter (400). No
    database stores NUL, so it is refused at the edge, before it reaches one."""
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    if b"\x00" in raw_path or b"%00" in raw_path.lower():
        return Problem(
            type=PROBLEM_BASE + "not-found",
            title="Not found",
            status=404,
            detail="no resource has this id",
            correlation_id="",
        )
    query = scope.get("query_string", b"")
    if b"%00" not in query.lower() and b"\x00" not in query:
        return None
    names = sorted(
        {
            name
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            if "\x00" in name or "\x00" in value
        }
    )
    return Problem(
        type=PROBLEM_BASE + "invalid-parameter",
        title="A query parameter is not valid",
        status=400,
        detail="NUL characters are not allowed in " + ", ".join(names or ["the query"]),
        correlation_id="",
        errors=[
            ProblemFieldError(
                field=name, pointer="/" + name, message="NUL characters are not allowed"
            )
            for name in names
        ]
        or None,
    )


async def _send_problem(
    send: Send,
    problem: Problem,
    correlation_id: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    problem.correlation_id = correlation_id
    body = msgspec.json.encode(problem)
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        *(extra_headers or []),
    ]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


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


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READ = "read"


def route_class_of(path: str, method: str) -> str:
    """`/admin` is its own class, counted per client (operators belong to no tenant); `/v1`
    is `write` for methods that change something, else `read`."""
    if path.startswith("/admin/"):
        return "admin"
    return "write" if method in WRITE_METHODS else READ


def quota_middleware(quotas: QuotaService) -> Any:
    """Factory for the middleware that counts each authenticated request (a valid token, on
    `/v1` or `/admin`: whatever its scopes, so a 403 is counted and announced too) against its
    tenant's and client's quotas, after authentication, which it needs. Every such response
    carries `RateLimit-Policy` and `RateLimit`. A read begins while its verdict is on its way
    (app.admission); anything else only once it is allowed."""

    class QuotaMiddleware:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            principal = scope.get("auth")
            if scope["type"] != ScopeType.HTTP or not isinstance(principal, Principal):
                await self.app(scope, receive, send)
                return
            route_class = route_class_of(scope["path"], scope["method"])
            if route_class != READ:
                decision = await quotas.check(route_class, principal.tenant_id, principal.client_id)
                if not decision.allowed:
                    await _too_many(send, scope, route_class, decision)
                    return
                await self.app(scope, receive, _announcing(send, decision))
                return
            # Asked before the read may begin (outside its admission: never held up by it).
            check = asyncio.get_running_loop().create_task(
                quotas.check(route_class, principal.tenant_id, principal.client_id)
            )
            refused = False

            async def send_once_decided(message: Message) -> None:
                nonlocal refused
                if message["type"] == "http.response.start":
                    decision = await check
                    if not decision.allowed:
                        refused = True  # the read's own answer is dropped, whatever it was
                        await _too_many(send, scope, route_class, decision)
                        return
                    message["headers"] = [*message.get("headers", []), *decision.headers]
                if not refused:
                    await send(message)

            token = admission.decided_by(check)
            try:
                await self.app(scope, receive, send_once_decided)
            finally:
                admission.undecided(token)

    return QuotaMiddleware


def _announcing(send: Send, decision: QuotaDecision) -> Send:
    async def send_with_quota(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *decision.headers]
        await send(message)

    return send_with_quota


async def _too_many(send: Send, scope: Scope, route_class: str, decision: QuotaDecision) -> None:
    await _send_problem(
        send,
        Problem(
            type=PROBLEM_BASE + "too-many-requests",
            title="Too many requests",
            status=429,
            detail=f"{route_class} quota used up; retry in {decision.retry_after} s",
            correlation_id="",
        ),
        scope.get("state", {}).get("correlation_id", ""),
        extra_headers=[(b"retry-after", str(decision.retry_after).encode()), *decision.headers],
    )
