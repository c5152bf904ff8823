"""Fixed-window counters, atomically: Redis for every replica to share one count, or process
memory for the embedded tier, with the same behaviour.

A window is `floor(now / window)`, so every replica agrees on where windows start and `t`
(seconds to reset) is the same everywhere. All of a request's rules are counted in one Redis
round trip (one Lua script): no read-modify-write race, whatever the number of replicas.

When Redis cannot be reached the store falls back to counting in memory, per replica (so the
limit is at most N times the quota with N replicas), logs it, and tries Redis again after a
pause: quotas keep tenants fair, but must not take the API down with Redis. The ERP itself is
protected separately by the backend shield.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.quotas.policy import Rule

log = logging.getLogger("gateway.quotas")

# KEYS: one counter key per rule; ARGV: window length per rule (seconds), then the window index
# per rule. Returns the new count of each counter.
_SCRIPT = """
local counts = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, tonumber(ARGV[i]) + 1) end
  counts[i] = n
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
    def __init__(
        self, redis: Redis, prefix: str = "rg:q:", retry_after_failure: float = 5.0
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_SCRIPT)
        self._fallback = MemoryQuotaStore()
        self._retry_after_failure = retry_after_failure
        self._down_until = 0.0

    @property
    def degraded(self) -> bool:
        return time.monotonic() < self._down_until

    async def hit(self, rules: list[Rule]) -> list[Verdict]:
        if not rules:
            return []
        if self.degraded:
            return await self._fallback.hit(rules)
        now = time.time()
        windows = [_window(rule, now) for rule in rules]
        keys = [
            f"{self._prefix}{rule.key}:{rule.window}:{index}"
            for rule, (index, _) in zip(rules, windows, strict=True)
        ]
        try:
            counts = await self._script(keys=keys, args=[rule.window for rule in rules])
        except (RedisError, OSError) as error:
            self._down_until = time.monotonic() + self._retry_after_failure
            log.warning(
                "Redis unreachable; counting quotas in memory on this replica",
                extra={"error": str(error)},
            )
            return await self._fallback.hit(rules)
        return [
            Verdict(rule, int(count), reset_in)
            for rule, count, (_, reset_in) in zip(rules, counts, windows, strict=True)
        ]
