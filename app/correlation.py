"""The correlation id of the work in progress, carried into logs, events, outbox entries and
backend calls. Set per request by the HTTP layer and per delivery by the worker."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

_current: ContextVar[str] = ContextVar("correlation_id", default="")
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def accept_correlation_id(candidate: str | None) -> str:
    """The caller's id when it is a sane token, otherwise a new one (never echo junk)."""
    if candidate and _ACCEPTABLE.match(candidate):
        return candidate
    return new_correlation_id()


def current_correlation_id() -> str:
    value = _current.get()
    if not value:
        value = new_correlation_id()
        _current.set(value)
    return value


def set_correlation_id(value: str) -> None:
    _current.set(value)
