"""The headers of API.md's conventions as OpenAPI header and parameter objects, with the real
formats the gateway sends and accepts (see `app.api.openapi` for where each applies)."""

from __future__ import annotations

from typing import Any

from app.idempotency import MAX_KEY_LENGTH


def _string(example: str | None = None, **schema: Any) -> dict[str, Any]:
    return {"type": "string", **schema, **({"examples": [example]} if example else {})}


HEADERS: dict[str, dict[str, Any]] = {
    "X-Correlation-ID": {
        "required": True,
        "description": (
            "The caller's `X-Correlation-ID` when it is 1-128 characters of "
            "`A-Za-z0-9._:@/+=-`, otherwise a new one. It is in logs, order events and "
            "backend calls: quote it to support."
        ),
        "schema": _string(minLength=1, maxLength=128, example="6f1c2d3e4b5a69788796a5b4c3d2e1f0"),
    },
    "ETag": {
        "required": True,
        "description": "Strong validator of the representation; send it as `If-None-Match`.",
        "schema": _string(pattern='^"[0-9a-f]+"$', example='"0f343b0931126a20f133d67c2b018a3b"'),
    },
    "Cache-Control": {
        "required": True,
        "description": "Reads may be stored by the client but revalidated before each use.",
        "schema": _string(example="private, no-cache"),
    },
    "Cache-Status": {
        "required": True,
        "description": (
            "Where a cached read came from (RFC 9211): `retail-gateway; hit`, "
            "`retail-gateway; fwd=miss` (fetched from the backend now), or for a stale serve "
            "while the backend cannot answer `retail-gateway; hit; ttl=-12` (negative "
            "freshness left, in seconds)."
        ),
        "schema": _string(pattern="^retail-gateway; ", example="retail-gateway; hit"),
    },
    "Location": {
        "required": True,
        "description": "The created (or accepted) resource.",
        "schema": _string(format="uri-reference", example="/v1/orders/ord_2b7f0c4e9a1d"),
    },
    "Idempotent-Replayed": {
        "required": False,
        "description": (
            "`true` when this is the stored first response to the same `Idempotency-Key` "
            "and body, replayed (same status, same body)."
        ),
        "schema": _string(enum=["true"]),
    },
    "RateLimit-Policy": {
        "required": False,
        "description": (
            "The quotas that apply (draft-ietf-httpapi-ratelimit-headers-10), one item per "
            "rule: quota `q` per window `w` seconds. Sent on every authenticated /v1 response."
        ),
        "schema": _string(example='"tenant";q=600;w=60, "client";q=300;w=60'),
    },
    "RateLimit": {
        "required": False,
        "description": (
            "What is left of each quota (draft-ietf-httpapi-ratelimit-headers-10): `r` "
            "requests remaining, `t` seconds until the window resets."
        ),
        "schema": _string(example='"tenant";r=42;t=18, "client";r=17;t=18'),
    },
    "Retry-After": {
        "required": True,
        "description": "Seconds to wait before trying again.",
        "schema": _string(pattern="^[0-9]+$", example="18"),
    },
    "WWW-Authenticate": {
        "required": True,
        "description": (
            "The authentication challenge (RFC 6750 on the API, RFC 6749 on /oauth/token): "
            '`Bearer realm="retail-gateway"` without a token, `Bearer realm="retail-gateway", '
            'error="invalid_token", error_description="expired"` for a bad one, '
            '`Bearer realm="retail-gateway", error="insufficient_scope", '
            'scope="orders:write"` for a missing scope, `Basic realm="retail-gateway"` for '
            "bad client credentials."
        ),
        "schema": _string(example='Bearer realm="retail-gateway"'),
    },
    "WWW-Authenticate-Scope": {
        "required": False,
        "description": (
            "On a missing scope, the scope the operation needs (RFC 6750): "
            '`Bearer realm="retail-gateway", error="insufficient_scope", scope="orders:write"`.'
        ),
        "schema": _string(
            example='Bearer realm="retail-gateway", error="insufficient_scope", '
            'scope="orders:write"'
        ),
    },
}

PARAMETERS: dict[str, dict[str, Any]] = {
    "X-Correlation-ID": {
        "name": "X-Correlation-ID",
        "in": "header",
        "required": False,
        "description": (
            "Your id for this request, echoed in the response and carried into logs, order "
            "events and backend calls; 1-128 characters of `A-Za-z0-9._:@/+=-` (anything "
            "else is replaced by a new id)."
        ),
        "schema": _string(example="checkout-7f3a9c"),
    },
    "If-None-Match": {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "description": (
            "An `ETag` of an earlier answer (or `*`): 304 without a body if it still holds."
        ),
        "schema": _string(example='"0f343b0931126a20f133d67c2b018a3b"'),
    },
}


def idempotency_key(*, required: bool) -> dict[str, Any]:
    """The `Idempotency-Key` request header (required on order and reservation creates)."""
    rule = "Required" if required else "Optional"
    schema = _string(maxLength=MAX_KEY_LENGTH, example="4b0f6c1e-checkout-1")
    if required:
        schema["minLength"] = 1
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": required,
        "description": (
            f"{rule}: makes the create safe to retry. Printable ASCII, at most "
            f"{MAX_KEY_LENGTH} characters; the same key with the same body within its "
            "lifetime (24 h by default) replays the first response (`Idempotent-Replayed: "
            "true`), with another body answers 422, while the first is still in flight 409. "
            "Keys are scoped by tenant and client."
        ),
        "schema": schema,
    }
