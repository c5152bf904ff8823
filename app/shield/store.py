"""Shield state shared by every replica: Redis scripts (atomic, on Redis's clock) or the same
rules in process memory for the embedded tier. A decision is one round trip.

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

from redis.asyncio import Redis

from app.shield.policy import ShieldPolicy

# KEYS: bucket, inflight, pause, want, breaker
# ARGV: rate, burst, reserve, mode, cap, lease_ms, member. Modes: "checkout" may take every
# token and, when refused, makes browsing yield for a moment; "continue" (the next request of
# an operation already under way) leaves one token for checkout; "browse" leaves `reserve`
# tokens and yields while checkout waits.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, burst, reserve = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local mode = ARGV[4]
local cap, lease, member = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local function refuse(reason, wait)
  if mode == 'checkout' and reason == 'rate' then redis.call('SET', KEYS[4], '1', 'PX', 300) end
  return {0, reason, math.max(1, math.floor(wait)), 0}
end
local paused = redis.call('PTTL', KEYS[3])
if paused > 0 then return refuse('paused', paused) end
if mode == 'browse' and redis.call('EXISTS', KEYS[4]) == 1 then return {0, 'yield', 20, 0} end
local probe = 0
if redis.call('HGET', KEYS[5], 'state') == 'open' then
  local reopen = tonumber(redis.call('HGET', KEYS[5], 'until') or '0')
  if now < reopen then return refuse('open', reopen - now) end
  local busy = tonumber(redis.call('HGET', KEYS[5], 'probe') or '0')
  if busy > now then return refuse('open', busy - now) end
  probe = 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= cap then return refuse('busy', 20) end
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or burst)
local ts = tonumber(redis.call('HGET', KEYS[1], 'ts') or now)
tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
local floor = 0
if mode == 'browse' then floor = reserve end
if mode == 'continue' then floor = math.min(1, reserve) end
if tokens - 1 < floor then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
  -- Try again when the next token arrives: waiting for a full refill would let the bucket
  -- overflow while every waiter sleeps, and the budget would go unused.
  return refuse('rate', math.min((floor + 1 - tokens) * 1000 / rate, 1000 / rate))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'ts', now)
redis.call('PEXPIRE', KEYS[1], 600000)
redis.call('ZADD', KEYS[2], now + lease, member)
redis.call('PEXPIRE', KEYS[2], lease + 600000)
if probe == 1 then redis.call('HSET', KEYS[5], 'probe', now + lease) end
return {1, 'ok', 0, probe}
"""

# KEYS: inflight, pause, breaker, seen; ARGV: member, outcome (ok|fail|neutral), probe,
# pause_ms, failures threshold, cooldown_ms, error class. `seen` keeps the last answer and the
# last failure (Unix ms, error class) for readiness details, a week at most.
_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[1], ARGV[1])
local outcome, probe = ARGV[2], ARGV[3] == '1'
if outcome == 'fail' then
  redis.call('HSET', KEYS[4], 'fail_at', now, 'fail_error', ARGV[7])
else
  redis.call('HSET', KEYS[4], 'ok_at', now)
end
redis.call('PEXPIRE', KEYS[4], 604800000)
if outcome == 'ok' then
  if probe or redis.call('HGET', KEYS[3], 'state') ~= 'open' then redis.call('DEL', KEYS[3]) end
elseif outcome == 'fail' then
  local failures = redis.call('HINCRBY', KEYS[3], 'failures', 1)
  if probe or failures >= tonumber(ARGV[5]) then
    redis.call('HSET', KEYS[3], 'state', 'open', 'until', now + tonumber(ARGV[6]), 'probe', 0)
  end
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[6]) + 600000)
end
if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[2], '1', 'PX', tonumber(ARGV[4])) end
return 1
"""


@dataclass(frozen=True, slots=True)
class Grant:
    granted: bool
    reason: str
    wait: float  # seconds before trying again makes sense
    probe: bool


class ShieldStore(Protocol):
    async def acquire(self, target: str, policy: ShieldPolicy, mode: str, member: str) -> Grant: ...

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

    async def state(self, target: str) -> dict[str, Any]: ...


def _keys(target: str) -> list[str]:
    base = f"rg:s:{target}:"
    return [base + name for name in ("bucket", "inflight", "pause", "want", "breaker", "seen")]


def _seen(ok_at: float | None, fail_at: float | None, fail_error: str | None) -> dict[str, Any]:
    """The last answer and the last failure (Unix seconds, error class) as `state` reports
    them: what the gateway knows of a backend's health without asking it."""
    return {
        "last_success_at": ok_at,
        "last_failure_at": fail_at,
        "last_failure": fail_error if fail_at is not None else None,
    }


class RedisShieldStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self, target: str, policy: ShieldPolicy, mode: str, member: str) -> Grant:
        lease = int((policy.timeout + 5) * 1000)
        granted, reason, wait, probe = await self._acquire(
            keys=_keys(target)[:5],
            args=[
                policy.rate,
                policy.burst,
                policy.reserve,
                mode,
                policy.concurrency,
                lease,
                member,
            ],
        )
        text = reason.decode() if isinstance(reason, bytes) else str(reason)
        return Grant(bool(granted), text, int(wait) / 1000, bool(probe))

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
        _bucket, inflight, paused, _want, breaker, seen = _keys(target)
        await self._release(
            keys=[inflight, paused, breaker, seen],
            args=[
                member,
                outcome,
                1 if probe else 0,
                int(pause * 1000),
                policy.failures,
                int(policy.cooldown * 1000),
                error[:100],
            ],
        )

    async def state(self, target: str) -> dict[str, Any]:
        bucket, inflight, pause, want, breaker, seen = _keys(target)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(bucket)
            pipe.zcard(inflight)
            pipe.pttl(pause)
            pipe.exists(want)
            pipe.hgetall(breaker)
            pipe.hgetall(seen)
            tokens, in_flight, paused, wanted, breaker_state, last = await pipe.execute()
        decoded = {k.decode(): v.decode() for k, v in breaker_state.items()}
        observed = {k.decode(): v.decode() for k, v in last.items()}

        def stamp(name: str) -> float | None:
            return int(observed[name]) / 1000 if name in observed else None

        return {
            "breaker": decoded.get("state", "closed"),
            "failures": int(decoded.get("failures", 0)),
            "in_flight": int(in_flight),
            "tokens": float(tokens.get(b"tokens", b"nan")) if tokens else None,
            "paused_for": max(0, int(paused)) / 1000 if paused and paused > 0 else 0.0,
            "checkout_waiting": bool(wanted),
            **_seen(stamp("ok_at"), stamp("fail_at"), observed.get("fail_error")),
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

    async def acquire(  # noqa: PLR0911 - one return per rule, as in the Redis script
        self, target: str, policy: ShieldPolicy, mode: str, member: str
    ) -> Grant:
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
        return Grant(True, "ok", 0.0, probe)

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
            **_seen(s.ok_at, s.fail_at, s.fail_error),
        }
