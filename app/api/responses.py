"""JSON responses with strong ETags and conditional GETs, encoded once by msgspec."""

from __future__ import annotations

from typing import Any, TypeVar, cast

import msgspec
from litestar import MediaType, Request, Response

from app.cache.edge import query_items
from app.cache.entry import etag_of
from app.cache.reads import Cached, CachedReads

T = TypeVar("T")


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
