"""Shield settings per binding (the `shield` object of a binding's settings) and the call
priorities, which routes decide and clients cannot."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Literal

import msgspec

Priority = Literal["checkout", "browse"]
_priority: ContextVar[Priority] = ContextVar("shield_priority", default="browse")
_patience: ContextVar[float | None] = ContextVar("shield_patience", default=None)


class ShieldPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`rate` calls a second with bursts of `burst`, at most `concurrency` at once, each within
    `timeout` seconds. The breaker opens after `failures` failures in a row and probes again
    after `cooldown` seconds. `reserve` tokens of the bucket are for checkout only; browsing
    waits at most `browse_wait` seconds for budget, checkout up to `checkout_wait`."""

    rate: float = 100.0
    burst: int = 50
    concurrency: int = 16
    timeout: float = 10.0
    failures: int = 5
    cooldown: float = 10.0
    reserve: int = 2
    browse_wait: float = 1.0
    checkout_wait: float = 10.0


DEFAULT_POLICY = ShieldPolicy()


def policy_from(settings: dict[str, Any]) -> ShieldPolicy:
    raw = settings.get("shield")
    return msgspec.convert(raw, ShieldPolicy) if isinstance(raw, dict) else DEFAULT_POLICY


# The backends this operation (one adapter call by the gateway, with the several requests it may
# send) has already been granted a request to.
_started: ContextVar[frozenset[str] | None] = ContextVar("shield_started", default=None)


@contextlib.contextmanager
def operation() -> Iterator[None]:
    """One logical backend operation: its later requests finish what its first one began."""
    token = _started.set(frozenset())
    try:
        yield
    finally:
        _started.reset(token)


def started(target: str) -> bool:
    current = _started.get()
    return current is not None and target in current


def mark_started(target: str) -> None:
    current = _started.get()
    if current is not None:
        _started.set(current | {target})


def current_priority() -> Priority:
    return _priority.get()


def current_patience() -> float | None:
    return _patience.get()


@contextlib.contextmanager
def priority(level: Priority, *, patience: float | None = None) -> Iterator[None]:
    """Calls made inside run at `level` (the worker and checkout routes use "checkout"),
    waiting for budget at most `patience` seconds when given (a channel is waiting)."""
    token = _priority.set(level)
    patience_token = _patience.set(patience)
    try:
        yield
    finally:
        _patience.reset(patience_token)
        _priority.reset(token)
