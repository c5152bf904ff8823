"""The fast path for cache hits: an ASGI middleware, after authentication and quotas, that
answers a GET whose fresh answer is in this process's memory straight from the stored bytes,
without dependency injection, guards or response building.

It serves only what the full path would serve identically: routes marked cacheable
(`opt={"cache": domain, "scope": scope}`), a principal holding that scope, a fresh entry under
the same key. Anything else passes through untouched.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from app.auth.principal import Principal
from app.cache.reads import STATUS_PREFIX, CachedReads

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

CACHE_CONTROL = b"private, no-cache"


def query_items(scope: Scope) -> list[tuple[str, str]]:
    """The request's query as the cache key sees it (both paths must agree)."""
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


def _etag_matches(given: str, etag: str) -> bool:
    if given.strip() == "*":
        return True
    return etag in (tag.strip().removeprefix("W/") for tag in given.split(","))


def edge_cache_middleware(cache: CachedReads) -> Any:
    class EdgeCacheMiddleware:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            handler = scope.get("route_handler")
            opt = getattr(handler, "opt", None) or {}
            domain = opt.get("cache")
            principal = scope.get("auth")
            if (
                domain is None
                or scope.get("method") not in ("GET", "HEAD")
                or not isinstance(principal, Principal)
                or principal.tenant_id is None
                or not principal.has(opt.get("scope", ""))
            ):
                await self.app(scope, receive, send)
                return
            key = CachedReads.key(principal.tenant_id, domain, scope["path"], query_items(scope))
            entry = cache.store.peek(key)
            if entry is None or not entry.fresh(time.time()):
                await self.app(scope, receive, send)
                return
            headers = [
                (b"etag", entry.etag.encode()),
                (b"cache-status", f"{STATUS_PREFIX}; hit".encode()),
                (b"cache-control", CACHE_CONTROL),
            ]
            given = next(
                (v.decode("latin-1") for k, v in scope["headers"] if k == b"if-none-match"), None
            )
            if given is not None and _etag_matches(given, entry.etag):
                await send({"type": "http.response.start", "status": 304, "headers": headers})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            body = entry.body if scope.get("method") == "GET" else b""
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(entry.body)).encode()),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

    return EdgeCacheMiddleware
