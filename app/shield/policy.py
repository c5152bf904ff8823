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


class ShieldPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`rate` calls a second with bursts of `burst`, at most `concurrency` at once, each within
    `timeout` seconds. The breaker opens after `failures` failures in a row and probes again
    after `cooldown` seconds. `reserve` tokens of the bucket are for checkout only; browsing
    waits at most `browse_wait` seconds for budget, checkout up to `checkout_wait`."""

    rate: float = 100.0
    burst: int = 20
    concurrency: int = 16
    timeout: float = 10.0
    failures: int = 5
    cooldown: float = 10.0
    reserve: int = 2
    browse_wait: float = 0.05
    checkout_wait: float = 10.0


DEFAULT_POLICY = ShieldPolicy()


def policy_from(settings: dict[str, Any]) -> ShieldPolicy:
    raw = settings.get("shield")
    return msgspec.convert(raw, ShieldPolicy) if isinstance(raw, dict) else DEFAULT_POLICY


def current_priority() -> Priority:
    return _priority.get()


@contextlib.contextmanager
def priority(level: Priority) -> Iterator[None]:
    """Calls made inside run at `level` (the worker and checkout routes use "checkout")."""
    token = _priority.set(level)
    try:
        yield
    finally:
        _priority.reset(token)
