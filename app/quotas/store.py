"""Fixed-window counters, atomically: Redis for every replica to share one count, or process
memory for the embedded tier, with the same behaviour.

A window is `floor(now / window)`, so every replica agrees on where windows start and `t`
(seconds to reset) is the same everywhere. A request is counted only if every rule that
applies to it (its tenant's and its client's) still has room: all are checked first, then all
are incremented, in one step. A refused request consumes nothing, so one client that keeps
hammering at its own limit does not use up its tenant's quota for the others. In Redis that
step is one Lua script, and the requests a replica receives in the same event-loop turn share
one script call, decided one after another in arrival order inside it (exactly what one call
each would have given).

When Redis cannot be reached (refused, or no answer within the client's socket timeout) the
store counts in memory, per replica (so the limit is at most N times the quota with N
replicas), logs it, and tries Redis again after a pause: quotas keep tenants fair, but must
not take the API down with Redis. The ERP itself is protected separately by the backend
shield.
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

# KEYS: the counter keys. ARGV: the expiry of each key (seconds), then runs of requests in
# arrival order, each run being requests with the same counters: its number of rules m, then m
# pairs (index into KEYS, quota), then its number of requests r. Requests are decided one
# after another: one is admitted when every one of its counters has room, and only then are
# they incremented; within a run that means the first k = min(r, room left on its tightest
# counter) are admitted and the rest refused. Returns, per run: k, then the count of each of
# its rules before the run.
_SCRIPT = """
local n = #KEYS
local counts, added = {}, {}
for i = 1, n do
  counts[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  added[i] = 0
end
local out = {}
local at = n + 1
while at <= #ARGV do
  local m = tonumber(ARGV[at])
  local k = tonumber(ARGV[at + 1 + 2 * m])
  for j = 0, m - 1 do
    local room = tonumber(ARGV[at + 2 + 2 * j]) - counts[tonumber(ARGV[at + 1 + 2 * j])]
    if room < k then k = room end
  end
  if k < 0 then k = 0 end
  out[#out + 1] = k
  for j = 0, m - 1 do
    local c = tonumber(ARGV[at + 1 + 2 * j])
    out[#out + 1] = counts[c]
    counts[c] = counts[c] + k
    added[c] = added[c] + k
  end
  at = at + 2 + 2 * m
end
for i = 1, n do
  if added[i] > 0 then
    if redis.call('INCRBY', KEYS[i], added[i]) == added[i] then
      redis.call('EXPIRE', KEYS[i], tonumber(ARGV[i]))
    end
  end
end
return out
"""


@dataclass(frozen=True, slots=True)
class Verdict:
    """One rule's state after a request: `used` requests in this window, counting this one
    when it was admitted (`counted`)."""

    rule: Rule
    used: int
    reset_in: int
    counted: bool

    @property
    def remaining(self) -> int:
        return max(0, self.rule.quota - self.used)

    @property
    def allowed(self) -> bool:
        """Whether this rule had room for the request."""
        return self.used <= self.rule.quota if self.counted else self.used < self.rule.quota


def _window(rule: Rule, now: float) -> tuple[int, int]:
    index = math.floor(now / rule.window)
    reset_in = max(1, math.ceil((index + 1) * rule.window - now))
    return index, reset_in


class QuotaStore(Protocol):
    async def hit(self, rules: list[Rule]) -> list[Verdict]:
        """Count one request against every rule if all of them have room, else none."""
        ...


class MemoryQuotaStore:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._counts: dict[str, int] = {}
        self._max_keys = max_keys

    async def hit(self, rules: list[Rule]) -> list[Verdict]:
        now = time.time()
        windows = [_window(rule, now) for rule in rules]
        keys = [
            f"{rule.key}:{rule.window}:{index}"
            for rule, (index, _) in zip(rules, windows, strict=True)
        ]
        used = [self._counts.get(key, 0) for key in keys]
        admitted = all(count < rule.quota for count, rule in zip(used, rules, strict=True))
        if admitted:
            for position, key in enumerate(keys):
                used[position] += 1
                self._counts[key] = used[position]
            if len(self._counts) > self._max_keys:
                self._prune(now)
        return [
            Verdict(rule, count, reset_in, admitted)
            for rule, count, (_, reset_in) in zip(rules, used, windows, strict=True)
        ]

    def _prune(self, now: float) -> None:
        live = {}
        for key, value in self._counts.items():
            _, window, index = key.rsplit(":", 2)
            if (int(index) + 1) * int(window) > now:
                live[key] = value
        self._counts = live


_Pending = tuple[list[Rule], list[tuple[int, int]], "asyncio.Future[list[Verdict]]"]


class RedisQuotaStore:
    """Counters in Redis. The hits of all requests arriving in the same event-loop turn go to
    Redis in one script call: one round trip shared by every concurrent request."""

    def __init__(
        self, redis: Redis, prefix: str = "rg:q:", retry_after_failure: float = 5.0
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_SCRIPT)
        self._fallback = MemoryQuotaStore()
        self._retry_after_failure = retry_after_failure
        self._down_until = 0.0
        self._pending: list[_Pending] = []
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
        runs = _runs(batch)
        keys, args = self._arguments(runs)
        try:
            answer = await self._script(keys=keys, args=args)
        except Exception as error:
            # Unreachable (RedisError, OSError), or anything unforeseen: never leave the
            # requests waiting on this flush; count them in memory meanwhile.
            self._down_until = time.monotonic() + self._retry_after_failure
            log.warning(
                "Redis unreachable; counting quotas in memory on this replica",
                extra={"error": str(error)},
                exc_info=not isinstance(error, (RedisError, OSError)),
            )
            for rules, _, future in batch:
                if not future.done():
                    future.set_result(await self._fallback.hit(rules))
            return
        except BaseException:  # cancelled (shutdown): its waiters are cancelled with it
            for _, _, future in batch:
                if not future.done():
                    future.cancel()
            raise
        _answer(runs, answer)

    def _arguments(self, runs: list[list[_Pending]]) -> tuple[list[str], list[int]]:
        """The script's KEYS and ARGV for these runs of requests."""
        index: dict[str, int] = {}
        expiry: list[int] = []
        requests: list[int] = []
        for run in runs:
            rules, windows, _ = run[0]
            requests.append(len(rules))
            for rule, (window_index, _reset) in zip(rules, windows, strict=True):
                key = f"{self._prefix}{rule.key}:{rule.window}:{window_index}"
                if key not in index:
                    index[key] = len(index) + 1  # Lua counts from 1
                    expiry.append(rule.window + 1)
                requests += [index[key], rule.quota]
            requests.append(len(run))
        return list(index), [*expiry, *requests]


def _runs(batch: list[_Pending]) -> list[list[_Pending]]:
    """Consecutive requests on the same counters (one client's burst) make one run."""
    runs: list[list[_Pending]] = []
    for pending in batch:
        if runs and _same_counters(runs[-1][0], pending):
            runs[-1].append(pending)
        else:
            runs.append([pending])
    return runs


def _answer(runs: list[list[_Pending]], answer: list[int]) -> None:
    """Each request's verdicts from the script's answer: per run, how many were admitted and
    each counter before the run."""
    at = 0
    for run in runs:
        admitted = int(answer[at])
        before = [int(count) for count in answer[at + 1 : at + 1 + len(run[0][0])]]
        at += 1 + len(before)
        for position, (rules, windows, future) in enumerate(run):
            counted = position < admitted
            added = position + 1 if counted else admitted
            if not future.done():
                future.set_result(
                    [
                        Verdict(rule, start + added, reset_in, counted)
                        for rule, start, (_, reset_in) in zip(rules, before, windows, strict=True)
                    ]
                )


def _same_counters(first: _Pending, other: _Pending) -> bool:
    """Whether two requests count on the same counters, against the same quotas."""
    if first[0] is not other[0] and first[0] != other[0]:
        return False
    return [index for index, _ in first[1]] == [index for index, _ in other[1]]
