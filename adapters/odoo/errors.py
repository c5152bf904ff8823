"""Every error Odoo 17 sends, mapped to our taxonomy.

Odoo answers a failed call with HTTP 200 and `error.data.name`, the exception's qualified
class name. `VENDOR_ERRORS` maps each class of Odoo 17's `odoo/exceptions.py` and the server
faults Odoo reports as they are; names not in the table are programming or mapping faults
(`builtins.ValueError` for an invalid field, `builtins.KeyError` for an unknown service) and
are permanent. A test fails when a name the simulator can send is not classified here.
"""

from __future__ import annotations

from typing import Any

from contracts.errors import (
    BackendAuthError,
    BackendError,
    BackendProtocolError,
    BusinessRejection,
    PermanentBackendError,
    RetryableBackendError,
)

NAME = "odoo"

VENDOR_ERRORS: dict[str, type[BackendError]] = {
    # odoo/exceptions.py (17.0)
    "odoo.exceptions.UserError": BusinessRejection,
    "odoo.exceptions.ValidationError": BusinessRejection,
    "odoo.exceptions.RedirectWarning": BusinessRejection,
    "odoo.exceptions.MissingError": BusinessRejection,
    "odoo.exceptions.AccessError": PermanentBackendError,
    "odoo.exceptions.AccessDenied": BackendAuthError,
    "odoo.exceptions.CacheMiss": PermanentBackendError,
    # A transaction lost a race or the database went away: repeating later succeeds.
    "psycopg2.OperationalError": RetryableBackendError,
    "psycopg2.errors.SerializationFailure": RetryableBackendError,
    "psycopg2.extensions.TransactionRollbackError": RetryableBackendError,
    "odoo.addons.base.models.ir_cron.CronTimeout": RetryableBackendError,
}


def classify(error: Any) -> BackendError:
    """The exception for a JSON-RPC `error` member."""
    if not isinstance(error, dict):
        return BackendProtocolError(f"unexpected Odoo error: {error!r}"[:500], backend=NAME)
    raw = error.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    name = str(data.get("name") or error.get("message") or "unknown")
    message = str(data.get("message") or error.get("message") or name)[:1000]
    kind = VENDOR_ERRORS.get(name)
    if kind is BusinessRejection:
        return BusinessRejection(message, reasons=[message], backend=NAME, vendor_code=name)
    if kind is not None:
        return kind(f"{name}: {message}"[:500], backend=NAME, vendor_code=name)
    return BackendProtocolError(
        f"Odoo server error {name}: {message}"[:500], backend=NAME, vendor_code=name[:100]
    )
