"""Opaque, signed cursors for every list.

A cursor carries the tenant, the resource, the query it belongs to and the position (the
backend's own continuation token or our keyset), signed with a key derived from the master
key. A cursor that was altered, belongs to another tenant or to another query is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import msgspec

from app.crypto import SecretBox, b64url_decode, b64url_encode
from app.problems import FieldError, InvalidCursor, InvalidParameter


class _CursorBody(msgspec.Struct, array_like=True):
    tenant: str
    resource: str
    query: str
    position: str


def query_fingerprint(filters: dict[str, Any]) -> str:
    encoded = msgspec.json.encode(
        {k: v for k, v in filters.items() if v not in (None, (), [])}, order="sorted"
    )
    return hashlib.sha256(encoded).hexdigest()[:16]


class CursorCodec:
    def __init__(self, box: SecretBox) -> None:
        self._box = box

    def encode(self, tenant: str, resource: str, filters: dict[str, Any], position: str) -> str:
        body = msgspec.json.encode(
            _CursorBody(tenant, resource, query_fingerprint(filters), position)
        )
        signature = self._box.mac(body, "cursor")[:16]
        return b64url_encode(body) + "." + b64url_encode(signature)

    def decode(self, cursor: str, tenant: str, resource: str, filters: dict[str, Any]) -> str:
        try:
            body_part, signature_part = cursor.split(".", 1)
            body = b64url_decode(body_part)
            signature = b64url_decode(signature_part)
        except (ValueError, TypeError):
            raise InvalidCursor("the cursor is malformed") from None
        if not hmac.compare_digest(self._box.mac(body, "cursor")[:16], signature):
            raise InvalidCursor("the cursor was altered or was not issued by this gateway")
        try:
            decoded = msgspec.json.decode(body, type=_CursorBody)
        except msgspec.MsgspecError:
            raise InvalidCursor("the cursor is malformed") from None
        if decoded.tenant != tenant or decoded.resource != resource:
            raise InvalidCursor("the cursor belongs to another list")
        if decoded.query != query_fingerprint(filters):
            raise InvalidCursor("the cursor belongs to a different query; repeat the same filters")
        return decoded.position


def check_limit(limit: int | None, default: int, maximum: int) -> int:
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise InvalidParameter(
            f"limit must be between 1 and {maximum}",
            errors=[FieldError("limit", f"must be between 1 and {maximum}")],
        )
    return limit
