"""How domain services call a backend synchronously (for a channel waiting on the answer):
with a deadline, and with adapter errors translated into the gateway's problems.

A backend that can't answer becomes a 503 with Retry-After (the one 5xx we send on purpose);
a business rejection becomes a 422 with the backend's reasons.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

from app.correlation import current_correlation_id
from app.problems import BackendUnavailableError, Unprocessable
from app.shield.policy import operation
from app.telemetry import tracer
from contracts.errors import (
    BackendError,
    BusinessRejection,
    PermanentBackendError,
    RetryableBackendError,
)

T = TypeVar("T")
log = logging.getLogger("gateway.backend")

DEFAULT_TIMEOUT = 10.0


async def call_backend(call: Awaitable[T], *, backend: str, within: float = DEFAULT_TIMEOUT) -> T:
    try:
        with (
            operation(),
            tracer.start_as_current_span(
                "backend.call",
                attributes={"backend": backend, "correlation_id": current_correlation_id()},
            ),
        ):
            async with asyncio.timeout(within):
                return await call
    except TimeoutError:
        log.warning("backend call timed out", extra={"backend": backend})
        raise BackendUnavailableError(
            f"backend {backend} did not answer in time", retry_after=5
        ) from None
    except BusinessRejection as error:
        raise Unprocessable(
            f"backend {backend} refused the request: {'; '.join(error.reasons)}",
            extra={"reasons": error.reasons},
        ) from None
    except RetryableBackendError as error:
        log.warning("backend unavailable", extra={"backend": backend, "error": error.message})
        retry_after = int(error.retry_after) if error.retry_after else 5
        raise BackendUnavailableError(
            f"backend {backend} is unavailable", retry_after=retry_after
        ) from None
    except PermanentBackendError as error:
        # Not the client's doing and not fixable by retrying soon: the binding needs an
        # operator. Still a 503, never an unexplained 500.
        log.error("backend misconfigured", extra={"backend": backend, "error": error.message})
        raise BackendUnavailableError(
            f"backend {backend} cannot serve this request", retry_after=60
        ) from None
    except BackendError as error:
        log.error("backend error", extra={"backend": backend, "error": error.message})
        raise BackendUnavailableError(f"backend {backend} failed", retry_after=30) from None
