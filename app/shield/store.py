"""Shield state: the rules, and the same rules in process memory for the embedded tier (or a
replica whose Redis is down); app.shield.redis_store keeps them in Redis for every replica.

Per backend: a token bucket (`rate`, `burst`; browsing may not take the last `reserve`
tokens), a set of calls in flight with leases (the concurrency cap; a dead replica's leases
lapse), a pause (the backend's Retry-After, for everyone), a checkout-demand flag (while
checkout is waiting, browsing yields entirely) and a circuit breaker (open after N failures in
a row, one probe at a time after the cool-down).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.shield.policy import ShieldPolicy


@dataclass(frozen=True, slots=True)
class Grant:
    granted: bool
    reason: str
    wait: float  # seconds before trying again makes sense
    probe: bool
    browse: bool = False  # granted, and browsing would have been granted it too


@dataclass(frozen=True, slots=True)
class Returned:
    """Slots a replica hands back with its next call to the store rather than in calls of
    their own: `done` ended in a plain success (as `release(outcome="ok")`), `unused` were
    granted ahead and never used (as `refund`, their tokens go back too). Never a probe's."""

    done: tuple[str, ...] = ()
    unused: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.done or self.unused)


NOTHING = Returned()


class ShieldStore(Protocol):
    async def acquire(
        self,
        target: str,
        policy: ShieldPolicy,
        mode: str,
        member: str,
        returned: Returned = NOTHING,
    ) -> Grant:
        """Hand `returned` back, then decide the grant, in one step."""
        ...

    async def give_back(self, target: str, policy: ShieldPolicy, returned: Returned) -> None: ...

    async def release(
        self,
        target: str,
        policy: ShieldPolicy,
        member: str,
        *,
        outcome: str,
        probe: bool,
        pause: float,
        error: str = "",
    ) -> None: ...

    async def refund(
        self, target: str, policy: ShieldPolicy, member: str, *, probe: bool
    ) -> None: ...

    async def state(self, target: str) -> dict[str, Any]: ...


def keys_of(target: str) -> list[str]:
    base = f"rg:s:{target}:"
    return [base + name for name in ("bucket", "inflight", "pause", "want", "breaker", "seen")]


def seen_of(ok_at: float | None, fail_at: float | None, fail_error: str | None) -> dict[str, Any]:
    """The last answer and the last failure (Unix seconds, error class) as `state` reports
    them: what the gateway knows of a backend's health without asking it."""
    return {
        "last_success_at": ok_at,
        "last_failure_at": fail_at,
        "last_failure": fail_error if fail_at is not None else None,
    }


@dataclass
class _Local:
    tokens: float | None = None
    stamp: float = 0.0
    inflight: dict[str, float] = field(default_factory=dict)
    paused_until: float = 0.0
    wanted_until: float = 0.0
    state: str = "closed"
    failures: int = 0
    reopen_at: float = 0.0
    probe_until: float = 0.0
    ok_at: float | None = None  # wall clock, as the Redis store reports it
    fail_at: float | None = None
    fail_error: str | None = None


class MemoryShieldStore:
    """The same rules for one process (embedded tier, or a replica whose Redis is down)."""

    def __init__(self) -> None:
        self._targets: dict[str, _Local] = {}

    async def give_back(self, target: str, policy: ShieldPolicy, returned: Returned) -> None:
        for done in returned.done:
            await self.release(target, policy, done, outcome="ok", probe=False, pause=0.0)
        for unused in returned.unused:
            await self.refund(target, policy, unused, probe=False)

    async def acquire(  # noqa: PLR0911 - one return per rule, as in the Redis script
        self,
        target: str,
        policy: ShieldPolicy,
        mode: str,
        member: str,
        returned: Returned = NOTHING,
    ) -> Grant:
        if returned:
            await self.give_back(target, policy, returned)
        s = self._targets.setdefault(target, _Local())
        now = time.monotonic()

        def refuse(reason: str, wait: float) -> Grant:
            if mode == "checkout" and reason == "rate":
                s.wanted_until = now + 0.3
            return Grant(False, reason, max(0.001, wait), False)

        if s.paused_until > now:
            return refuse("paused", s.paused_until - now)
        if mode == "browse" and s.wanted_until > now:
            return Grant(False, "yield", 0.02, False)
        probe = False
        if s.state == "open":
            if now < s.reopen_at:
                return refuse("open", s.reopen_at - now)
            if s.probe_until > now:
                return refuse("open", s.probe_until - now)
            probe = True
        s.inflight = {m: until for m, until in s.inflight.items() if until > now}
        if len(s.inflight) >= policy.concurrency:
            return refuse("busy", 0.02)
        if s.tokens is None:
            tokens = float(policy.burst)
        else:
            tokens = min(float(policy.burst), s.tokens + (now - s.stamp) * policy.rate)
        floor = (
            policy.reserve
            if mode == "browse"
            else min(1, policy.reserve)
            if mode == "continue"
            else 0
        )
        s.stamp = now
        if tokens - 1 < floor:
            s.tokens = tokens
            return refuse("rate", min((floor + 1 - tokens) / policy.rate, 1 / policy.rate))
        s.tokens = tokens - 1
        s.inflight[member] = now + policy.timeout + 5
        if probe:
            s.probe_until = now + policy.timeout + 5
        browse = mode == "browse" or (tokens - 1 >= policy.reserve and s.wanted_until <= now)
        return Grant(True, "ok", 0.0, probe, browse)

    async def refund(self, target: str, policy: ShieldPolicy, member: str, *, probe: bool) -> None:
        s = self._targets.setdefault(target, _Local())
        if s.inflight.pop(member, None) is None:
            return
        now = time.monotonic()
        current = float(policy.burst) if s.tokens is None else s.tokens
        s.tokens = min(float(policy.burst), current + (now - s.stamp) * policy.rate + 1)
        s.stamp = now
        if probe:
            s.probe_until = 0.0

    async def release(
        self,
        target: str,
        policy: ShieldPolicy,
        member: str,
        *,
        outcome: str,
        probe: bool,
        pause: float,
        error: str = "",
    ) -> None:
        s = self._targets.setdefault(target, _Local())
        now = time.monotonic()
        s.inflight.pop(member, None)
        if outcome == "fail":
            s.fail_at, s.fail_error = time.time(), error[:100]
        else:
            s.ok_at = time.time()
        if outcome == "ok" and (probe or s.state != "open"):
            s.state, s.failures, s.probe_until = "closed", 0, 0.0
        elif outcome == "fail":
            s.failures += 1
            if probe or s.failures >= policy.failures:
                s.state, s.reopen_at, s.probe_until = "open", now + policy.cooldown, 0.0
        if pause > 0:
            s.paused_until = max(s.paused_until, now + pause)

    async def state(self, target: str) -> dict[str, Any]:
        s = self._targets.get(target, _Local())
        now = time.monotonic()
        return {
            "breaker": s.state,
            "failures": s.failures,
            "in_flight": sum(1 for until in s.inflight.values() if until > now),
            "tokens": s.tokens,
            "paused_for": max(0.0, s.paused_until - now),
            "checkout_waiting": s.wanted_until > now,
            **seen_of(s.ok_at, s.fail_at, s.fail_error),
        }
