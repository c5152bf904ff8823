"""Fixed-window counters, atomically: Redis for every replica to share one count, or process
memory for the embedded tier, with the same behaviour.

A window is `floor(now / window)`, so every replica agrees on where windows start and `t`
(seconds to reset) is the same everywhere. Counting is one Lua script (INCRBY per key): no
read-modify-write race, whatever the number of replicas; and concurrent requests of a replica
share one round trip.

When Redis cannot be reached the store falls back to counting in memory, per replica (so the
limit is at most N times the quota with N replicas), logs it, and tries Redis again after a
pause: quotas keep tenants fair, but must not take the API down with Redis. The ERP itself is
protected separately by the backend shield.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.quotas.policy import Rule

log = logging.getLogger("gateway.quotas")

# KEYS: the counter keys; ARGV: the increment of each key, then the expiry of each (seconds).
# Returns each key's new count.
_SCRIPT = """
local n = #KEYS
local counts = {}
for i = 1, n do
  local by = tonumber(ARGV[i])
  local count = redis.call('INCRBY', KEYS[i], by)
  if count == by then redis.call('EXPIRE', KEYS[i], tonumber(ARGV[n + i])) end
  counts[i] = count
end
return counts
"""


@dataclass(frozen=True, slots=True)
class Verdict:
    rule: Rule
    used: int
    reset_in: int

    @property
    def remaining(self) -> int:
        return max(0, self.rule.quota - self.used)

    @property
    def allowed(self) -> bool:
        return self.used <= self.rule.quota


def _window(rule: Rule, now: float) -> tuple[int, int]:
    index = math.floor(now / rule.window)
    reset_in = max(1, math.ceil((index + 1) * rule.window - now))
    return index, reset_in


class QuotaStore(Protocol):
    async def hit(self, rules: list[Rule]) -> list[Verdict]: ...


class MemoryQuotaStore:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._counts: dict[str, int] = {}
        self._max_keys = max_keys

    async def hit(self, rules: list[Rule]) -> list[Verdict]:
        now = time.time()
        verdicts = []
        for rule in rules:
            index, reset_in = _window(rule, now)
            key = f"{rule.key}:{rule.window}:{index}"
            self._counts[key] = used = self._counts.get(key, 0) + 1
            verdicts.append(Verdict(rule, used, reset_in))
        if len(self._counts) > self._max_keys:
            self._prune(now)
        return verdicts

    def _prune(self, now: float) -> None:
        live = {}
        for key, value in self._counts.items():
            _, window, index = key.rsplit(":", 2)
            if (int(index) + 1) * int(window) > now:
                live[key] = value
        self._counts = live


class RedisQuotaStore:
    """Counters in Redis. The hits of all requests arriving in the same event-loop turn go to
    Redis in one script call: one round trip shared by every concurrent request, and the
    counts are exactly what one-by-one increments would have given (each request gets the
    count at its place in the batch)."""

    def __init__(
        self, redis: Redis, prefix: str = "rg:q:", retry_after_failure: float = 5.0
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_SCRIPT)
        self._fallback = MemoryQuotaStore()
        self._retry_after_failure = retry_after_failure
        self._down_until = 0.0
        self._pending: list[
            tuple[list[Rule], list[tuple[int, int]], asyncio.Future[list[Verdict]]]
        ] = []
        self._flushing = False

    @property
    def degraded(self) -> bool:
        return time.monotonic() < self._down_until

    async def hit(self, rules: list[Rule]) -> list[Verdict]:
        if not rules:
            return []
        if self.degraded:
            return await self._fallback.hit(rules)
        now = time.time()
        future: asyncio.Future[list[Verdict]] = asyncio.get_running_loop().create_future()
        self._pending.append((rules, [_window(rule, now) for rule in rules], future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._flush()))
        return await future

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        self._flushing = False
        increments: dict[str, int] = {}
        expiry: dict[str, int] = {}
        positions: list[list[tuple[str, int]]] = []
        for rules, windows, _ in batch:
            mine = []
            for rule, (index, _reset) in zip(rules, windows, strict=True):
                key = f"{self._prefix}{rule.key}:{rule.window}:{index}"
                increments[key] = increments.get(key, 0) + 1
                expiry[key] = rule.window + 1
                mine.append((key, increments[key]))
            positions.append(mine)
        keys = list(increments)
        try:
            counts = await self._script(
                keys=keys, args=[increments[k] for k in keys] + [expiry[k] for k in keys]
            )
        except (RedisError, OSError) as error:
            self._down_until = time.monotonic() + self._retry_after_failure
            log.warning(
                "Redis unreachable; counting quotas in memory on this replica",
                extra={"error": str(error)},
            )
            for rules, _, future in batch:
                if not future.done():
                    future.set_result(await self._fallback.hit(rules))
            return
        totals = {key: int(count) for key, count in zip(keys, counts, strict=True)}
        for (rules, windows, future), mine in zip(batch, positions, strict=True):
            verdicts = [
                Verdict(rule, totals[key] - increments[key] + place, reset_in)
                for rule, (_, reset_in), (key, place) in zip(rules, windows, mine, strict=True)
            ]
            if not future.done():
                future.set_result(verdicts)
