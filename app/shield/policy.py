"""Shield settings per binding (the `shield` object of a binding's settings) and the call
priorities, which routes decide and clients cannot."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Annotated, Any, Literal, Protocol

import msgspec

Priority = Literal["checkout", "browse"]
_priority: ContextVar[Priority] = ContextVar("shield_priority", default="browse")
_patience: ContextVar[float | None] = ContextVar("shield_patience", default=None)


class ShieldPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`rate` calls a second with bursts of `burst`, at most `concurrency` at once, each within
    `timeout` seconds. The breaker opens after `failures` failures in a row and probes again
    after `cooldown` seconds. `reserve` tokens of the bucket are for checkout only; browsing
    waits at most `browse_wait` seconds for budget, checkout up to `checkout_wait`.

    The bounds are checked when a binding's `shield` object is decoded (an operator's input);
    a policy that could never let a call through (a rate of 0, a reserve of the whole burst)
    is refused there rather than turning every read into a 503."""

    rate: Annotated[float, msgspec.Meta(gt=0, le=1_000_000)] = 100.0
    burst: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 50
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 16
    timeout: Annotated[float, msgspec.Meta(gt=0, le=600)] = 10.0
    failures: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 5
    cooldown: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 10.0
    reserve: Annotated[int, msgspec.Meta(ge=0)] = 2
    browse_wait: Annotated[float, msgspec.Meta(ge=0, le=600)] = 1.0
    checkout_wait: Annotated[float, msgspec.Meta(ge=0, le=600)] = 10.0

    def __post_init__(self) -> None:
        if self.reserve >= self.burst:
            # Browsing may not take the last `reserve` tokens: it would never get one.
            msg = "`reserve`: must be less than burst"
            raise ValueError(msg)


DEFAULT_POLICY = ShieldPolicy()


def policy_from(settings: dict[str, Any]) -> ShieldPolicy:
    raw = settings.get("shield")
    return msgspec.convert(raw, ShieldPolicy) if isinstance(raw, dict) else DEFAULT_POLICY


class Ahead(Protocol):
    """A grant asked for ahead of an operation's next request (app.shield.service)."""

    def abandon(self) -> None: ...


class OperationState:
    """What one logical backend operation has begun: the backends it has been granted a
    request to, and per backend a grant already asked for its next request."""

    def __init__(self) -> None:
        self.started: set[str] = set()
        self.ahead: dict[str, Ahead] = {}


_operation: ContextVar[OperationState | None] = ContextVar("shield_operation", default=None)


@contextlib.contextmanager
def operation() -> Iterator[OperationState]:
    """One logical backend operation: its later requests finish what its first one began.
    A grant asked for ahead and not used by its end is handed back."""
    state = OperationState()
    token = _operation.set(state)
    try:
        yield state
    finally:
        _operation.reset(token)
        for ahead in state.ahead.values():
            ahead.abandon()
        state.ahead.clear()


def current_operation() -> OperationState | None:
    return _operation.get()


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
