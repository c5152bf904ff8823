"""JSON responses with strong ETags and conditional GETs, encoded once by msgspec; HEAD
answered wherever GET is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast

import msgspec
from litestar import MediaType, Request, Response
from litestar.enums import ScopeType

from app.cache.edge import query_items
from app.cache.entry import etag_of
from app.cache.reads import Cached, CachedReads

if TYPE_CHECKING:
    from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

T = TypeVar("T")


class HeadAsGet:
    """HEAD wherever GET is served (RFC 9110 §9.3.2): routed, authorised, counted and answered
    exactly as the GET, with the same status and headers (Content-Length included), and the
    body dropped. Outside the router: Litestar routes HEAD only to handlers declared for it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        as_get = cast("HTTPScope", {**scope, "method": "GET"})
        await self.app(as_get, receive, without_body)


def _matches(if_none_match: str, etag: str) -> bool:
    if if_none_match.strip() == "*":
        return True
    candidates = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return etag in candidates


def json_response(
    request: Request[Any, Any, Any],
    content: T,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    encoded: bytes | None = None,
) -> Response[T]:
    """`content` encoded (or `encoded`, when the caller already has the bytes), with an ETag
    on reads; `If-None-Match` on a matching read answers 304 with no body."""
    body = encoded if encoded is not None else msgspec.json.encode(content)
    out_headers = dict(headers or {})
    if request.method in ("GET", "HEAD") and status_code == 200:
        etag = etag_of(body)
        out_headers["ETag"] = etag
        out_headers.setdefault("Cache-Control", "private, no-cache")
        given = request.headers.get("if-none-match")
        if given and _matches(given, etag):
            return cast(Response[T], Response(content=b"", status_code=304, headers=out_headers))
    return cast(
        Response[T],
        Response(
            content=body, status_code=status_code, media_type=MediaType.JSON, headers=out_headers
        ),
    )


def cached_response(request: Request[Any, Any, Any], cached: Cached) -> Response[Any]:
    """A cached read as stored: its bytes, its ETag, and where it came from (RFC 9211)."""
    headers = {
        "ETag": cached.etag,
        "Cache-Status": cached.cache_status,
        "Cache-Control": "private, no-cache",
    }
    given = request.headers.get("if-none-match")
    if given and _matches(given, cached.etag):
        return Response(content=b"", status_code=304, headers=headers)
    return Response(
        content=cached.body, status_code=200, media_type=MediaType.JSON, headers=headers
    )


def read_key(request: Request[Any, Any, Any], tenant_id: str, domain: str) -> str:
    """The cache key of a read: tenant, domain, path and every query parameter."""
    return CachedReads.key(tenant_id, domain, request.scope["path"], query_items(request.scope))
