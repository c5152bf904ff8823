"""The errors a backend adapter may raise, and nothing else.

Every adapter maps each of its vendor's failures to exactly one of three kinds, because the
gateway acts on the kind, not on the vendor:

- `RetryableBackendError`: the call may succeed later unchanged (timeouts, connection loss,
  overload, 5xx, 429). The outbox retries; reads fall back to cache.
- `PermanentBackendError`: retrying the same call will fail the same way (bad credentials, a
  mapping or protocol error, an unknown model). An order meeting one is dead-lettered for an
  operator, never retried blindly.
- `BusinessRejection`: the backend understood the request and refused it on business grounds
  (unknown product, customer blocked, credit limit). An order meeting one is `rejected`, with
  the backend's reasons.
"""

from __future__ import annotations


class BackendError(Exception):
    """Base of every adapter error. `backend` names the adapter, `vendor_code` the vendor's own
    error name when it gave one."""

    def __init__(self, message: str, *, backend: str = "", vendor_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.backend = backend
        self.vendor_code = vendor_code


class RetryableBackendError(BackendError):
    """The call may succeed if repeated later. `retry_after` (seconds) when the vendor said."""

    def __init__(
        self,
        message: str,
        *,
        backend: str = "",
        vendor_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, backend=backend, vendor_code=vendor_code)
        self.retry_after = retry_after


class BackendUnavailable(RetryableBackendError):
    """The backend cannot be reached or did not answer in time."""


class BackendOverloaded(RetryableBackendError):
    """The backend asked us to slow down (HTTP 429, a quota error) or answered 5xx."""


class PermanentBackendError(BackendError):
    """Repeating the call will not help: it needs a person (credentials, mapping, protocol)."""


class BackendAuthError(PermanentBackendError):
    """The backend refused our credentials."""


class BackendProtocolError(PermanentBackendError):
    """The backend answered something the adapter cannot interpret."""


class BusinessRejection(BackendError):
    """The backend refused the request on business grounds; `reasons` says why, in its words."""

    def __init__(
        self,
        message: str,
        *,
        reasons: list[str] | None = None,
        backend: str = "",
        vendor_code: str | None = None,
    ) -> None:
        super().__init__(message, backend=backend, vendor_code=vendor_code)
        self.reasons = reasons or [message]
