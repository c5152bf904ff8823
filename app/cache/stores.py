"""Where entries live. Embedded tier: process memory. Production: Redis, with a near-cache in
process memory in front of it, kept honest by invalidation messages on a Redis channel (and
never kept past an entry's freshness, should a message be missed).

The Redis protocol costs one round trip on a miss and one on a fill: `claim` reads the entry
and, unless it is fresh, takes the key's single-flight lock in the same script; `fill` stores
the entry, its freshness marker and its tags, and releases the lock in one script. (Scripts
touch keys they are not given, so this assumes one Redis, not a cluster.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from typing import Literal, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.cache.entry import CacheEntry, pack, unpack

log = logging.getLogger("gateway.cache")
CHANNEL = "rg:cache:invalidate"

Claim = Literal["fresh", "lock", "busy"]

# KEYS: entry, freshness marker, lock; ARGV: lock lifetime (ms).
_CLAIM = """
local value = redis.call('GET', KEYS[1])
if value and redis.call('EXISTS', KEYS[2]) == 1 then return {'fresh', value} end
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[1]) then return {'lock', value or ''} end
return {'busy', value or ''}
"""


# KEYS: entry, freshness marker, lock; ARGV: packed entry, keep (ms), fresh (ms), tag-key
# prefix, the cache key, then its tags. One command however many tags (a list page has many).
_FILL = """
local keep = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', keep)
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[2], '1', 'PX', ARGV[3]) end
for i = 6, #ARGV do
  local tag = ARGV[4] .. ARGV[i]
  redis.call('SADD', tag, ARGV[5])
  if redis.call('PTTL', tag) < keep then redis.call('PEXPIRE', tag, keep) end
end
redis.call('DEL', KEYS[3])
return 1
"""


class CacheStore(Protocol):
    def peek(self, key: str) -> CacheEntry | None:
        """The entry if this process holds it in memory (no I/O)."""
        ...

    async def get(self, key: str) -> CacheEntry | None: ...

    async def claim(self, key: str, lock_seconds: float) -> tuple[Claim, CacheEntry | None]:
        """The entry if fresh; otherwise the key's lock if free ("lock") or not ("busy"),
        with whatever older entry there is."""
        ...

    async def fill(self, key: str, entry: CacheEntry) -> None:
        """Store the entry and release the key's lock."""
        ...

    async def release(self, key: str) -> None: ...

    async def invalidate(self, tags: list[str]) -> int: ...


class MemoryCacheStore:
    def __init__(self, max_entries: int = 20_000) -> None:
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._tags: dict[str, set[str]] = {}
        self._locks: dict[str, float] = {}
        self._max = max_entries

    def peek(self, key: str) -> CacheEntry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    async def get(self, key: str) -> CacheEntry | None:
        return self.peek(key)

    async def claim(self, key: str, lock_seconds: float) -> tuple[Claim, CacheEntry | None]:
        entry = self.peek(key)
        if entry is not None and entry.fresh(time.time()):
            return "fresh", entry
        now = time.monotonic()
        if self._locks.get(key, 0) > now:
            return "busy", entry
        self._locks[key] = now + lock_seconds
        return "lock", entry

    async def fill(self, key: str, entry: CacheEntry) -> None:
        self.put(key, entry)
        self._locks.pop(key, None)

    async def release(self, key: str) -> None:
        self._locks.pop(key, None)

    def put(self, key: str, entry: CacheEntry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        for tag in entry.tags:
            self._tags.setdefault(tag, set()).add(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def invalidate(self, tags: list[str]) -> int:
        removed = 0
        for tag in tags:
            for key in self._tags.pop(tag, set()):
                removed += self._entries.pop(key, None) is not None
        return removed

    def evict(self, keys: list[str]) -> None:
        for key in keys:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
        self._tags.clear()


class RedisCacheStore:
    """Entries in Redis (expiring with their stale-if-error horizon), a freshness marker
    beside each, tag sets, and a near-cache of fresh entries in process memory."""

    def __init__(self, redis: Redis, prefix: str = "rg:c:", near_entries: int = 20_000) -> None:
        self._redis = redis
        self._prefix = prefix
        self.near = MemoryCacheStore(near_entries)
        self._claim = redis.register_script(_CLAIM)
        self._fill = redis.register_script(_FILL)
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen for invalidations from every replica."""
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="cache-invalidations")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    def _keys(self, key: str) -> list[str]:
        return [self._prefix + key, self._prefix + "fresh:" + key, self._prefix + "lock:" + key]

    def peek(self, key: str) -> CacheEntry | None:
        return self.near.peek(key)

    async def get(self, key: str) -> CacheEntry | None:
        raw = await self._redis.get(self._prefix + key)
        return self._remember(key, raw)

    async def claim(self, key: str, lock_seconds: float) -> tuple[Claim, CacheEntry | None]:
        state, raw = await self._claim(keys=self._keys(key), args=[int(lock_seconds * 1000)])
        name = state.decode() if isinstance(state, bytes) else str(state)
        claim: Claim = "fresh" if name == "fresh" else "lock" if name == "lock" else "busy"
        return claim, self._remember(key, raw)

    def _remember(self, key: str, raw: bytes | str | None) -> CacheEntry | None:
        if not raw:
            return None
        entry = unpack(raw if isinstance(raw, bytes) else raw.encode())
        if entry is not None and entry.fresh(time.time()):
            self.near.put(key, entry)
        return entry

    async def fill(self, key: str, entry: CacheEntry) -> None:
        now = time.time()
        keep_ms = max(1000, int((entry.error_until - now) * 1000))
        fresh_ms = max(0, int((entry.fresh_until - now) * 1000))
        await self._fill(
            keys=self._keys(key),
            args=[pack(entry), keep_ms, fresh_ms, self._prefix + "tag:", key, *entry.tags],
        )
        if entry.fresh(time.time()):
            self.near.put(key, entry)

    async def release(self, key: str) -> None:
        await self._redis.delete(self._keys(key)[2])

    async def invalidate(self, tags: list[str]) -> int:
        tag_keys = [self._prefix + "tag:" + tag for tag in tags]
        async with self._redis.pipeline(transaction=True) as pipe:
            for tag_key in tag_keys:
                pipe.smembers(tag_key)
            pipe.delete(*tag_keys)
            results = await pipe.execute()
        keys = sorted({member.decode() for members in results[:-1] for member in members})
        if keys:
            doomed = [k for key in keys for k in self._keys(key)[:2]]
            await self._redis.delete(*doomed)
            await self._redis.publish(CHANNEL, "\n".join(keys))
        self.near.evict(keys)
        return len(keys)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self.near.clear()  # invalidations may have been missed while away
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self.near.evict(message["data"].decode().split("\n"))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                log.warning(
                    "cache invalidation channel lost; retrying", extra={"error": str(error)}
                )
                await asyncio.sleep(1.0)
