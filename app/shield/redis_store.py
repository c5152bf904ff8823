"""The shield's state in Redis, shared by every replica: each rule of app.shield.store as one
script (atomic, on Redis's clock), so a decision is one round trip."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from app.shield.policy import ShieldPolicy
from app.shield.store import NOTHING, Grant, Returned, keys_of, seen_of

# Slots handed back with a call (app.shield.store.Returned), first thing in the script that
# carries them. KEYS: bucket, inflight, pause, want, breaker, seen; from ARGV[at]: the count of
# plain successes, their members, the count of grants never used, their members. A success is
# what `_RELEASE` does for "ok"; an unused grant what `_REFUND` does. Returns the next ARGV
# index.
_GIVE_BACK_FN = """
local function give_back(at, now, rate, burst)
  local done = tonumber(ARGV[at])
  for i = 1, done do redis.call('ZREM', KEYS[2], ARGV[at + i]) end
  if done > 0 then
    redis.call('HSET', KEYS[6], 'ok_at', now)
    redis.call('PEXPIRE', KEYS[6], 604800000)
    if redis.call('HGET', KEYS[5], 'state') ~= 'open' then redis.call('DEL', KEYS[5]) end
  end
  at = at + done + 1
  local unused = tonumber(ARGV[at])
  local back = 0
  for i = 1, unused do back = back + redis.call('ZREM', KEYS[2], ARGV[at + i]) end
  if back > 0 then
    local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or burst)
    local ts = tonumber(redis.call('HGET', KEYS[1], 'ts') or now)
    tokens = math.min(burst, tokens + (now - ts) * rate / 1000 + back)
    redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
  end
  return at + unused + 1
end
"""

# KEYS: bucket, inflight, pause, want, breaker, seen
# ARGV: rate, burst, reserve, mode, cap, lease_ms, member, then what is handed back (from
# ARGV[8]). Modes: "checkout" may take every token and, when refused, makes browsing yield
# for a moment; "continue" (the next request of an operation already under way) leaves one
# token for checkout; "browse" leaves `reserve` tokens and yields while checkout waits.
_ACQUIRE = (
    _GIVE_BACK_FN
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, burst, reserve = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
give_back(8, now, rate, burst)
local mode = ARGV[4]
local cap, lease, member = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local function refuse(reason, wait)
  if mode == 'checkout' and reason == 'rate' then redis.call('SET', KEYS[4], '1', 'PX', 300) end
  return {0, reason, math.max(1, math.floor(wait)), 0, 0}
end
local paused = redis.call('PTTL', KEYS[3])
if paused > 0 then return refuse('paused', paused) end
if mode == 'browse' and redis.call('EXISTS', KEYS[4]) == 1 then return {0, 'yield', 20, 0, 0} end
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
-- Would browsing have been granted this too? (A grant asked ahead and never used may then
-- serve the next browsing request instead of going back.)
local browse = 0
if mode == 'browse' or (tokens - 1 >= reserve and redis.call('EXISTS', KEYS[4]) == 0) then
  browse = 1
end
return {1, 'ok', 0, probe, browse}
"""
)

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


# A grant handed back unused (asked for ahead of a request that never came): its place in the
# concurrency cap freed and its token returned to the bucket, once (only while its member is
# still in flight), and a probe's turn given up. KEYS: bucket, inflight, breaker; ARGV: rate,
# burst, member, probe.
_REFUND = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZREM', KEYS[2], ARGV[3]) == 1 then
  local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
  local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or burst)
  local ts = tonumber(redis.call('HGET', KEYS[1], 'ts') or now)
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000 + 1)
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
  if ARGV[4] == '1' then redis.call('HSET', KEYS[3], 'probe', 0) end
  return 1
end
return 0
"""

# What is handed back when no acquire comes to carry it. KEYS as `_ACQUIRE`; ARGV: rate,
# burst, then what is handed back.
_GIVE_BACK = (
    _GIVE_BACK_FN
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
give_back(3, now, tonumber(ARGV[1]), tonumber(ARGV[2]))
return 1
"""
)


def _returned_args(returned: Returned) -> list[str | int]:
    return [len(returned.done), *returned.done, len(returned.unused), *returned.unused]


class RedisShieldStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)
        self._refund = redis.register_script(_REFUND)
        self._give_back = redis.register_script(_GIVE_BACK)

    async def refund(self, target: str, policy: ShieldPolicy, member: str, *, probe: bool) -> None:
        bucket, inflight, _pause, _want, breaker = keys_of(target)[:5]
        await self._refund(
            keys=[bucket, inflight, breaker],
            args=[policy.rate, policy.burst, member, 1 if probe else 0],
        )

    async def give_back(self, target: str, policy: ShieldPolicy, returned: Returned) -> None:
        await self._give_back(
            keys=keys_of(target), args=[policy.rate, policy.burst, *_returned_args(returned)]
        )

    async def acquire(
        self,
        target: str,
        policy: ShieldPolicy,
        mode: str,
        member: str,
        returned: Returned = NOTHING,
    ) -> Grant:
        lease = int((policy.timeout + 5) * 1000)
        granted, reason, wait, probe, browse = await self._acquire(
            keys=keys_of(target),
            args=[
                policy.rate,
                policy.burst,
                policy.reserve,
                mode,
                policy.concurrency,
                lease,
                member,
                *_returned_args(returned),
            ],
        )
        text = reason.decode() if isinstance(reason, bytes) else str(reason)
        return Grant(bool(granted), text, int(wait) / 1000, bool(probe), bool(browse))

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
        _bucket, inflight, paused, _want, breaker, seen = keys_of(target)
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
        bucket, inflight, pause, want, breaker, seen = keys_of(target)
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
            **seen_of(stamp("ok_at"), stamp("fail_at"), observed.get("fail_error")),
        }
