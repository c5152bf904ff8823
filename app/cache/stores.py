"""Where entries live, and what a store must answer: the embedded tier's store in process
memory here; production's Redis store in `app.cache.redis_store`.

Besides entries, a store keeps per tenant an invalidation sequence and a generation, and per
key a single-flight lock and a short-lived failure marker:

- every invalidation of a tenant takes the next number of its sequence and marks each tag it
  names with that number; a fill says which number it claimed under, and is dropped when any
  of its tags was marked later (the answer was loaded before the invalidation, so it may show
  what the invalidation removed: it must not land after it). Every entry carries the tag
  `all`, so dropping `all` (a migration's cut-over or rollback, a binding change) bars every
  load of the tenant still in flight;
- the generation counts the tenant's `all` invalidations: a replica that sees it move forgets
  the tenant's backend bindings before loading (they may be the ones just replaced);
- the failure marker says the last load of a key met a backend that is down: claims answer
  from it (stale-if-error, or the 503) without calling the backend again until it expires.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal, Protocol

import msgspec

from app.cache.entry import CacheEntry

Claim = Literal["fresh", "lock", "busy", "failed"]
# Tag marks outlive any load that could still fill (loads running longer are not stored).
MARK_SECONDS = 600.0


class Failure(msgspec.Struct, frozen=True):
    """Why the last load of a key failed, as the 503 its waiters answer."""

    detail: str
    retry_after: int


_failure_encoder = msgspec.json.Encoder()
_failure_decoder = msgspec.json.Decoder(Failure)


def pack_failure(failure: Failure) -> bytes:
    return _failure_encoder.encode(failure)


def unpack_failure(raw: bytes | str) -> Failure:
    try:
        return _failure_decoder.decode(raw)
    except msgspec.DecodeError:
        return Failure(detail="the backend is unavailable", retry_after=1)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claim's answer: the entry if fresh; else the key's lock taken ("lock"), held by
    another load ("busy") or replaced by a recent failure ("failed"), with whatever older
    entry there is; and the tenant's sequence and generation at that moment."""

    state: Claim
    entry: CacheEntry | None
    seq: int
    generation: int
    failure: Failure | None = None


class CacheStore(Protocol):
    def peek(self, key: str) -> CacheEntry | None:
        """The entry if this process holds it in memory (no I/O)."""
        ...

    async def get(self, key: str) -> CacheEntry | None: ...

    async def claim(self, tenant_id: str, key: str, lock_seconds: float) -> Claimed: ...

    async def fill(self, tenant_id: str, key: str, entry: CacheEntry, seq: int) -> bool:
        """Store the entry unless one of its tags was invalidated after `seq`; release the
        key's lock (and any failure marker) either way. True if stored."""
        ...

    async def fail(self, key: str, failure: Failure, seconds: float) -> None:
        """Release the key's lock, leaving `failure` for `seconds` to whoever claims it."""
        ...

    async def release(self, key: str) -> None: ...

    async def invalidate(self, tenant_id: str, tags: list[str]) -> int:
        """Drop the tenant's entries carrying any of `tags` (tenant-prefixed), mark the tags
        against fills still in flight, and count the keys dropped."""
        ...


class Entries:
    """Entries in process memory, least recently used first out, with a tag index."""

    def __init__(self, max_entries: int) -> None:
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._tags: dict[str, set[str]] = {}
        self._max = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: str) -> CacheEntry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        for tag in entry.tags:
            self._tags.setdefault(tag, set()).add(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def drop_tags(self, tags: list[str]) -> list[str]:
        dropped = []
        for tag in tags:
            for key in self._tags.pop(tag, set()):
                if self._entries.pop(key, None) is not None:
                    dropped.append(key)
        return dropped

    def evict(self, keys: list[str]) -> None:
        for key in keys:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
        self._tags.clear()


class MemoryCacheStore:
    """The embedded tier's store: one process, so locks, markers and sequences are plain
    dictionaries with the Redis store's semantics."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self._entries = Entries(max_entries)
        self._locks: dict[str, float] = {}
        self._failures: dict[str, tuple[float, Failure]] = {}
        self._tenants: dict[str, tuple[int, int]] = {}  # tenant -> (seq, generation)
        self._marks: dict[str, tuple[int, float]] = {}  # tag -> (seq, when)

    def peek(self, key: str) -> CacheEntry | None:
        return self._entries.peek(key)

    async def get(self, key: str) -> CacheEntry | None:
        return self.peek(key)

    async def claim(self, tenant_id: str, key: str, lock_seconds: float) -> Claimed:
        seq, generation = self._tenants.get(tenant_id, (0, 0))
        entry = self.peek(key)
        if entry is not None and entry.fresh(time.time()):
            return Claimed("fresh", entry, seq, generation)
        now = time.monotonic()
        failed = self._failures.get(key)
        if failed is not None:
            if failed[0] > now:
                return Claimed("failed", entry, seq, generation, failed[1])
            del self._failures[key]
        if self._locks.get(key, 0) > now:
            return Claimed("busy", entry, seq, generation)
        self._locks[key] = now + lock_seconds
        return Claimed("lock", entry, seq, generation)

    async def fill(self, tenant_id: str, key: str, entry: CacheEntry, seq: int) -> bool:
        self._locks.pop(key, None)
        if self._tenants.get(tenant_id, (0, 0))[0] > seq and any(
            self._marks.get(tag, (0, 0.0))[0] > seq for tag in entry.tags
        ):
            return False
        self._failures.pop(key, None)
        self._entries.put(key, entry)
        return True

    async def fail(self, key: str, failure: Failure, seconds: float) -> None:
        self._locks.pop(key, None)
        now = time.monotonic()
        self._failures[key] = (now + seconds, failure)
        if len(self._failures) > 10_000:
            self._failures = {k: f for k, f in self._failures.items() if f[0] > now}

    async def release(self, key: str) -> None:
        self._locks.pop(key, None)

    async def invalidate(self, tenant_id: str, tags: list[str]) -> int:
        seq, generation = self._tenants.get(tenant_id, (0, 0))
        seq += 1
        if f"{tenant_id}:all" in tags:
            generation += 1
        self._tenants[tenant_id] = (seq, generation)
        now = time.monotonic()
        for tag in tags:
            self._marks[tag] = (seq, now)
        if len(self._marks) > 10_000:
            self._marks = {t: m for t, m in self._marks.items() if now - m[1] < MARK_SECONDS}
        return len(self._entries.drop_tags(tags))
