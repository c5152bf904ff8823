"""Every error Tryton can send, mapped to our taxonomy.

Tryton answers JSON-RPC errors with HTTP 200 and `"error": exception.args`. Its own exceptions
carry their class name first (`["UserError", [message, description, domain]]`); the ones
raised without arguments (rate limit, time-out) arrive as an empty list, missing
dependencies as a list of names; any other server exception arrives as
`[str(exception), traceback]`, e.g. an unknown model as `["'no.such.model'", ""]`.
`VENDOR_ERRORS` names every exception class of `trytond.exceptions`; a test fails when
Tryton gains one this table does not map.
"""

from __future__ import annotations

from typing import Any

from contracts.errors import (
    BackendAuthError,
    BackendError,
    BackendOverloaded,
    BackendProtocolError,
    BusinessRejection,
    PermanentBackendError,
    RetryableBackendError,
)

NAME = "tryton"

VENDOR_ERRORS: dict[str, type[BackendError]] = {
    # Business rules refused the request (also AccessError and validation errors, which
    # subclass UserError): reported with Tryton's message.
    "UserError": BusinessRejection,
    "UserWarning": BusinessRejection,
    # Our credentials or session were refused.
    "LoginException": BackendAuthError,
    # Another transaction changed the record first: repeating later succeeds.
    "ConcurrencyException": RetryableBackendError,
    # Raised without arguments, so they arrive as an empty error list (see `classify`).
    "RateLimitException": BackendOverloaded,
    "TimeOutException": RetryableBackendError,
    "MissingDependenciesException": PermanentBackendError,
    "TrytonException": PermanentBackendError,
}


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " - ".join(str(part) for part in value if part)
    return str(value)


def classify(error: Any) -> BackendError:
    """The exception for a JSON-RPC `error` member."""
    if isinstance(error, list | tuple) and not error:
        return RetryableBackendError(
            "Tryton refused the call for now (rate limit or time-out)", backend=NAME, vendor_code=""
        )
    if not isinstance(error, list | tuple):
        return BackendProtocolError(f"unexpected Tryton error: {error!r}"[:500], backend=NAME)
    name = str(error[0])
    detail = error[1] if len(error) > 1 else ""
    kind = VENDOR_ERRORS.get(name)
    if kind is BusinessRejection:
        message = _text(
            detail[:2] if isinstance(detail, list | tuple) and name == "UserError" else detail
        )
        return BusinessRejection(
            message or name, reasons=[message or name], backend=NAME, vendor_code=name
        )
    if kind is not None:
        return kind(f"{name}: {_text(detail)}"[:500], backend=NAME, vendor_code=name)
    # Any other server exception: a model, field or method we asked for does not exist, or a
    # server fault. Not fixable by retrying the same call.
    return BackendProtocolError(
        f"Tryton server error: {name}"[:500], backend=NAME, vendor_code=name[:100]
    )
