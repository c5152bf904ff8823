"""Where entries live. Embedded tier: process memory. Production: Redis, with a near-cache in
process memory in front of it, kept honest by invalidation messages on a Redis channel (and
never kept past an entry's freshness, should a message be missed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.cache.entry import CacheEntry, pack, unpack

log = logging.getLogger("gateway.cache")
CHANNEL = "rg:cache:invalidate"


class CacheStore(Protocol):
    async def get(self, key: str) -> CacheEntry | None: ...

    async def put(self, key: str, entry: CacheEntry) -> None: ...

    async def invalidate(self, tags: list[str]) -> int: ...

    async def lock(self, key: str, ttl: float) -> bool:
        """Take the single-flight lock of `key`; False when another holds it."""
        ...

    async def unlock(self, key: str) -> None: ...


class MemoryCacheStore:
    def __init__(self, max_entries: int = 20_000) -> None:
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._tags: dict[str, set[str]] = {}
        self._locks: dict[str, float] = {}
        self._max = max_entries

    async def get(self, key: str) -> CacheEntry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    async def put(self, key: str, entry: CacheEntry) -> None:
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

    async def lock(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        if self._locks.get(key, 0) > now:
            return False
        self._locks[key] = now + ttl
        return True

    async def unlock(self, key: str) -> None:
        self._locks.pop(key, None)

    def evict(self, keys: list[str]) -> None:
        for key in keys:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
        self._tags.clear()


class RedisCacheStore:
    """Entries in Redis (expiring with their stale-if-error horizon), tag sets beside them,
    and a near-cache of fresh entries in process memory."""

    def __init__(self, redis: Redis, prefix: str = "rg:c:", near_entries: int = 20_000) -> None:
        self._redis = redis
        self._prefix = prefix
        self.near = MemoryCacheStore(near_entries)
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

    async def get(self, key: str) -> CacheEntry | None:
        near = await self.near.get(key)
        if near is not None and near.fresh(time.time()):
            return near
        raw = await self._redis.get(self._prefix + key)
        entry = unpack(raw if isinstance(raw, bytes) else raw.encode()) if raw else None
        if entry is not None and entry.fresh(time.time()):
            await self.near.put(key, entry)
        return entry

    async def put(self, key: str, entry: CacheEntry) -> None:
        ttl_ms = max(1000, int((entry.error_until - time.time()) * 1000))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._prefix + key, pack(entry), px=ttl_ms)
            for tag in entry.tags:
                pipe.sadd(self._prefix + "tag:" + tag, key)
                pipe.pexpire(self._prefix + "tag:" + tag, ttl_ms, gt=True)
            await pipe.execute()
        await self.near.put(key, entry)

    async def invalidate(self, tags: list[str]) -> int:
        tag_keys = [self._prefix + "tag:" + tag for tag in tags]
        async with self._redis.pipeline(transaction=True) as pipe:
            for tag_key in tag_keys:
                pipe.smembers(tag_key)
            pipe.delete(*tag_keys)
            results = await pipe.execute()
        keys = sorted({member.decode() for members in results[:-1] for member in members})
        if keys:
            await self._redis.delete(*(self._prefix + key for key in keys))
            await self._redis.publish(CHANNEL, "\n".join(keys))
        self.near.evict(keys)
        return len(keys)

    async def lock(self, key: str, ttl: float) -> bool:
        return bool(
            await self._redis.set(self._prefix + "lock:" + key, b"1", nx=True, px=int(ttl * 1000))
        )

    async def unlock(self, key: str) -> None:
        await self._redis.delete(self._prefix + "lock:" + key)

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
