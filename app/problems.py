"""The gateway's error base. Domain code raises these; `app.api.errors` is the one place that
turns them (and framework errors) into RFC 9457 problem responses."""

from __future__ import annotations

import re
from dataclasses import dataclass

import msgspec

PROBLEM_BASE = "https://retail-gateway.dev/problems/"


@dataclass(frozen=True, slots=True)
class FieldError:
    """A failed field: `field` as a dotted path (`lines[0].quantity`), and why."""

    field: str
    message: str


_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_FIELD_PREFIX = re.compile(r"^`(?P<field>[a-z_]+)`: (?P<message>.*)$", re.DOTALL)


def field_error_from(error: msgspec.ValidationError) -> FieldError:
    """Turn msgspec's "message - at `$.a[0].b`" into a field path and a message."""
    text = str(error)
    match = _AT_PATH.match(text)
    message = match.group("message") if match else text
    path = (match.group("path") if match else "") or ""
    path = path.lstrip(".")
    # Checks in __post_init__ name their field as "`field`: message".
    prefixed = _FIELD_PREFIX.match(message)
    if prefixed:
        path = f"{path}.{prefixed.group('field')}" if path else prefixed.group("field")
        message = prefixed.group("message")
    if message.startswith("Object contains unknown field"):
        unknown = re.search(r"`([^`]+)`", message)
        if unknown:
            path = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
        message = "unknown field"
    elif message.startswith("Object missing required field"):
        missing = re.search(r"`([^`]+)`", message)
        if missing:
            path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        message = "required"
    return FieldError(field=path or "$", message=message)


class GatewayError(Exception):
    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug


class InvalidRequest(GatewayError):
    status, slug, title = 400, "invalid-request", "The request is not valid"


class InvalidParameter(GatewayError):
    status, slug, title = 400, "invalid-parameter", "A query parameter is not valid"


class InvalidCursor(GatewayError):
    status, slug, title = 400, "invalid-cursor", "The cursor is not valid"


class IdempotencyKeyRequired(GatewayError):
    status, slug, title = 400, "idempotency-key-required", "Idempotency-Key is required"


class Unauthenticated(GatewayError):
    status, slug, title = 401, "unauthenticated", "A valid access token is required"


class Forbidden(GatewayError):
    status, slug, title = 403, "forbidden", "The access token lacks the required scope"


class NotFound(GatewayError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(GatewayError):
    status, slug, title = 409, "conflict", "The request conflicts with the current state"


class IdempotencyInFlight(GatewayError):
    status, slug, title = 409, "idempotency-in-flight", "A request with this key is in flight"


class PayloadTooLarge(GatewayError):
    status, slug, title = 413, "payload-too-large", "The request body is too large"


class UnsupportedMediaType(GatewayError):
    status, slug, title = 415, "unsupported-media-type", "Send application/json"


class InsufficientStock(GatewayError):
    """A reservation the channel cannot be promised; `extra["short"]` names each short line."""

    status, slug, title = 409, "insufficient-stock", "Not enough stock"


class Unprocessable(GatewayError):
    status, slug, title = 422, "unprocessable", "The request cannot be processed"


class IdempotencyKeyReused(GatewayError):
    status, slug, title = 422, "idempotency-key-reused", "Idempotency-Key reused with another body"


class BackendUnavailableError(GatewayError):
    """The one 5xx we send on purpose: the backend can't be reached and nothing else can
    answer. Always with `Retry-After`."""

    status, slug, title = 503, "backend-unavailable", "The backend is unavailable"

    def __init__(self, detail: str, *, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})
